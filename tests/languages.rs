//! The same behaviour tests against `keyword-reply` built by every
//! language's real toolchain (Rust, Python, JavaScript, C, Zig).
//!
//! The non-Rust components come from `scripts/build.sh` (CI installs the
//! toolchains with `scripts/toolchains.sh` first). A missing component fails
//! its test with the command that builds it: a language is never skipped.
//!
//! Also `notes-py`: a Python bot on `openqq:bot@0.2.0` that keeps its notes
//! and counters in the gateway's KV store through componentize-py's own
//! bindings of the `kv` interface; and `weather-py`, one that asks a web API
//! through componentize-py's own bindings of `wasi:http`.

use crate::support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openqq::config::{Config, ScriptEntry};
use serde_json::{Value, json};
use support::receiver::Receiver;
use support::{TestGateway, logs, script, test_config};

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

/// The weather API `weather-py` asks: `GET /weather?city=<city>` answers
/// JSON for 北京, 404 for other cities and never for 慢城; it records every
/// city asked. It stops when dropped.
struct WeatherApi {
    origin: String,
    asked: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WeatherApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl WeatherApi {
    async fn start() -> WeatherApi {
        use axum::extract::{Query, State};
        use axum::http::StatusCode;
        use axum::response::{IntoResponse, Response};

        async fn weather(
            State(asked): State<Arc<Mutex<Vec<String>>>>,
            Query(q): Query<HashMap<String, String>>,
        ) -> Response {
            let city = q.get("city").cloned().unwrap_or_default();
            asked.lock().expect("not poisoned").push(city.clone());
            match city.as_str() {
                "北京" => axum::Json(json!({
                    "city": "北京", "weather": "晴", "temp": 25, "humidity": 40, "wind": "北风 3 级"
                }))
                .into_response(),
                "慢城" => std::future::pending().await,
                _ => (
                    StatusCode::NOT_FOUND,
                    axum::Json(json!({"error": "unknown city"})),
                )
                    .into_response(),
            }
        }

        let asked = Arc::new(Mutex::new(Vec::new()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the weather API");
        let origin = format!("http://{}", listener.local_addr().expect("address"));
        let app = axum::Router::new()
            .route("/weather", axum::routing::get(weather))
            .with_state(asked.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        WeatherApi {
            origin,
            asked,
            task,
        }
    }

    fn asked(&self) -> Vec<String> {
        self.asked.lock().expect("not poisoned").clone()
    }
}

/// A gateway with `weather-py` asking `api`'s `/weather`, its origin granted
/// in `http` (or nothing granted: empty).
async fn weather_gateway(api: &WeatherApi, http: Vec<String>) -> TestGateway {
    let component = support::workspace().join("target/bots/weather-py.wasm");
    assert!(
        component.exists(),
        "{} is missing: run `scripts/toolchains.sh python` then `scripts/build.sh py`",
        component.display()
    );
    let config = format!("api = \"{}/weather?city=\"\ntimeout_ms = 300", api.origin);
    let entry = ScriptEntry {
        path: component,
        name: Some("weather-py".into()),
        config: toml::from_str(&config).expect("TOML"),
        timeout_ms: Some(1000),
        memory_mb: Some(256),
        http,
        ..Default::default()
    };
    let gw = TestGateway::with_config(Config {
        scripts: vec![entry],
        cache_dir: Some(support::workspace().join("target/test-cwasm-cache")),
        ..test_config()
    })
    .await;
    assert!(
        gw.gateway.scripts.get("weather-py").is_some(),
        "weather-py: not loaded; log:\n{}",
        logs::text()
    );
    gw
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_http_weather_inside_its_grant() {
    logs::capture();
    let api = WeatherApi::start().await;
    let alice = json!({"type": "message", "sender_qq": 123456});

    // Granted: the sentence is built from the API's JSON, and the API saw
    // the city, URL-encoded by the bot and decoded by the server.
    let gw = weather_gateway(&api, vec![api.origin.clone()]).await;
    assert_eq!(
        say(&gw, &alice, "天气 北京").await,
        "北京现在晴，气温 25°C，湿度 40%，北风 3 级。"
    );
    assert_eq!(api.asked(), ["北京"]);
    // The API's failures, each named to the asker.
    assert_eq!(
        say(&gw, &alice, "weather 火星").await,
        "抱歉，查不到火星的天气：天气服务出错 (HTTP 404)"
    );
    let slow = say(&gw, &alice, "天气 慢城").await;
    assert!(slow.starts_with("抱歉，查不到慢城的天气：超时 ("), "{slow}");
    assert_eq!(api.asked(), ["北京", "火星", "慢城"]);
    let admin = gw.admin_scripts().await;
    assert_eq!(script(&admin, "weather-py")["denied"], 0, "{admin}");
    gw.gateway.stop().await;

    // Not granted: refused before a connection is made; the bot says so and
    // the refusal is counted.
    let gw = weather_gateway(&api, Vec::new()).await;
    assert_eq!(
        say(&gw, &alice, "天气 北京").await,
        "抱歉，查不到北京的天气：没有访问权限 (HTTP-request-denied)"
    );
    assert_eq!(
        api.asked().len(),
        3,
        "the API was reached: {:?}",
        api.asked()
    );
    let admin = gw.admin_scripts().await;
    let denied = script(&admin, "weather-py")["denied"].as_u64();
    assert!(denied >= Some(1), "{admin}");
    gw.gateway.stop().await;
}
