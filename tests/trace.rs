//! The per-message trace (`/admin/trace`) and turning bots off and on
//! (`/admin/scripts/<name>/disable|enable`), on the real gateway with the
//! compiled example bots and a webhook receiver on 127.0.0.1.

use std::time::Duration;

use openqq::config::Config;
use serde_json::{Value, json};

use crate::support::receiver::Receiver;
use crate::support::sse::Events;
use crate::support::{self, DataDir, TestGateway, entry, wait};

const WAIT: Duration = Duration::from_secs(20);

fn friend(content: &str) -> Value {
    json!({"type": "message", "sender_qq": 123456, "content": content})
}

/// The trace of message `msg_id` once it is complete (not `pending`).
async fn trace_of(gw: &TestGateway, msg_id: &str) -> Value {
    wait::poll(&format!("the trace of {msg_id}"), WAIT, || async {
        let res = gw
            .http
            .get(gw.url(&format!("/admin/trace/{msg_id}")))
            .send()
            .await
            .expect("request");
        if res.status() != 200 {
            return None;
        }
        let t: Value = res.json().await.expect("JSON");
        (t["outcome"] != "pending").then_some(t)
    })
    .await
}

/// The steps of `kind` in a trace.
fn steps<'a>(t: &'a Value, kind: &str) -> Vec<&'a Value> {
    t["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|s| s["kind"] == kind)
        .collect()
}

/// Echo then misbehave, and the receiver as `post_api`.
async fn gateway(data: &DataDir, rx: &Receiver, trace_size: usize) -> TestGateway {
    let mut config = Config {
        post_api: Some(rx.url.clone()),
        ..support::config_with_store(data, vec![entry("echo", ""), entry("misbehave", "")])
    };
    config.console.trace_size = trace_size;
    TestGateway::with_config(config).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_says_who_answered_and_why_not() {
    let data = DataDir::fresh("trace");
    let mut rx = Receiver::start().await;
    let gw = gateway(&data, &rx, 1000).await;

    // (a) echo replies: its step, then the reply's send with its msg_id.
    let seq = gw.last_seq().await;
    let id = gw.receive(friend("ping")).await;
    let sent = gw.sent_until(seq, WAIT, |s| !s.is_empty()).await;
    let t = trace_of(&gw, &id).await;
    assert_eq!(t["kind"], "message");
    assert_eq!(t["chat"], "friend:123456");
    assert_eq!(t["sender_qq"], "123456");
    assert_eq!(t["content"], "ping");
    assert_eq!(t["outcome"], "replied", "{t:#}");
    let bot = steps(&t, "bot");
    assert_eq!(bot.len(), 1, "misbehave is not asked after echo decided");
    assert_eq!(bot[0]["bot"], "echo");
    assert_eq!(bot[0]["outcome"], "reply");
    assert_eq!(bot[0]["version"].as_str().map(str::len), Some(12));
    assert!(
        bot[0]["world"]
            .as_str()
            .is_some_and(|w| w.starts_with("0."))
    );
    let send = steps(&t, "send");
    assert_eq!(send.len(), 1, "{t:#}");
    assert_eq!(send[0]["outcome"], "ok");
    assert_eq!(send[0]["by"], "echo");
    assert_eq!(send[0]["retries"], 0);
    assert_eq!(
        send[0]["msg_id"].as_str(),
        Some(sent[0]["msg_id"].to_string().trim_matches('"'))
    );
    assert!(
        t["why"]
            .as_str()
            .is_some_and(|w| w.starts_with("echo replied")),
        "{t:#}"
    );

    // (b) both bots pass, the webhook answers 200 without a reply.
    let id = gw.receive(friend("hello")).await;
    rx.next_with("hello").await;
    let t = trace_of(&gw, &id).await;
    let outcomes: Vec<_> = steps(&t, "bot")
        .iter()
        .map(|s| (s["bot"].clone(), s["outcome"].clone()))
        .collect();
    assert_eq!(
        outcomes,
        [
            (json!("echo"), json!("pass")),
            (json!("misbehave"), json!("pass"))
        ]
    );
    let hook = steps(&t, "webhook");
    assert_eq!(hook.len(), 1, "{t:#}");
    assert_eq!(hook[0]["status"], 200);
    assert_eq!(hook[0]["acted"], false);
    assert_eq!(t["outcome"], "passed");
    assert_eq!(
        t["why"],
        "echo passed, misbehave passed; webhook answered 200 without a reply"
    );

    // The webhook replies: acted on, and its send is in the trace.
    let id = gw.receive(friend("reply:好的")).await;
    let t = trace_of(&gw, &id).await;
    assert_eq!(t["outcome"], "webhook", "{t:#}");
    assert_eq!(steps(&t, "webhook")[0]["acted"], true);
    let send = steps(&t, "send");
    assert_eq!(
        (&send[0]["by"], &send[0]["outcome"]),
        (&json!("webhook"), &json!("ok"))
    );

    // (c) a trap, and a denial by a grant.
    let id = gw.receive(friend("/trap")).await;
    let t = trace_of(&gw, &id).await;
    let bot = steps(&t, "bot");
    assert_eq!(bot[1]["bot"], "misbehave");
    assert_eq!(bot[1]["outcome"], "trap", "{t:#}");
    assert!(
        bot[1]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("trap requested")),
        "{t:#}"
    );
    assert!(
        t["why"]
            .as_str()
            .is_some_and(|w| w.contains("misbehave trapped")),
        "{t:#}"
    );
    let id = gw.receive(friend("/send 7891234 x")).await;
    let t = trace_of(&gw, &id).await;
    let bot = steps(&t, "bot");
    assert_eq!(bot[1]["outcome"], "reply", "{t:#}");
    assert!(
        bot[1]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("denied") && d.contains("send_to")),
        "{t:#}"
    );

    // The list: by number, filtered by chat and by bot.
    let all = gw.get("/admin/trace").await;
    let list = all["traces"].as_array().expect("traces");
    assert!(list.len() >= 5, "{all:#}");
    assert_eq!(all["last"], list.last().expect("some")["seq"]);
    assert!(
        list.windows(2)
            .all(|w| w[0]["seq"].as_u64() < w[1]["seq"].as_u64())
    );
    let after = list[list.len() - 2]["seq"].as_u64().expect("seq");
    let page = gw.get(&format!("/admin/trace?after={after}")).await;
    assert_eq!(page["traces"].as_array().map(Vec::len), Some(1));
    let page = gw.get("/admin/trace?limit=2").await;
    assert_eq!(page["traces"].as_array().map(Vec::len), Some(2));
    let other = gw.get("/admin/trace?chat=group:552603").await;
    assert_eq!(other["traces"].as_array().map(Vec::len), Some(0));
    let by_seq = gw.get(&format!("/admin/trace/{after}")).await;
    assert_eq!(by_seq["seq"], after);
    let missing = gw
        .http
        .get(gw.url("/admin/trace/no-such-message"))
        .send()
        .await
        .expect("request");
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.expect("JSON");
    assert!(body["error"].is_string());
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_shows_traces_live() {
    let data = DataDir::fresh("trace-stream");
    let rx = Receiver::start().await;
    let gw = gateway(&data, &rx, 1000).await;
    let mut events = Events::open(gw.http.get(gw.url("/admin/trace/stream"))).await;
    let id = gw.receive(friend("ping")).await;
    let done = events
        .until("trace", WAIT, |t| {
            t["id"] == id && t["outcome"] == "replied"
        })
        .await;
    assert_eq!(steps(&done, "send")[0]["outcome"], "ok");
    // The gateway stops with the stream open: it ends the stream.
    tokio::time::timeout(WAIT, gw.gateway.stop())
        .await
        .expect("stops with a viewer attached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_bot_is_skipped_until_enabled() {
    let data = DataDir::fresh("trace-disable");
    let mut rx = Receiver::start().await;
    let gw = gateway(&data, &rx, 1000).await;
    let post = |path: &str| gw.http.post(gw.url(path)).send();
    let res = post("/admin/scripts/echo/disable").await.expect("disable");
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.expect("JSON"),
        json!({"name": "echo", "enabled": false})
    );
    let admin = gw.admin_scripts().await;
    assert_eq!(support::script(&admin, "echo")["enabled"], false);
    assert_eq!(support::script(&admin, "misbehave")["enabled"], true);

    // echo is not asked: the webhook gets its ping.
    let id = gw.receive(friend("ping")).await;
    rx.next_with("ping").await;
    let t = trace_of(&gw, &id).await;
    let bot = steps(&t, "bot");
    assert_eq!(
        (&bot[0]["bot"], &bot[0]["outcome"]),
        (&json!("echo"), &json!("disabled"))
    );
    assert_eq!(t["outcome"], "passed");
    assert!(
        t["why"]
            .as_str()
            .is_some_and(|w| w.contains("echo is disabled")),
        "{t:#}"
    );

    // A reload keeps it off.
    gw.reload_scripts().await;
    assert_eq!(
        support::script(&gw.admin_scripts().await, "echo")["enabled"],
        false
    );

    let res = post("/admin/scripts/echo/enable").await.expect("enable");
    assert_eq!(res.json::<Value>().await.expect("JSON")["enabled"], true);
    let seq = gw.last_seq().await;
    let id = gw.receive(friend("ping")).await;
    let sent = gw.sent_until(seq, WAIT, |s| !s.is_empty()).await;
    assert_eq!(sent[0]["content"], "pong");
    assert_eq!(
        steps(&trace_of(&gw, &id).await, "bot")[0]["outcome"],
        "reply"
    );

    let res = post("/admin/scripts/nobody/disable")
        .await
        .expect("disable");
    assert_eq!(res.status(), 404);
    assert!(res.json::<Value>().await.expect("JSON")["error"].is_string());
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_size_zero_traces_nothing() {
    let data = DataDir::fresh("trace-off");
    let rx = Receiver::start().await;
    let gw = gateway(&data, &rx, 0).await;
    let seq = gw.last_seq().await;
    let id = gw.receive(friend("ping")).await;
    gw.sent_until(seq, WAIT, |s| !s.is_empty()).await;
    assert_eq!(
        gw.get("/admin/trace").await,
        json!({"traces": [], "last": 0})
    );
    let res = gw
        .http
        .get(gw.url(&format!("/admin/trace/{id}")))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 404);
    gw.gateway.stop().await;
}
