//! End-to-end: replacing a running bot without losing a message (issue 5).

use crate::support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use openqq::config::{Config, ScriptEntry};
use serde_json::{Value, json};
use support::receiver::Receiver;
use support::{TestGateway, bot, logs, script, test_config, wait};

const WAIT: Duration = Duration::from_secs(30);

/// A fresh scripts directory for one test.
fn scripts_dir(test: &str) -> PathBuf {
    let dir = support::workspace().join(format!(
        "target/hot-swap-tests/{test}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scripts dir");
    dir
}

/// Replaces `to` atomically (write aside, rename), as build tools do.
fn install(from: &Path, to: &Path) {
    let tmp = to.with_extension("tmp");
    std::fs::copy(from, &tmp).expect("copy");
    std::fs::rename(&tmp, to).expect("rename");
}

/// Writes `bytes` to `to` whole but keeps the file open (until the handle is
/// dropped): on Linux the watcher acts on the close, so an explicit reload
/// meanwhile is the one that finds the change.
fn write_unclosed(to: &Path, bytes: &[u8]) -> std::fs::File {
    use std::io::Write;
    let mut file = std::fs::File::create(to).expect("create");
    file.write_all(bytes).expect("write");
    file.flush().expect("flush");
    file
}

fn config(dir: &Path, entries: Vec<ScriptEntry>, post_api: Option<&str>) -> Config {
    Config {
        scripts_dir: Some(dir.to_path_buf()),
        scripts: entries,
        post_api: post_api.map(str::to_string),
        cache_dir: Some(support::workspace().join("target/test-cwasm-cache")),
        ..test_config()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_messages_through_twenty_swaps_lose_nothing() {
    let dir = scripts_dir("stream");
    let live = dir.join("marker.wasm");
    install(&bot("marker-v1"), &live);
    let gw = Arc::new(TestGateway::with_config(config(&dir, vec![], None)).await);
    assert_eq!(script(&gw.admin_scripts().await, "marker")["generation"], 0);

    // Several thousand messages over five chats, injected while swapping.
    const MESSAGES: usize = 3000;
    let chats = [
        json!({"type": "message", "sender_qq": 123456}),
        json!({"type": "message", "sender_qq": 7891234}),
        json!({"type": "group_message", "sender_qq": 888888, "gnumber": 552603}),
        json!({"type": "group_message", "sender_qq": 999999, "gnumber": 552603}),
        json!({"type": "group_message", "sender_qq": 888888, "gnumber": 661234}),
    ];
    let injector = {
        let gw = gw.clone();
        tokio::spawn(async move {
            for i in 0..MESSAGES {
                let mut m = chats[i % chats.len()].clone();
                m["content"] = json!(format!("m{i}"));
                gw.receive(m).await;
            }
        })
    };
    let mut swaps = 0;
    let mut version = 1;
    while !injector.is_finished() || swaps < 20 {
        version = 3 - version;
        install(&bot(&format!("marker-v{version}")), &live);
        let r = gw.reload_scripts().await;
        // The watcher may have swapped it first; either way it is live now.
        assert_eq!(r["code"], 0, "{r}");
        swaps += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    injector.await.expect("injector");
    let generation = script(&gw.admin_scripts().await, "marker")["generation"]
        .as_u64()
        .expect("generation");
    assert!(generation >= 20, "only {generation} swaps happened");

    // Every message answered exactly once, by one version or the other.
    let sent = gw.sent_until(0, WAIT, |s| s.len() >= MESSAGES).await;
    let mut seen = vec![0u32; MESSAGES];
    for r in &sent {
        let c = r["content"].as_str().expect("content");
        let (tag, body) = c.split_once(':').expect("tagged reply");
        assert!(tag == "v1" || tag == "v2", "{c}");
        let i: usize = body.trim_start_matches('m').parse().expect("index");
        seen[i] += 1;
    }
    let lost: Vec<usize> = (0..MESSAGES).filter(|&i| seen[i] == 0).collect();
    let doubled: Vec<usize> = (0..MESSAGES).filter(|&i| seen[i] > 1).collect();
    assert!(
        lost.is_empty() && doubled.is_empty(),
        "lost {lost:?}, doubled {doubled:?}"
    );
    assert_eq!(sent.len(), MESSAGES);

    // After the last swap only the new behaviour appears.
    let seq = gw.last_seq().await;
    for i in 0..20 {
        gw.receive(json!({"type": "message", "sender_qq": 123456, "content": format!("after{i}")}))
            .await;
    }
    let after = gw.sent_until(seq, WAIT, |s| s.len() >= 20).await;
    let tag = format!("v{version}:");
    assert!(
        after
            .iter()
            .all(|r| r["content"].as_str().is_some_and(|c| c.starts_with(&tag))),
        "{after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watcher_swaps_a_changed_file_and_unloads_a_removed_one() {
    let dir = scripts_dir("watch");
    let live = dir.join("marker.wasm");
    install(&bot("marker-v1"), &live);
    let gw = TestGateway::with_config(config(&dir, vec![], None)).await;
    let ask =
        |content: &'static str| json!({"type": "message", "sender_qq": 123456, "content": content});

    install(&bot("marker-v2"), &live);
    // No reload call: the file watcher must notice.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let seq = gw.last_seq().await;
        gw.receive(ask("x")).await;
        let sent = gw.sent_until(seq, WAIT, |s| !s.is_empty()).await;
        if sent[0]["content"] == "v2:x" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the watcher never swapped in v2"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A new file is loaded; a removed one is unloaded.
    install(&bot("echo"), &dir.join("echo.wasm"));
    std::fs::remove_file(&live).expect("remove");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let a = gw.admin_scripts().await;
        let names: Vec<&str> = a["scripts"]
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|s| s["name"].as_str())
            .collect();
        if names == ["echo"] {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "scripts now {names:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seq = gw.last_seq().await;
    gw.receive(ask("ping")).await;
    assert_eq!(
        gw.sent_until(seq, WAIT, |s| !s.is_empty()).await[0]["content"],
        "pong"
    );
}

/// Asks once and checks that marker v1 answered.
async fn still_v1(gw: &TestGateway) {
    let seq = gw.last_seq().await;
    gw.receive(json!({"type": "message", "sender_qq": 123456, "content": "check"}))
        .await;
    let sent = gw.sent_until(seq, WAIT, |s| !s.is_empty()).await;
    assert_eq!(sent[0]["content"], "v1:check");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_version_never_replaces_a_working_one() {
    logs::capture();
    let dir = scripts_dir("broken");
    let live = dir.join("marker.wasm");
    install(&bot("marker-v1"), &live);
    // The entry gives "marker" a config under which misbehave's init traps.
    let entry = ScriptEntry {
        path: live.clone(),
        name: Some("marker".into()),
        config: toml::from_str("trap_init = true").expect("TOML"),
        timeout_ms: None,
        wall_ms: None,
        memory_mb: None,
        instances: None,
        kv_max_total_bytes: None,
        ..Default::default()
    };
    let mut rx = Receiver::start().await;
    let gw = TestGateway::with_config(config(&dir, vec![entry], Some(&rx.url))).await;

    let v1 = std::fs::read(bot("marker-v1")).expect("read");
    let cases: [(&str, Vec<u8>, &str); 3] = [
        (
            "truncated",
            v1[..v1.len() / 2].to_vec(),
            "cannot load (compile)",
        ),
        (
            "wrong world",
            std::fs::read(bot("foreign")).expect("read"),
            "cannot load (link)",
        ),
        (
            "traps in init",
            std::fs::read(bot("misbehave")).expect("read"),
            "misbehave: init trapped",
        ),
    ];
    for (what, bytes, why) in cases {
        let tmp = dir.join("incoming.tmp");
        std::fs::write(&tmp, &bytes).expect("write");
        std::fs::rename(&tmp, &live).expect("rename");
        let r = gw.reload_scripts().await;
        assert_eq!(r["code"], 1, "{what}: {r}");
        let rejected = &r["rejected"][0];
        assert_eq!(rejected["name"], "marker", "{what}");
        assert!(
            rejected["reason"].as_str().is_some_and(|t| t.contains(why)),
            "{what}: {rejected}"
        );
        still_v1(&gw).await;
        let a = gw.admin_scripts().await;
        let shown = a["rejected"]
            .as_array()
            .and_then(|l| l.iter().find(|x| x["name"] == "marker"))
            .expect("rejection shown");
        assert!(
            shown["reason"].as_str().is_some_and(|t| t.contains(why)),
            "{what}: {shown}"
        );
        assert_eq!(script(&a, "marker")["generation"], 0, "{what}");
    }
    // The panic text of the trap in init reached the log.
    logs::wait_for("misbehave: init trapped").await;
    drop(rx.drain());

    // A file caught half-written is retried, not rejected: write half, see
    // the reload find it so (its log says it tries again), then finish it.
    let retry = ["file changed while loading; trying again", "script=marker"];
    let retries = logs::lines_with(&retry).len();
    let v2 = std::fs::read(bot("marker-v2")).expect("read");
    std::fs::write(&live, &v2[..v2.len() / 3]).expect("write half");
    let gw = Arc::new(gw);
    let reloading = {
        let gw = gw.clone();
        tokio::spawn(async move { gw.reload_scripts().await })
    };
    wait::poll("the half-written file retried", WAIT, || async {
        (logs::lines_with(&retry).len() > retries).then_some(())
    })
    .await;
    std::fs::write(&live, &v2).expect("write whole");
    let r = reloading.await.expect("reload task");
    // The half-written file was retried, never rejected: the last rejection
    // is still the one from before.
    assert_eq!(r["code"], 0, "{r}");
    let a = gw.admin_scripts().await;
    let last = a["rejected"]
        .as_array()
        .and_then(|l| l.iter().find(|x| x["name"] == "marker"))
        .expect("rejection");
    assert!(
        last["reason"]
            .as_str()
            .is_some_and(|t| t.contains("misbehave: init trapped")),
        "{last}"
    );
    let seq = gw.last_seq().await;
    gw.receive(json!({"type": "message", "sender_qq": 123456, "content": "now"}))
        .await;
    assert_eq!(
        gw.sent_until(seq, WAIT, |s| !s.is_empty()).await[0]["content"],
        "v2:now"
    );
    let a = gw.admin_scripts().await;
    let m = script(&a, "marker");
    assert_eq!(m["world"], "openqq:bot/bot@0.2.0");
    assert_eq!(m["sha256"].as_str().map(str::len), Some(64));
    assert!(m["calls"].as_u64().is_some_and(|c| c >= 4), "{m}");
    assert!(m["p50_us"].as_f64().is_some(), "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_answers_loopback_only_unless_a_token_is_set() {
    let dir = scripts_dir("admin");
    install(&bot("echo"), &dir.join("echo.wasm"));
    let mut cfg = config(&dir, vec![], None);
    cfg.admin_token = Some("s3cret".into());
    let gw = TestGateway::with_config(cfg).await;
    let res = gw
        .http
        .get(gw.url("/admin/scripts"))
        .send()
        .await
        .expect("request");
    assert_eq!(
        res.status(),
        403,
        "a token is configured: loopback alone is not enough"
    );
    let res = gw
        .http
        .get(gw.url("/admin/scripts?token=s3cret"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
    let res = gw
        .http
        .post(gw.url("/admin/scripts/reload"))
        .bearer_auth("s3cret")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.expect("JSON");
    assert_eq!(v["unchanged"], json!(["echo"]));
    // Without a token, loopback clients are let in.
    let gw2 = TestGateway::with_config(config(&dir, vec![], None)).await;
    assert_eq!(gw2.admin_scripts().await["scripts"][0]["name"], "echo");
}

/// Sends one message on each of the eight chats and returns the replies.
async fn answers_of_eight_chats(gw: &TestGateway, content: &str) -> Vec<String> {
    let mut out = Vec::new();
    for mut chat in support::eight_chats() {
        chat["content"] = json!(content);
        let seq = gw.last_seq().await;
        gw.receive(chat).await;
        let sent = gw.sent_until(seq, WAIT, |s| !s.is_empty()).await;
        out.push(sent[0]["content"].as_str().unwrap_or_default().to_string());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_instance_of_a_script_swaps_and_instances_can_change() {
    let dir = scripts_dir("instances");
    let live = dir.join("marker.wasm");
    install(&bot("marker-v1"), &live);
    // The reload re-reads this config, as the binary re-reads its file.
    let instances = Arc::new(std::sync::atomic::AtomicUsize::new(4));
    let base = config(&dir, Vec::new(), None);
    let source = {
        let (base, instances) = (base.clone(), instances.clone());
        move || {
            let mut c = base.clone();
            c.limits.instances = instances.load(std::sync::atomic::Ordering::SeqCst);
            Ok(c)
        }
    };
    let mut first = source().expect("config");
    first.reload = Some(openqq::config::ReloadSource(Arc::new(source)));
    let gw = TestGateway::with_config(first).await;
    assert_eq!(script(&gw.admin_scripts().await, "marker")["instances"], 4);
    assert!(
        answers_of_eight_chats(&gw, "a")
            .await
            .iter()
            .all(|a| a == "v1:a")
    );

    // Written whole but left open: the watcher waits for the close, so
    // this reload is the one that swaps (and reports it).
    let open = write_unclosed(&live, &std::fs::read(bot("marker-v2")).expect("read"));
    let r = gw.reload_scripts().await;
    assert_eq!(r["swapped"], json!(["marker"]), "{r}");
    drop(open);
    let after = answers_of_eight_chats(&gw, "b").await;
    assert!(after.iter().all(|a| a == "v2:b"), "{after:?}");

    instances.store(2, std::sync::atomic::Ordering::SeqCst);
    let r = gw.reload_scripts().await;
    assert_eq!(r["swapped"], json!(["marker"]), "{r}");
    let a = gw.admin_scripts().await;
    let marker = script(&a, "marker");
    assert_eq!(
        (marker["instances"].as_u64(), marker["generation"].as_u64()),
        (Some(2), Some(2)),
        "{a}"
    );
    let after = answers_of_eight_chats(&gw, "c").await;
    assert!(after.iter().all(|a| a == "v2:c"), "{after:?}");
    gw.gateway.stop().await;
}

/// Names are unique: a directory file named like a `[[scripts]]` entry is
/// rejected (and shown), not merged with the entry. A scripts directory
/// that goes away does not unload anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_clash_is_rejected_and_a_vanished_directory_unloads_nothing() {
    let dir = scripts_dir("clash");
    install(&bot("marker-v1"), &dir.join("echo.wasm"));
    install(&bot("marker-v1"), &dir.join("marker.wasm"));
    let echo = ScriptEntry {
        path: bot("echo"),
        name: None,
        config: toml::Table::new(),
        timeout_ms: None,
        wall_ms: None,
        memory_mb: None,
        instances: None,
        kv_max_total_bytes: None,
        ..Default::default()
    };
    let gw = TestGateway::with_config(config(&dir, vec![echo], None)).await;
    let a = gw.admin_scripts().await;
    let names: Vec<&str> = a["scripts"]
        .as_array()
        .map(|l| l.iter().filter_map(|s| s["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["echo", "marker"], "{a}");
    let clash = &a["rejected"][0];
    assert_eq!(
        (clash["name"].as_str(), clash["path"].as_str()),
        (
            Some("echo"),
            Some(&*dir.join("echo.wasm").display().to_string())
        ),
        "{a}"
    );
    assert!(
        clash["reason"]
            .as_str()
            .is_some_and(|r| r.contains("already named `echo`")),
        "{a}"
    );
    // The entry answers, and keeps answering after a reload: nothing merged.
    let r = gw.reload_scripts().await;
    assert_eq!(r["unchanged"], json!(["echo", "marker"]), "{r}");
    let seq = gw.last_seq().await;
    gw.receive(json!({"type": "message", "sender_qq": 123456, "content": "ping"}))
        .await;
    assert_eq!(
        gw.sent_until(seq, WAIT, |s| !s.is_empty()).await[0]["content"],
        "pong"
    );

    std::fs::remove_dir_all(&dir).expect("remove the scripts dir");
    let r = gw.reload_scripts().await;
    assert!(
        r["config_error"]
            .as_str()
            .is_some_and(|e| e.contains(&dir.display().to_string())),
        "{r}"
    );
    assert_eq!(r["unloaded"], json!([]), "{r}");
    let seq = gw.last_seq().await;
    for content in ["ping", "x"] {
        gw.receive(json!({"type": "message", "sender_qq": 123456, "content": content}))
            .await;
    }
    let sent = gw.sent_until(seq, WAIT, |s| s.len() >= 2).await;
    let contents: Vec<&str> = sent.iter().filter_map(|r| r["content"].as_str()).collect();
    assert_eq!(contents, ["pong", "v1:x"]);
    gw.gateway.stop().await;
}

/// What `name` answers now to one message from friend 123456.
async fn answer(gw: &TestGateway, content: &str) -> String {
    let seq = gw.last_seq().await;
    gw.receive(json!({"type": "message", "sender_qq": 123456, "content": content}))
        .await;
    let sent = gw.sent_until(seq, WAIT, |s| !s.is_empty()).await;
    sent[0]["content"].as_str().unwrap_or_default().to_string()
}

/// Waits until the watcher alone (no reload call) has swapped in v2.
async fn v2_answers(gw: &TestGateway) {
    wait::poll("v2 swapped in by the watcher", WAIT, || async {
        (answer(gw, "x").await == "v2:x").then_some(())
    })
    .await;
}

/// Pauses between the chunks of a slow write: longer than the watcher's
/// old fixed debounce (150 ms), shorter than its fallback for a writer that
/// never closes (1 s, where closes are reported).
const CHUNK_PAUSE: Duration = Duration::from_millis(300);

/// Writes `bytes` to `to` in four chunks, pausing between them, as a slow
/// copy or a compiler writing its output does; the file is closed (and
/// complete) when this returns. `between` runs in each pause.
async fn write_slowly(to: &Path, bytes: &[u8], mut between: impl AsyncFnMut()) {
    use std::io::Write;
    let mut file = std::fs::File::create(to).expect("create");
    let chunks: Vec<&[u8]> = bytes.chunks(bytes.len().div_ceil(4)).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        file.write_all(chunk).expect("write a chunk");
        file.flush().expect("flush");
        if i + 1 < chunks.len() {
            tokio::join!(between(), tokio::time::sleep(CHUNK_PAUSE));
        }
    }
    drop(file);
}

/// No half-written version was ever tried: nothing rejected, no load that
/// failed and was retried (the log names the script), one swap.
async fn no_half_written_version_was_loaded(gw: &TestGateway, name: &str) {
    let a = gw.admin_scripts().await;
    assert_eq!(a["rejected"], json!([]), "{a}");
    let s = script(&a, name);
    assert_eq!(s["generation"], 1, "one swap, to the whole file: {a}");
    assert_eq!(s["last_failures"], json!([]), "{a}");
    // Where closes are reported, the watcher does not even poke the
    // reloader before the writer is done, so the reloader never met the
    // half-written file (elsewhere a fallback may, and it retries).
    if cfg!(target_os = "linux") {
        let retried = logs::lines_with(&[
            "file changed while loading; trying again",
            &format!("script={name}"),
        ]);
        assert!(retried.is_empty(), "{retried:#?}");
    }
}

/// A gateway watching a fresh directory with marker-v1 as `{name}.wasm`
/// (the log captured, to see retries).
async fn watching_v1(name: &str) -> (PathBuf, TestGateway) {
    logs::capture();
    let dir = scripts_dir(name);
    install(&bot("marker-v1"), &dir.join(format!("{name}.wasm")));
    let gw = TestGateway::with_config(config(&dir, vec![], None)).await;
    (dir, gw)
}

/// A file written in place in slow chunks is swapped in once it is closed,
/// and never while it is half-written; meanwhile the old version serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watcher_swaps_a_slowly_written_file_once_it_is_closed() {
    let (dir, gw) = watching_v1("chunked").await;
    let live = dir.join("chunked.wasm");
    assert_eq!(answer(&gw, "a").await, "v1:a");
    let v2 = std::fs::read(bot("marker-v2")).expect("read");
    let mut asked = 0;
    write_slowly(&live, &v2, async || {
        // The file on disk is a part of v2 now: v1 keeps answering.
        asked += 1;
        let content = format!("during{asked}");
        assert_eq!(answer(&gw, &content).await, format!("v1:{content}"));
    })
    .await;
    v2_answers(&gw).await;
    no_half_written_version_was_loaded(&gw, "chunked").await;
    gw.gateway.stop().await;
}

/// A file written slowly aside and renamed into place is swapped in at the
/// rename; the half-written file beside it is never looked at.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watcher_swaps_a_file_renamed_into_place() {
    let (dir, gw) = watching_v1("renamed").await;
    let live = dir.join("renamed.wasm");
    let aside = dir.join("renamed.wasm.part");
    let v2 = std::fs::read(bot("marker-v2")).expect("read");
    write_slowly(&aside, &v2, async || {}).await;
    assert_eq!(answer(&gw, "before").await, "v1:before");
    std::fs::rename(&aside, &live).expect("rename into place");
    v2_answers(&gw).await;
    no_half_written_version_was_loaded(&gw, "renamed").await;
    gw.gateway.stop().await;
}
