//! End-to-end: the journal, `openqq replay` and the swap gate (issue 18).

use crate::support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use openqq::config::{Config, JournalSection, ScriptEntry};
use serde_json::{Value, json};
use support::{TestGateway, bot, script, test_config, wait};

const WAIT: Duration = Duration::from_secs(30);

/// A fresh directory for one test (scripts, journal).
fn fresh_dir(test: &str) -> PathBuf {
    let dir =
        support::workspace().join(format!("target/replay-tests/{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("test dir");
    dir
}

/// Replaces `to` atomically (write aside, rename), as build tools do.
fn install(from: &Path, to: &Path) {
    let tmp = to.with_extension("tmp");
    std::fs::copy(from, &tmp).expect("copy");
    std::fs::rename(&tmp, to).expect("rename");
}

fn gated(path: &Path, gate: &str) -> ScriptEntry {
    ScriptEntry {
        path: path.to_path_buf(),
        gate: Some(gate.parse().expect("gate")),
        ..Default::default()
    }
}

fn config(dir: &Path, journal: &Path, max: usize, entries: Vec<ScriptEntry>) -> Config {
    Config {
        scripts: entries,
        cache_dir: Some(support::workspace().join("target/test-cwasm-cache")),
        journal: JournalSection {
            path: Some(journal.to_path_buf()),
            max_messages: max,
            ..JournalSection::default()
        },
        data_dir: Some(dir.join("data")),
        ..test_config()
    }
}

/// The journal's lines, once one of them holds `content`.
async fn journaled(journal: &Path, content: &str) -> Vec<Value> {
    let needle = format!("\"content\":{}", json!(content));
    wait::poll(&format!("{content:?} in the journal"), WAIT, || async {
        let text = std::fs::read_to_string(journal).ok()?;
        text.contains(&needle).then(|| {
            text.lines()
                .map(|l| serde_json::from_str(l).expect("a JSON line"))
                .collect()
        })
    })
    .await
}

fn friend(content: &str) -> Value {
    json!({"type": "message", "sender_qq": 123456, "content": content})
}

fn group(content: &str) -> Value {
    json!({"type": "group_message", "sender_qq": 888888, "gnumber": 552603, "content": content})
}

/// Waits for the account's reply `want` after `after`.
async fn replied(gw: &TestGateway, after: u64, want: &str) {
    gw.sent_until(after, WAIT, |s| s.iter().any(|r| r["content"] == want))
        .await;
}

/// The rejection of `name` in `/admin/scripts`, once there is one.
async fn rejection_of(gw: &TestGateway, name: &str) -> String {
    wait::poll(&format!("a rejection of {name}"), WAIT, || async {
        let admin = gw.admin_scripts().await;
        admin["rejected"].as_array().and_then(|r| {
            r.iter()
                .find(|r| r["name"] == name)
                .and_then(|r| r["reason"].as_str().map(str::to_string))
        })
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_that_traps_on_a_journaled_message_is_rejected_and_the_old_one_keeps_serving() {
    let dir = fresh_dir("trap");
    let journal = dir.join("journal.jsonl");
    support::logs::capture();
    let live = dir.join("trapgate.wasm");
    install(&bot("marker-v1"), &live);
    let gw = TestGateway::with_config(config(&dir, &journal, 100, vec![gated(&live, "replay:50")]))
        .await;
    gw.receive(group("/trap")).await;
    gw.receive(friend("hello")).await;
    replied(&gw, 0, "v1:hello").await;
    journaled(&journal, "hello").await;

    // misbehave panics on `/trap`, which the journal holds.
    install(&bot("misbehave"), &live);
    let r = gw.reload_scripts().await;
    assert!(r["swapped"].as_array().is_some_and(|s| s.is_empty()), "{r}");
    let reason = rejection_of(&gw, "trapgate").await;
    assert!(
        reason.contains("replay gate")
            && reason.contains("replay:50")
            && reason.contains("\"/trap\"")
            && reason.contains("trap:")
            && reason.contains("group:552603"),
        "{reason}"
    );
    assert_eq!(
        script(&gw.admin_scripts().await, "trapgate")["generation"],
        0
    );
    support::logs::line_with(&[
        "trapgate: cannot load (replay gate)",
        "\"/trap\"",
        "keeps serving",
    ])
    .await;

    // The old version answers, and nothing the gate replayed was sent.
    let seq = gw.last_seq().await;
    gw.receive(friend("still")).await;
    replied(&gw, seq, "v1:still").await;
    let sent = gw.sent(0).await;
    assert_eq!(
        sent.iter().filter(|s| s["content"] == "v1:/trap").count(),
        1,
        "{sent:#?}"
    );
    gw.gateway.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wording_change_passes_unless_the_gate_asks_for_the_same_decisions() {
    let dir = fresh_dir("wording");
    let journal = dir.join("journal.jsonl");
    let loose = dir.join("loose.wasm");
    let strict = dir.join("strict.wasm");
    install(&bot("marker-v1"), &loose);
    install(&bot("marker-v1"), &strict);
    let gw = TestGateway::with_config(config(
        &dir,
        &journal,
        100,
        vec![gated(&loose, "replay:50"), gated(&strict, "replay:50:same")],
    ))
    .await;
    gw.receive(friend("ping")).await;
    gw.receive(group("hi all")).await;
    replied(&gw, 0, "v1:hi all").await;
    journaled(&journal, "hi all").await;

    install(&bot("marker-v2"), &loose);
    install(&bot("marker-v2"), &strict);
    gw.reload_scripts().await;
    // `loose` takes every message first: its new wording answers.
    let seq = gw.last_seq().await;
    gw.receive(friend("after")).await;
    replied(&gw, seq, "v2:after").await;
    let admin = gw.admin_scripts().await;
    assert!(
        script(&admin, "loose")["generation"].as_u64() >= Some(1),
        "{admin}"
    );
    assert_eq!(script(&admin, "strict")["generation"], 0, "{admin}");
    let reason = rejection_of(&gw, "strict").await;
    assert!(
        reason.contains("replay:50:same")
            && reason.contains("2 of 2")
            && reason.contains(r#"#"#)
            && reason.contains(r#""ping": reply "v1:ping" → reply "v2:ping""#),
        "{reason}"
    );
    assert!(
        !admin["rejected"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["name"] == "loose")),
        "{admin}"
    );
    gw.gateway.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journal_keeps_the_newest_max_messages() {
    let dir = fresh_dir("bound");
    let journal = dir.join("journal.jsonl");
    let gw = TestGateway::with_config(config(&dir, &journal, 5, vec![])).await;
    for i in 0..8 {
        gw.receive(friend(&format!("m{i}"))).await;
    }
    let lines = journaled(&journal, "m7").await;
    let contents: Vec<&str> = lines
        .iter()
        .map(|l| l["message"]["content"].as_str().expect("content"))
        .collect();
    assert_eq!(contents, ["m3", "m4", "m5", "m6", "m7"]);
    // A line is the message as the bots see it.
    let last = &lines[4];
    assert_eq!(last["message"]["kind"], "friend", "{last}");
    assert_eq!(last["message"]["sender"]["qq"], 123456, "{last}");
    assert!(last["at"].as_u64().is_some(), "{last}");
    gw.gateway.stop().await;

    // Off by default: a gateway without [journal] writes none.
    assert!(test_config().journal.path.is_none());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `openqq replay` with `args`: (exit code, stdout, stderr).
fn replay(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_openqq"))
        .arg("replay")
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run openqq replay");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_prints_decisions_and_differences_and_exits_by_what_failed() {
    let dir = fresh_dir("cli");
    let journal = dir.join("journal.jsonl");
    let gw = TestGateway::with_config(config(&dir, &journal, 100, vec![])).await;
    for m in ["/ok", "hello", "/trap", "/loop"] {
        gw.receive(friend(m)).await;
    }
    journaled(&journal, "/loop").await;
    gw.gateway.stop().await;
    let all = std::fs::read_to_string(&journal).expect("journal");
    let only = |needle: &str, name: &str| {
        let p = dir.join(name);
        let lines: Vec<&str> = all.lines().filter(|l| l.contains(needle)).collect();
        std::fs::write(&p, lines.join("\n") + "\n").expect("write");
        p.display().to_string()
    };
    let traps = only("/trap", "traps.jsonl");
    let loops = only("/loop", "loops.jsonl");
    let calm = dir.join("calm.jsonl");
    std::fs::write(
        &calm,
        all.lines()
            .filter(|l| !l.contains("/trap") && !l.contains("/loop"))
            .collect::<Vec<_>>()
            .join("\n"),
    )
    .expect("write");
    let calm = calm.display().to_string();
    let conf = dir.join("openqq.toml");
    std::fs::write(&conf, "[limits]\ntimeout_ms = 200\n").expect("config");
    let conf = conf.display().to_string();
    let all = journal.display().to_string();
    let misbehave = bot("misbehave").display().to_string();
    let v1 = bot("marker-v1").display().to_string();
    let v2 = bot("marker-v2").display().to_string();

    // One line per message: id, chat, content, decision.
    let (code, out, err) = replay(&[&misbehave, "--journal", &calm]);
    assert_eq!(code, 0, "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with('#') && lines[0].ends_with(r#"friend:123456 "/ok" → reply "ok""#),
        "{out}"
    );
    assert!(lines[1].ends_with(r#""hello" → pass"#), "{out}");
    assert!(err.contains("replayed 2 journaled messages"), "{err}");

    // A trap: 3; a timeout: 4; both: 5.
    let (code, out, err) = replay(&[&misbehave, "--journal", &traps]);
    assert_eq!(code, 3, "{out}{err}");
    assert!(
        out.contains(r#""/trap" → trap: "#) && out.contains("misbehave: trap requested"),
        "{out}"
    );
    let (code, out, err) = replay(&[&misbehave, "--journal", &loops, "--config", &conf]);
    assert_eq!(code, 4, "{out}{err}");
    assert!(
        out.contains(r#""/loop" → timeout: "#) && out.contains("200 ms"),
        "{out}"
    );
    let (code, out, err) = replay(&[&misbehave, "--journal", &all, "--config", &conf]);
    assert_eq!(code, 5, "{out}{err}");
    assert_eq!(out.lines().count(), 4, "{out}");
    assert!(err.contains("1 trapped, 1 timed out"), "{err}");

    // --against: only the differences, old → new; none when the same.
    let (code, out, err) = replay(&[&v2, "--journal", &calm, "--against", &v1]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(r#""/ok": reply "v1:/ok" → reply "v2:/ok""#) && out.lines().count() == 2,
        "{out}"
    );
    assert!(err.contains("2 decided differently"), "{err}");
    let (code, out, err) = replay(&[&v1, "--journal", &calm, "--against", &v1]);
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    // The old version's traps are shown but are not the new one's.
    let (code, out, err) = replay(&[&v1, "--journal", &traps, "--against", &misbehave]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(r#"trap: "#) && out.contains(r#"→ reply "v1:/trap""#),
        "{out}"
    );

    // A journal that cannot be read: 1, and why.
    let (code, _, err) = replay(&[&v1, "--journal", "/nonexistent/journal.jsonl"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cannot read the journal"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
