//! The same behaviour tests against `keyword-reply` built by every
//! language's real toolchain (Rust, Python, JavaScript, C, Zig).
//!
//! The non-Rust components come from `scripts/build.sh` (CI installs the
//! toolchains with `scripts/toolchains.sh` first). A missing component fails
//! its test with the command that builds it: a language is never skipped.

use crate::support;

use std::path::PathBuf;
use std::time::Duration;

use openqq::config::{Config, ScriptEntry};
use serde_json::json;
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
