//! End-to-end: WebAssembly bots in the pipeline, with the real compiled
//! components from `scripts/` and `tests/bots/`.

use crate::support;

use std::path::PathBuf;
use std::time::Duration;

use openqq::config::{Config, ScriptEntry};
use serde_json::json;
use support::receiver::Receiver;
use support::{TestGateway, bot, entry, logs, test_config};

const WAIT: Duration = Duration::from_secs(20);

fn cache_dir() -> PathBuf {
    support::workspace().join("target/test-cwasm-cache")
}

fn config_with(scripts: Vec<ScriptEntry>, post_api: Option<&str>) -> Config {
    Config {
        scripts,
        post_api: post_api.map(str::to_string),
        cache_dir: Some(cache_dir()),
        ..test_config()
    }
}

fn friend(content: &str) -> serde_json::Value {
    json!({"type": "message", "sender_qq": 123456, "content": content})
}

fn group(sender: u64, content: &str) -> serde_json::Value {
    json!({"type": "group_message", "sender_qq": sender, "gnumber": 552603, "content": content})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_gets_pong_and_the_rest_reaches_the_webhook() {
    let mut rx = Receiver::start().await;
    let gw = TestGateway::with_config(config_with(vec![entry("echo", "")], Some(&rx.url))).await;
    let seq = gw.last_seq().await;
    gw.receive(friend("ping")).await;
    let sent = gw.sent_until(seq, WAIT, |s| !s.is_empty()).await;
    assert_eq!(
        (
            sent[0]["action"].as_str(),
            sent[0]["qq"].as_str(),
            sent[0]["content"].as_str()
        ),
        (Some("send_message"), Some("123456"), Some("pong"))
    );
    gw.receive(group(888888, "ping\n")).await;
    let sent = gw.sent_until(seq, WAIT, |s| s.len() >= 2).await;
    assert_eq!(
        (sent[1]["action"].as_str(), sent[1]["content"].as_str()),
        (Some("send_group_message"), Some("pong"))
    );
    // Passed on: the webhook gets it, nothing is sent.
    gw.receive(friend("hello")).await;
    assert_eq!(rx.next().await.body["content"], "hello");
    assert_eq!(gw.sent(seq).await.len(), 2);
    let s = gw.gateway.scripts.get("echo").expect("echo loaded");
    assert_eq!(openqq::scripts::ScriptStats::get(&s.stats.decisions), 2);
    assert_eq!(openqq::scripts::ScriptStats::get(&s.stats.passes), 1);
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_guard_mutes_banned_words_and_floods() {
    let cfg = "banned = [\"广告\"]\nshutup_seconds = 600\nmax_messages = 3\nwindow_seconds = 60";
    let gw = TestGateway::with_config(config_with(vec![entry("group-guard", cfg)], None)).await;
    let seq = gw.last_seq().await;
    gw.receive(group(888888, "加我买广告")).await;
    let sent = gw.sent_until(seq, WAIT, |s| s.len() >= 2).await;
    assert_eq!(sent[0]["action"], "send_group_message");
    assert!(
        sent[0]["content"]
            .as_str()
            .is_some_and(|c| c.contains("请文明发言")),
        "{sent:?}"
    );
    assert_eq!(
        (
            sent[1]["action"].as_str(),
            sent[1]["qq"].as_str(),
            sent[1]["time"].as_u64()
        ),
        (Some("shutup"), Some("888888"), Some(600))
    );
    // Flooding: the 4th message within the window is muted.
    let seq = gw.last_seq().await;
    for i in 0..4 {
        gw.receive(group(999999, &format!("hi {i}"))).await;
    }
    let sent = gw
        .sent_until(seq, WAIT, |s| s.iter().any(|r| r["action"] == "shutup"))
        .await;
    let mute = sent
        .iter()
        .find(|r| r["action"] == "shutup")
        .expect("a mute");
    assert_eq!(
        (mute["qq"].as_str(), mute["time"].as_u64()),
        (Some("999999"), Some(600))
    );
    assert!(
        sent.iter().any(|r| r["content"]
            .as_str()
            .is_some_and(|c| c.contains("请勿刷屏"))),
        "{sent:?}"
    );
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_run_in_order_and_the_first_decision_wins() {
    let scripts = vec![
        entry("echo", ""),
        entry(
            "keyword-reply",
            "reply = { hello = \"world\", ping = \"second\" }",
        ),
    ];
    let mut rx = Receiver::start().await;
    let gw = TestGateway::with_config(config_with(scripts, Some(&rx.url))).await;
    let seq = gw.last_seq().await;
    gw.receive(friend("hello there")).await; // echo passes, keyword-reply answers
    gw.receive(friend("ping")).await; // echo answers first
    gw.receive(friend("nothing")).await; // both pass: the webhook gets it
    assert_eq!(rx.next().await.body["content"], "nothing");
    let sent = gw.sent_until(seq, WAIT, |s| s.len() >= 2).await;
    let contents: Vec<&str> = sent.iter().filter_map(|r| r["content"].as_str()).collect();
    assert_eq!(contents, vec!["world", "pong"]);
    gw.gateway.stop().await;
}

/// `entry` granted `host.send` to `chat` besides the chat it handles.
fn granted(entry: ScriptEntry, chat: &str) -> ScriptEntry {
    ScriptEntry {
        send_to: vec![chat.to_string()],
        ..entry
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_can_send_look_up_and_forward() {
    let scripts = vec![
        granted(entry("misbehave", ""), "friend:*"),
        granted(entry("forward", "group = \"552603\""), "group:552603"),
    ];
    let mut rx = Receiver::start().await;
    let gw = TestGateway::with_config(config_with(scripts, Some(&rx.url))).await;
    let seq = gw.last_seq().await;
    gw.receive(friend("/send 7891234 你好")).await;
    let sent = gw.sent_until(seq, WAIT, |s| s.len() >= 2).await;
    assert_eq!(
        (sent[0]["qq"].as_str(), sent[0]["content"].as_str()),
        (Some("7891234"), Some("你好"))
    );
    let id = sent[0]["msg_id"].as_u64().expect("msg_id");
    assert_eq!(sent[1]["content"], format!("sent {id}"));
    let seq = gw.last_seq().await;
    gw.receive(friend("/send 42 x")).await;
    let sent = gw.sent_until(seq, WAIT, |s| !s.is_empty()).await;
    assert_eq!(sent[0]["content"], "send failed: friend not found");
    let seq = gw.last_seq().await;
    gw.receive(friend("/whoami")).await;
    let sent = gw.sent_until(seq, WAIT, |s| !s.is_empty()).await;
    assert_eq!(sent[0]["content"], "小灰 1234567");
    // forward: a friend's message goes to the group, and still to the webhook.
    let seq = gw.last_seq().await;
    gw.receive(friend("转发这条")).await;
    let sent = gw.sent_until(seq, WAIT, |s| !s.is_empty()).await;
    assert_eq!(
        (sent[0]["action"].as_str(), sent[0]["gnumber"].as_str()),
        (Some("send_group_message"), Some("552603"))
    );
    assert_eq!(sent[0]["content"], "[转发] xxx: 转发这条");
    assert_eq!(rx.next_with("转发这条").await.body["type"], "message");
    gw.gateway.stop().await;
}

/// The deadline counts the bot's own running time, not the time its
/// `host::send` waits in a spaced outbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_that_waits_in_the_outbox_is_not_a_timeout() {
    let mut config = config_with(
        vec![granted(entry("misbehave", ""), "friend:7891234")],
        None,
    );
    config.outbox.spacing_ms = 300;
    config.limits.timeout_ms = 100;
    let gw = TestGateway::with_config(config).await;
    let script = gw.gateway.scripts.get("misbehave").expect("loaded");
    let stat = |c: &std::sync::atomic::AtomicU64| openqq::scripts::ScriptStats::get(c);
    let seq = gw.last_seq().await;
    gw.receive(friend("/count")).await;
    gw.sent_until(seq, WAIT, |s| s.iter().any(|r| r["content"] == "count 1"))
        .await;
    // The outbox has just sent `count 1`: the bot's send waits ~300 ms,
    // three times the bot's deadline.
    let seq = gw.last_seq().await;
    gw.receive(friend("/send 7891234 你好")).await;
    let sent = gw.sent_until(seq, WAIT, |s| s.len() >= 2).await;
    assert_eq!(
        (sent[0]["qq"].as_str(), sent[0]["content"].as_str()),
        (Some("7891234"), Some("你好")),
        "{sent:?}"
    );
    let id = sent[0]["msg_id"].as_u64().expect("msg_id");
    assert_eq!(sent[1]["content"], format!("sent {id}"), "{sent:?}");
    // The same instance answers next: its state was kept.
    let seq = gw.last_seq().await;
    gw.receive(friend("/count")).await;
    let sent = gw.sent_until(seq, WAIT, |s| !s.is_empty()).await;
    assert_eq!(sent[0]["content"], "count 2");
    let a = gw.get("/admin/scripts").await;
    assert_eq!(
        (
            a["scripts"][0]["timeouts"].as_u64(),
            a["scripts"][0]["traps"].as_u64()
        ),
        (Some(0), Some(0)),
        "{a}"
    );
    assert_eq!(stat(&script.stats.decisions), 3);
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trap_a_loop_and_a_runaway_allocation_are_stopped() {
    logs::capture();
    let deadline_ms = 200;
    let mut misbehave = entry("misbehave", "");
    misbehave.timeout_ms = Some(deadline_ms);
    misbehave.memory_mb = Some(32);
    let mut rx = Receiver::start().await;
    let mut config = config_with(vec![misbehave], Some(&rx.url));
    // Three failures in a row would pause the bot (tests/sandbox.rs shows
    // that); here each limit must be seen firing, so the pause is a tick.
    config.limits.backoff_ms = 1;
    config.limits.backoff_max_ms = 1;
    let gw = TestGateway::with_config(config).await;
    let script = gw.gateway.scripts.get("misbehave").expect("loaded");
    let stat = |c: &std::sync::atomic::AtomicU64| openqq::scripts::ScriptStats::get(c);

    // A panic: logged with its text, the message reaches the webhook.
    gw.receive(friend("/trap")).await;
    assert_eq!(rx.next().await.body["content"], "/trap");
    logs::wait_for("misbehave: trap requested").await;
    assert_eq!(stat(&script.stats.traps), 1);

    // An endless loop: stopped within twice its deadline, and the API keeps
    // answering meanwhile.
    let started = tokio::time::Instant::now();
    gw.receive(friend("/loop")).await;
    let api = gw.get("/openqq/get_user_info").await;
    let api_at = started.elapsed();
    assert_eq!(api["qq"], "1234567");
    let report = rx.next().await;
    assert_eq!(report.body["content"], "/loop");
    let stopped_after = report.at - started;
    assert!(api_at < stopped_after, "the API waited for the loop");
    assert!(
        stopped_after < Duration::from_millis(2 * deadline_ms),
        "loop stopped after {stopped_after:?}"
    );
    assert_eq!(stat(&script.stats.timeouts), 1);

    // Allocation without end: the memory cap stops it.
    gw.receive(friend("/oom")).await;
    assert_eq!(rx.next().await.body["content"], "/oom");
    logs::wait_for("exceeded its 32 MiB memory cap").await;

    // Each time the instance was rebuilt: the next message is answered.
    let seq = gw.last_seq().await;
    gw.receive(friend("/ok")).await;
    let sent = gw.sent_until(seq, WAIT, |s| !s.is_empty()).await;
    assert_eq!(sent[0]["content"], "ok");
    assert_eq!(stat(&script.stats.traps), 2);
    assert_eq!(stat(&script.stats.decisions), 1);
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_that_refuses_its_config_is_not_loaded_and_messages_still_flow() {
    logs::capture();
    let mut rx = Receiver::start().await;
    let scripts = vec![entry("misbehave", "fail_init = true"), entry("echo", "")];
    let gw = TestGateway::with_config(config_with(scripts, Some(&rx.url))).await;
    logs::wait_for("misbehave: init refused").await;
    assert!(gw.gateway.scripts.get("misbehave").is_none());
    let seq = gw.last_seq().await;
    gw.receive(friend("ping")).await;
    gw.sent_until(seq, WAIT, |s| s.iter().any(|r| r["content"] == "pong"))
        .await;
    gw.receive(friend("/trap")).await;
    assert_eq!(rx.next().await.body["content"], "/trap");
    gw.gateway.stop().await;
}

/// Runs `openqq check FILE` and returns (exit ok, output).
fn check(path: &std::path::Path) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_openqq"))
        .arg("check")
        .arg(path)
        .output()
        .expect("run openqq check");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn check_tells_runnable_bots_from_modules_and_foreign_worlds() {
    let (ok, out) = check(&bot("echo"));
    assert!(ok, "{out}");
    assert!(out.contains("world:    openqq:bot/bot@0.2.0"), "{out}");
    assert!(
        out.contains("openqq:bot/host@0.2.0") && out.contains("on-message") && out.contains("init"),
        "{out}"
    );
    assert!(out.contains("verdict:  OK"), "{out}");

    let dir = std::env::temp_dir().join(format!("openqq-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    // The smallest valid core module: magic and version 1.
    let module = dir.join("core.wasm");
    std::fs::write(&module, b"\0asm\x01\0\0\0").expect("write");
    let (ok, out) = check(&module);
    assert!(!ok, "{out}");
    assert!(out.contains("core wasm module, not a component"), "{out}");

    let (ok, out) = check(&bot("foreign"));
    assert!(!ok, "{out}");
    assert!(
        out.contains("world:    not openqq:bot (a foreign world)"),
        "{out}"
    );
    assert!(out.contains("greet"), "{out}");
    assert!(out.contains("does not export init and on-message"), "{out}");

    let text = dir.join("notes.wasm");
    std::fs::write(&text, b"hello").expect("write");
    let (ok, out) = check(&text);
    assert!(!ok && out.contains("not a WebAssembly file"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_that_exports_on_event_welcomes_new_members() {
    let gw = TestGateway::with_config(config_with(
        vec![
            entry("group-guard", "welcome = \"欢迎 {name} 入群\""),
            entry("echo", ""),
        ],
        None,
    ))
    .await;
    let seq = gw.last_seq().await;
    let r = gw
        .post_json(
            "/sim/join",
            &json!({"gnumber": 552603, "qq": 5550009, "nick": "新人"}),
        )
        .await;
    assert_eq!(r["code"], 0);
    let sent = gw.sent_until(seq, WAIT, |s| !s.is_empty()).await;
    assert_eq!(
        (
            sent[0]["action"].as_str(),
            sent[0]["gnumber"].as_str(),
            sent[0]["content"].as_str()
        ),
        (
            Some("send_group_message"),
            Some("552603"),
            Some("欢迎 新人 入群")
        )
    );
    // echo exports on-event too (the SDK's default does nothing); messages
    // still flow after events.
    gw.receive(friend("ping")).await;
    gw.sent_until(seq, WAIT, |s| s.iter().any(|r| r["content"] == "pong"))
        .await;
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_instances_share_the_chats_and_each_chat_keeps_its_instance() {
    let four = |e: ScriptEntry| ScriptEntry {
        instances: Some(4),
        ..e
    };
    let guard = "welcome = \"欢迎 {name} 入群\"\nmax_messages = 3\nwindow_seconds = 60";
    let gw = TestGateway::with_config(config_with(
        vec![
            four(entry("misbehave", "")),
            four(entry("group-guard", guard)),
        ],
        None,
    ))
    .await;
    let admin = gw.get("/admin/scripts").await;
    assert_eq!(admin["scripts"][0]["instances"], 4, "{admin}");

    // Eight chats, five rounds of `/count`, one message at a time: every
    // instance counts its own messages.
    let chats = support::eight_chats();
    let mut counts: Vec<Vec<u64>> = vec![Vec::new(); chats.len()];
    for _round in 0..5 {
        for (chat, seen) in chats.iter().zip(counts.iter_mut()) {
            let mut msg = chat.clone();
            msg["content"] = json!("/count");
            let seq = gw.last_seq().await;
            gw.receive(msg).await;
            let sent = gw.sent_until(seq, WAIT, |s| !s.is_empty()).await;
            let n = sent[0]["content"]
                .as_str()
                .and_then(|c| c.strip_prefix("count "))
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("a count: {sent:?}"));
            seen.push(n);
        }
    }
    // A chat stays on its instance: its counts only go up.
    for (chat, seen) in chats.iter().zip(&counts) {
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "{chat}: {seen:?}");
    }
    // More than one instance counted: one instance would have reached 40.
    let most = counts.iter().flatten().max().copied().unwrap_or(0);
    assert!(most < 40, "one instance answered everything: {counts:?}");

    // State about a chat stays whole: a flood in one group is seen by the
    // one instance that holds the group's counts.
    let seq = gw.last_seq().await;
    for i in 0..4 {
        gw.receive(group(999999, &format!("hi {i}"))).await;
    }
    gw.sent_until(seq, WAIT, |s| {
        s.iter()
            .any(|r| r["action"] == "shutup" && r["qq"] == "999999")
    })
    .await;

    // An event reaches one instance, not four: two joins, two welcomes.
    let seq = gw.last_seq().await;
    for (qq, nick) in [(5550011, "甲"), (5550012, "乙")] {
        let r = gw
            .post_json(
                "/sim/join",
                &json!({"gnumber": 552603, "qq": qq, "nick": nick}),
            )
            .await;
        assert_eq!(r["code"], 0);
    }
    let sent = gw
        .sent_until(seq, WAIT, |s| {
            s.iter().any(|r| r["content"] == "欢迎 乙 入群")
        })
        .await;
    let welcomes: Vec<&str> = sent
        .iter()
        .filter_map(|r| r["content"].as_str())
        .filter(|c| c.starts_with("欢迎"))
        .collect();
    assert_eq!(welcomes, ["欢迎 甲 入群", "欢迎 乙 入群"]);
    gw.gateway.stop().await;
}
