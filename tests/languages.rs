//! The same behaviour tests against `keyword-reply` built by every
//! language's real toolchain (Rust, Python, JavaScript, C, Zig).
//!
//! The non-Rust components come from `scripts/build.sh` (CI installs the
//! toolchains with `scripts/toolchains.sh` first). A missing component fails
//! its test with the command that builds it: a language is never skipped.
//!
//! Also `notes-py`: a Python bot on `openqq:bot@0.2.0` that keeps its notes
//! and counters in the gateway's KV store through componentize-py's own
//! bindings of the `kv` interface.

use crate::support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use openqq::config::{Config, ScriptEntry};
use serde_json::{Value, json};
use support::receiver::Receiver;
use support::{TestGateway, logs, test_config};

const WAIT: Duration = Duration::from_secs(30);

const CONFIG: &str = r#"
banned = ["广告"]
shutup_seconds = 120
[reply]
"你好" = "你好呀"
hello = "world"
"#;

fn component(lang: &str) -> PathBuf {
    if lang == "rust" {
        return support::bot("keyword-reply");
    }
    let p = support::workspace().join(format!("target/bots/keyword-reply-{lang}.wasm"));
    assert!(
        p.exists(),
        "{} is missing: run `scripts/toolchains.sh` then `scripts/build.sh {lang}`",
        p.display()
    );
    p
}

async fn behaves_like_keyword_reply(lang: &str) {
    logs::capture();
    let mut rx = Receiver::start().await;
    let entry = ScriptEntry {
        path: component(lang),
        name: Some(format!("kr-{lang}")),
        config: toml::from_str(CONFIG).expect("TOML"),
        // Interpreted guests are slower to start; the deadline is per call.
        timeout_ms: Some(1000),
        wall_ms: None,
        memory_mb: Some(256),
        instances: None,
        kv_max_total_bytes: None,
        ..Default::default()
    };
    let config = Config {
        scripts: vec![entry],
        post_api: Some(rx.url.clone()),
        cache_dir: Some(support::workspace().join("target/test-cwasm-cache")),
        ..test_config()
    };
    let gw = TestGateway::with_config(config).await;
    assert!(
        gw.gateway.scripts.get(&format!("kr-{lang}")).is_some(),
        "{lang}: not loaded; log:\n{}",
        logs::text()
    );

    // A keyword gets its reply, where it was said.
    let seq = gw.last_seq().await;
    gw.receive(json!({"type": "message", "sender_qq": 123456, "content": "你好啊"}))
        .await;
    let sent = gw.sent_until(seq, WAIT, |s| !s.is_empty()).await;
    assert_eq!(
        (sent[0]["action"].as_str(), sent[0]["content"].as_str()),
        (Some("send_message"), Some("你好呀")),
        "{lang}"
    );

    // A banned word in a group: the reply and a mute of shutup_seconds.
    let seq = gw.last_seq().await;
    gw.receive(json!({"type": "group_message", "sender_qq": 888888, "gnumber": 552603, "content": "广告 hello"})).await;
    let sent = gw.sent_until(seq, WAIT, |s| s.len() >= 2).await;
    assert_eq!(
        (sent[0]["action"].as_str(), sent[0]["content"].as_str()),
        (Some("send_group_message"), Some("请文明发言")),
        "{lang}"
    );
    assert_eq!(
        (
            sent[1]["action"].as_str(),
            sent[1]["qq"].as_str(),
            sent[1]["time"].as_u64()
        ),
        (Some("shutup"), Some("888888"), Some(120)),
        "{lang}"
    );

    // No keyword: passed on to the webhook, nothing sent.
    let seq = gw.last_seq().await;
    gw.receive(json!({"type": "message", "sender_qq": 123456, "content": "nothing here"}))
        .await;
    assert_eq!(
        rx.next_with("nothing here").await.body["type"],
        "message",
        "{lang}"
    );

    // `/boom` fails on purpose: the webhook still gets it, the error's own
    // text is in the gateway log, and the rebuilt instance answers again.
    gw.receive(json!({"type": "message", "sender_qq": 123456, "content": "/boom"}))
        .await;
    assert_eq!(
        rx.next_with("/boom").await.body["type"],
        "message",
        "{lang}"
    );
    let log = logs::wait_for("keyword-reply: boom requested").await;
    assert!(
        log.contains(&format!("kr-{lang}")),
        "{lang}: the log line names no script"
    );
    gw.receive(json!({"type": "message", "sender_qq": 7891234, "content": "say hello"}))
        .await;
    let sent = gw.sent_until(seq, WAIT, |s| !s.is_empty()).await;
    assert_eq!(
        (sent[0]["qq"].as_str(), sent[0]["content"].as_str()),
        (Some("7891234"), Some("world")),
        "{lang}"
    );
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust() {
    behaves_like_keyword_reply("rust").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python() {
    behaves_like_keyword_reply("py").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript() {
    behaves_like_keyword_reply("js").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c() {
    behaves_like_keyword_reply("c").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zig() {
    behaves_like_keyword_reply("zig").await;
}

/// The gateway's config for `notes-py`, written as an operator would: its
/// store in `data_dir`, notes of at most 64 bytes, unhandled messages to
/// `post_api`.
fn notes_config(data_dir: &Path, post_api: &str) -> Config {
    let component = support::workspace().join("target/bots/notes-py.wasm");
    assert!(
        component.exists(),
        "{} is missing: run `scripts/toolchains.sh python` then `scripts/build.sh py`",
        component.display()
    );
    let quoted = |s: &str| toml::Value::String(s.to_string()).to_string();
    let path = |p: &Path| quoted(&p.display().to_string());
    let text = format!(
        r#"
listen = "127.0.0.1:0"
post_api = {post_api}
data_dir = {data_dir}
cache_dir = {cache_dir}

[limits]
kv_max_value_bytes = 64

[[scripts]]
path = {component}
name = "notes-py"
timeout_ms = 1000
memory_mb = 256
"#,
        post_api = quoted(post_api),
        data_dir = path(data_dir),
        cache_dir = path(&support::workspace().join("target/test-cwasm-cache")),
        component = path(&component),
    );
    toml::from_str(&text).unwrap_or_else(|e| panic!("notes-py config: {e}\n{text}"))
}

/// Starts a gateway with `notes-py` loaded.
async fn notes_gateway(data_dir: &Path, post_api: &str) -> TestGateway {
    let gw = TestGateway::with_config(notes_config(data_dir, post_api)).await;
    assert!(
        gw.gateway.scripts.get("notes-py").is_some(),
        "notes-py: not loaded; log:\n{}",
        logs::text()
    );
    gw
}

/// Says `content` in `chat` and returns what the bot replied there: the
/// first thing the account sent afterwards (one chat's messages are handled
/// in order, so an earlier message's reply would come before it).
async fn say(gw: &TestGateway, chat: &Value, content: &str) -> String {
    let seq = gw.last_seq().await;
    let mut m = chat.clone();
    m["content"] = json!(content);
    gw.receive(m).await;
    let sent = gw.sent_until(seq, WAIT, |s| !s.is_empty()).await;
    let action = match chat["type"].as_str() {
        Some("group_message") => "send_group_message",
        _ => "send_message",
    };
    assert_eq!(
        sent[0]["action"].as_str(),
        Some(action),
        "{content:?}: {sent:#?}"
    );
    sent[0]["content"]
        .as_str()
        .unwrap_or_else(|| panic!("{content:?}: a send without content: {sent:#?}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_kv_notes_survive_restart() {
    logs::capture();
    let data = support::DataDir::fresh("notes-py");
    let data_dir = data.0.as_path();
    let mut rx = Receiver::start().await;
    let alice = json!({"type": "message", "sender_qq": 123456});
    let bob = json!({"type": "message", "sender_qq": 7891234});
    let group = json!({"type": "group_message", "sender_qq": 888888, "gnumber": 552603});
    let listing = "你的笔记 (2 条):\n1. buy milk\n2. 周五开会";

    let gw = notes_gateway(data_dir, &rx.url).await;
    assert_eq!(say(&gw, &alice, "note buy milk").await, "已记下 #1");
    assert_eq!(say(&gw, &alice, "记 周五开会").await, "已记下 #2");
    // Notes are the sender's own.
    assert_eq!(
        say(&gw, &bob, "notes").await,
        "还没有笔记。用 “记 <内容>” 记一条。"
    );
    assert_eq!(say(&gw, &alice, "notes").await, listing);

    // Anything else passes to the webhook, unanswered: the next reply in
    // Alice's chat is the count's (and it counted the passed message).
    let seq = gw.last_seq().await;
    gw.receive(json!({"type": "message", "sender_qq": 123456, "content": "hello there"}))
        .await;
    assert_eq!(rx.next_with("hello there").await.body["type"], "message");
    assert_eq!(say(&gw, &alice, "count").await, "本聊天已收到 5 条消息");
    let sent = gw.sent(seq).await;
    assert_eq!(sent.len(), 1, "only the count was answered: {sent:#?}");
    // Each chat has its own counter.
    assert_eq!(say(&gw, &group, "count").await, "本聊天已收到 1 条消息");
    gw.gateway.stop().await;

    // A new gateway on the same data_dir: the notes, the counters and the
    // note numbers are all still there.
    let gw = notes_gateway(data_dir, &rx.url).await;
    assert_eq!(say(&gw, &alice, "notes").await, listing);
    assert_eq!(say(&gw, &alice, "count").await, "本聊天已收到 7 条消息");
    assert_eq!(say(&gw, &group, "count").await, "本聊天已收到 2 条消息");
    assert_eq!(say(&gw, &alice, "note 第三条").await, "已记下 #3");

    // Over kv_max_value_bytes: the bot sees the quota error and says so;
    // nothing was stored.
    let full = say(&gw, &alice, &format!("note {}", "x".repeat(100))).await;
    assert!(
        full.starts_with("存储已满: ") && full.contains("kv_max_value_bytes = 64"),
        "{full}"
    );
    assert_eq!(
        say(&gw, &alice, "notes").await,
        "你的笔记 (3 条):\n1. buy milk\n2. 周五开会\n3. 第三条"
    );

    assert_eq!(say(&gw, &alice, "forget").await, "已删除 3 条笔记");
    assert_eq!(
        say(&gw, &alice, "notes").await,
        "还没有笔记。用 “记 <内容>” 记一条。"
    );
    gw.gateway.stop().await;
}
