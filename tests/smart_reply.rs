//! Bots that need grants, end to end with their real components:
//! `smart-reply` asks a chat model over outbound HTTP (the `http` grant)
//! and `forward` copies friend messages into a group (the `send_to`
//! grant). With the grant they work; without it their calls are denied,
//! the bot sees why, and `/admin/scripts` counts the denial.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use openqq::config::{Config, ScriptEntry};
use serde_json::{Value, json};

use crate::support::{self, DataDir, TestGateway, entry};

const WAIT: Duration = Duration::from_secs(20);
const MODEL: &str = "test-model";
const KEY: &str = "sk-test";
/// How long the mock model thinks: past the default 100 ms CPU deadline
/// (`timeout_ms`), so an answer shows that waiting on HTTP is bounded by
/// the wall-clock limit only.
const THINKING: Duration = Duration::from_millis(300);
/// The smart-reply bot's default apology (`smart_reply::DEFAULT_APOLOGY`).
const APOLOGY: &str = "抱歉，我现在答不上来，请稍后再试。/ Sorry, I cannot answer right now.";

/// A chat-completions server on 127.0.0.1: it checks each request's shape
/// and answers `answer <n>` to the n-th, recording every request body.
struct MockLlm {
    origin: String,
    requests: Arc<Mutex<Vec<Value>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for MockLlm {
    fn drop(&mut self) {
        self.server.abort();
    }
}

type Requests = Arc<Mutex<Vec<Value>>>;

/// One completion: 401 without the key, 400 for a body that is not a
/// chat-completions request (so a wrong shape fails the test at the bot's
/// reply, with the reason in the body).
async fn complete(
    State(requests): State<Requests>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    if auth != Some(&format!("Bearer {KEY}")) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "bad key"})));
    }
    let well_formed = body["model"] == MODEL
        && body["messages"].as_array().is_some_and(|m| {
            m.iter()
                .all(|t| t["role"].is_string() && t["content"].is_string())
        });
    if !well_formed {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "bad shape"})));
    }
    tokio::time::sleep(THINKING).await;
    let n = {
        let mut r = requests.lock().unwrap_or_else(|p| p.into_inner());
        r.push(body);
        r.len()
    };
    let answer = json!({"id": format!("c{n}"), "object": "chat.completion", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": format!("answer {n}")},
         "finish_reason": "stop"}
    ]});
    (StatusCode::OK, Json(answer))
}

impl MockLlm {
    async fn start() -> MockLlm {
        let requests: Requests = Arc::default();
        let app = axum::Router::new()
            .route("/v1/chat/completions", post(complete))
            .with_state(requests.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the mock LLM");
        let addr = listener.local_addr().expect("its address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        MockLlm {
            origin: format!("http://{addr}"),
            requests,
            server,
        }
    }

    fn requests(&self) -> Vec<Value> {
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// A gateway running `scripts`, with a store of its own.
fn config(data: &DataDir, scripts: Vec<ScriptEntry>) -> Config {
    support::config_with_store(data, scripts)
}

/// smart-reply asking `llm`, granted its origin when `granted`.
fn smart_reply(llm: &MockLlm, granted: bool) -> ScriptEntry {
    let bot_config = format!(
        "base_url = {:?}\nmodel = {MODEL:?}\napi_key = {KEY:?}\ncooldown_seconds = 0",
        llm.origin
    );
    ScriptEntry {
        http: if granted {
            vec![llm.origin.clone()]
        } else {
            Vec::new()
        },
        // An answer takes time: well above the default 100 ms.
        wall_ms: Some(15_000),
        ..entry("smart-reply", &bot_config)
    }
}

fn in_group(content: &str) -> Value {
    json!({"type": "group_message", "sender_qq": 888888, "gnumber": 552603, "content": content})
}

/// Says `content` in group 552603 and returns the account's answer there.
async fn ask(gw: &TestGateway, content: &str) -> Value {
    let seq = gw.last_seq().await;
    gw.receive(in_group(content)).await;
    let sent = gw.sent_until(seq, WAIT, |s| !s.is_empty()).await;
    sent[0].clone()
}

/// `/admin/scripts`' count of `name`'s denials, once it is at least `n`.
async fn denied_at_least(gw: &TestGateway, name: &str, n: u64) -> Value {
    support::wait::poll(&format!("{name}'s denials to reach {n}"), WAIT, || async {
        let admin = gw.admin_scripts().await;
        let script = support::script(&admin, name).clone();
        (script["denied"].as_u64() >= Some(n)).then_some(script)
    })
    .await
}

fn roles_and_contents(request: &Value) -> Vec<(String, String)> {
    request["messages"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|t| {
                    let s = |k: &str| t[k].as_str().unwrap_or_default().to_string();
                    (s("role"), s("content"))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smart_reply_answers_with_the_models_reply_and_sends_the_history() {
    let llm = MockLlm::start().await;
    let data = DataDir::fresh("smart-reply");
    let gw = TestGateway::with_config(config(&data, vec![smart_reply(&llm, true)])).await;

    let first = ask(&gw, "/ai hello").await;
    assert_eq!(
        (first["action"].as_str(), first["gnumber"].as_str()),
        (Some("send_group_message"), Some("552603")),
        "{first}"
    );
    assert_eq!(first["content"], "answer 1", "{first}");
    let asked = llm.requests();
    let sent = roles_and_contents(&asked[0]);
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[0].0, "system");
    assert_eq!(sent[1].0, "user");
    assert!(sent[1].1.ends_with(": hello"), "{sent:?}");

    // The second question carries the first exchange.
    let second = ask(&gw, "/ai and then?").await;
    assert_eq!(second["content"], "answer 2", "{second}");
    let sent = roles_and_contents(&llm.requests()[1]);
    let tail: Vec<_> = sent[1..]
        .iter()
        .map(|(r, c)| (r.as_str(), c.as_str()))
        .collect();
    assert_eq!(tail.len(), 3, "{sent:?}");
    assert_eq!(tail[0], ("user", sent[1].1.as_str()));
    assert!(tail[0].1.ends_with(": hello"));
    assert_eq!(tail[1], ("assistant", "answer 1"));
    assert!(
        tail[2].0 == "user" && tail[2].1.ends_with(": and then?"),
        "{sent:?}"
    );

    // The history is in the bot's store, where the operator sees it.
    let kv = gw.get("/admin/kv/smart-reply").await;
    assert_eq!(kv["keys"][0]["key"], "h/group:552603", "{kv}");
    let admin = gw.admin_scripts().await;
    assert_eq!(
        support::script(&admin, "smart-reply")["denied"],
        0,
        "{admin}"
    );
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smart_reply_without_the_http_grant_is_denied_and_apologises() {
    let llm = MockLlm::start().await;
    let data = DataDir::fresh("smart-reply-denied");
    let gw = TestGateway::with_config(config(&data, vec![smart_reply(&llm, false)])).await;

    let answer = ask(&gw, "/ai hello").await;
    assert_eq!(answer["content"], APOLOGY, "{answer}");
    let script = denied_at_least(&gw, "smart-reply", 1).await;
    assert_eq!(script["denied"], 1, "{script}");
    assert!(llm.requests().is_empty(), "the request reached the server");
    gw.gateway.stop().await;
}

/// forward to group 552603, granted it when `granted`; echo after it
/// answers `ping`, a marker on the friend's chat.
fn forward_then_echo(granted: bool) -> Vec<ScriptEntry> {
    let forward = ScriptEntry {
        send_to: if granted {
            vec!["group:552603".to_string()]
        } else {
            Vec::new()
        },
        ..entry("forward", "group = 552603")
    };
    vec![forward, entry("echo", "")]
}

/// A friend says `ping`: forward copies it to the group (or is denied),
/// then echo answers `pong`. What the account sent, up to the pong.
async fn ping_from_a_friend(gw: &TestGateway) -> Vec<Value> {
    let seq = gw.last_seq().await;
    gw.receive(json!({"type": "message", "sender_qq": 123456, "content": "ping"}))
        .await;
    gw.sent_until(seq, WAIT, |s| s.iter().any(|r| r["content"] == "pong"))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_needs_its_send_to_grant() {
    let data = DataDir::fresh("forward-granted");
    let gw = TestGateway::with_config(config(&data, forward_then_echo(true))).await;
    let seq = gw.last_seq().await;
    ping_from_a_friend(&gw).await;
    let sent = gw
        .sent_until(seq, WAIT, |s| {
            s.iter().any(|r| r["action"] == "send_group_message")
        })
        .await;
    let copy = sent
        .iter()
        .find(|r| r["action"] == "send_group_message")
        .cloned()
        .unwrap_or_default();
    assert_eq!(copy["gnumber"], "552603", "{copy}");
    let content = copy["content"].as_str().unwrap_or_default();
    assert!(
        content.starts_with("[转发] ") && content.ends_with(": ping"),
        "{content}"
    );
    let admin = gw.admin_scripts().await;
    assert_eq!(support::script(&admin, "forward")["denied"], 0, "{admin}");
    gw.gateway.stop().await;

    let data = DataDir::fresh("forward-denied");
    let gw = TestGateway::with_config(config(&data, forward_then_echo(false))).await;
    // The denial happens inside forward's call, before echo's: once echo's
    // pong is out, a copy would have been queued already.
    let sent = ping_from_a_friend(&gw).await;
    assert!(
        sent.iter().all(|r| r["action"] != "send_group_message"),
        "forwarded without the grant: {sent:#?}"
    );
    let script = denied_at_least(&gw, "forward", 1).await;
    assert_eq!(script["denied"], 1, "{script}");
    let reasons = script["denials"].to_string();
    assert!(reasons.contains("not in send_to"), "{reasons}");
    gw.gateway.stop().await;
}
