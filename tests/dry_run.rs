//! `POST /admin/dry-run`: a typed message through the real loaded bots, as
//! the pipeline would decide it, with nothing sent — on `onebot` (nothing
//! reaches the OneBot peer, the webhook gets no post) and on `sim`; the
//! bots' store writes are kept apart.

use std::time::Duration;

use openqq::config::{BackendKind, Config};
use serde_json::{Value, json};

use crate::support::onebot_peer::{Peer, PeerWorld, Quirks};
use crate::support::receiver::Receiver;
use crate::support::{self, DataDir, TestGateway, entry};

const TOKEN: &str = "s3cret";
const WAIT: Duration = Duration::from_secs(20);

fn text(t: &str) -> Value {
    json!([{"type": "text", "data": {"text": t}}])
}

async fn dry_run(gw: &TestGateway, body: Value) -> Value {
    gw.post_json("/admin/dry-run", &body).await
}

fn guard_config(data: &DataDir) -> Config {
    support::config_with_store(
        data,
        vec![entry(
            "group-guard",
            "banned = [\"广告\"]\nshutup_seconds = 600",
        )],
    )
}

/// On OneBot: group-guard's reply and mute come back as decisions, twice
/// the same (its strike was not stored), the trace says dry run, and the
/// peer is asked for nothing; a message no bot takes says what the webhook
/// would be posted, and the webhook's first post is a real message's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_on_onebot_shows_the_bots_decisions_and_sends_nothing() {
    let data = DataDir::fresh("dry-run-onebot");
    let mut rx = Receiver::start().await;
    let peer = Peer::serve(PeerWorld::standard(), Quirks::napcat(), TOKEN).await;
    let mut config = guard_config(&data);
    config.backend.kind = BackendKind::Onebot;
    config.backend.url = Some(peer.url.clone());
    config.backend.access_token = TOKEN.to_string();
    config.backend.refresh_secs = 0;
    config.post_api = Some(rx.url.clone());
    let gw = TestGateway::with_config(config).await;
    peer.connected(1).await;

    let typed = json!({"kind": "group", "chat": 552603, "sender": 888888, "content": "加我买广告"});
    let mut answers = Vec::new();
    for _ in 0..2 {
        answers.push(dry_run(&gw, typed.clone()).await);
    }
    for a in &answers {
        assert_eq!(a["dry_run"], true, "{a}");
        assert_eq!(a["decided"]["by"], "group-guard", "{a}");
        assert_eq!(a["decided"]["mute"], 600, "{a}");
        // The first strike both times: the dry run's strike was not kept.
        let reply = a["decided"]["reply"].as_str().unwrap_or_default();
        assert!(
            reply.contains("请文明发言") && !reply.contains("第 2 次"),
            "{a}"
        );
        assert_eq!(a["bots"][0]["bot"], "group-guard", "{a}");
        assert_eq!(a["bots"][0]["outcome"], "reply", "{a}");
        assert!(a["bots"][0]["us"].as_u64().is_some(), "{a}");
        let suppressed = a["suppressed"].as_array().expect("suppressed");
        assert_eq!(suppressed[0]["action"], "reply", "{a}");
        assert_eq!(suppressed[0]["chat"], "group:552603", "{a}");
        assert_eq!(suppressed[1]["action"], "mute", "{a}");
        assert_eq!(suppressed[1]["qq"], "888888", "{a}");
        assert_eq!(suppressed[1]["secs"], 600, "{a}");
        assert!(suppressed[1].get("refused").is_none(), "{a}");
        assert_eq!(a["trace"]["dry_run"], true, "{a}");
        let why = a["trace"]["why"].as_str().unwrap_or_default();
        assert!(why.starts_with("dry run, nothing sent: "), "{why}");
        assert!(why.contains("left untouched"), "the kept write: {why}");
    }
    // In the ring, under its id.
    let id = answers[0]["msg_id"].as_str().expect("msg_id");
    assert!(id.starts_with("dry-run:"), "{id}");
    let t = gw.get(&format!("/admin/trace/{id}")).await;
    assert_eq!(
        (&t["dry_run"], &t["chat"]),
        (&json!(true), &json!("group:552603"))
    );
    let kv = gw.get("/admin/kv/group-guard").await;
    assert_eq!(kv["keys"], json!([]), "{kv}");

    // A message nobody takes: what the webhook would be posted.
    let quiet = json!({"kind": "group", "chat": 552603, "sender": 888888, "content": "hello",
        "sender_name": "路人", "role": "member"});
    let a = dry_run(&gw, quiet).await;
    assert_eq!(a["decided"], Value::Null, "{a}");
    assert_eq!(a["fallback"]["webhook"], true, "{a}");
    assert_eq!(a["fallback"]["report"]["content"], "hello", "{a}");
    assert_eq!(a["fallback"]["report"]["sender"], "路人", "{a}");
    assert_eq!(a["bots"][0]["outcome"], "pass", "{a}");

    // The real thing, after: the peer's first calls and the webhook's first
    // post are these messages', so the dry runs sent nothing before them.
    assert!(peer.push(peer.group_message(552603, 888888, 7_000_001, text("加我买广告"))));
    let ban = peer.nth_call("set_group_ban", 1).await;
    assert_eq!(ban["user_id"], json!(888888), "{ban}");
    let sends = peer.calls("send_group_msg");
    assert_eq!(sends.len(), 1, "only the real reply: {sends:?}");
    let said = sends[0]["message"].to_string();
    assert!(!said.contains("第 2 次"), "its first strike: {said}");
    assert_eq!(peer.calls("set_group_ban").len(), 1);
    assert!(peer.push(peer.group_message(552603, 999999, 7_000_002, text("hello"))));
    let first = rx.next().await.body;
    assert_eq!(
        first["msg_id"], "7000002",
        "the webhook's first post: {first}"
    );
    gw.gateway.stop().await;
}

/// On `sim` too: a bot's reply comes back, nothing is sent, and its store
/// is untouched — the real message after it is the first check-in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_on_sim_keeps_the_bots_store_as_it_was() {
    let data = DataDir::fresh("dry-run-sim");
    let gw = TestGateway::with_config(support::config_with_store(
        &data,
        vec![entry("daily-checkin", "")],
    ))
    .await;
    let seq = gw.last_seq().await;
    let typed = json!({"kind": "group", "chat": 552603, "sender": 888888, "content": "签到"});
    for _ in 0..2 {
        let a = dry_run(&gw, typed.clone()).await;
        let reply = a["decided"]["reply"].as_str().unwrap_or_default();
        assert!(reply.contains("签到成功"), "{a}");
    }
    gw.receive(
        json!({"type": "group_message", "sender_qq": 888888, "gnumber": 552603, "content": "签到"}),
    )
    .await;
    let sent = gw.sent_until(seq, WAIT, |s| !s.is_empty()).await;
    assert_eq!(sent.len(), 1, "only the real answer: {sent:?}");
    let content = sent[0]["content"].as_str().unwrap_or_default();
    assert!(content.contains("签到成功"), "{sent:?}");
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_dry_run_is_refused_with_why() {
    let gw = TestGateway::start().await;
    for (body, why) in [
        (
            json!({"kind": "group", "sender": 1, "content": "x"}),
            "`chat`",
        ),
        (
            json!({"kind": "room", "sender": 1, "content": "x"}),
            "`kind`",
        ),
        (
            json!({"kind": "friend", "sender": 1, "content": "x", "role": "king"}),
            "`role`",
        ),
    ] {
        let res = gw
            .http
            .post(gw.url("/admin/dry-run"))
            .json(&body)
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 400, "{body}");
        let v: Value = res.json().await.expect("JSON");
        assert!(v["error"].as_str().is_some_and(|e| e.contains(why)), "{v}");
    }
    // Friend chats need no `chat`; with no bots, the message would go to
    // nobody (no webhook configured).
    let a = dry_run(
        &gw,
        json!({"kind": "friend", "sender": 123456, "content": "hi"}),
    )
    .await;
    assert_eq!(a["fallback"]["webhook"], false, "{a}");
    assert!(
        a["trace"]["why"]
            .as_str()
            .is_some_and(|w| w.contains("no webhook configured")),
        "{a}"
    );
    gw.gateway.stop().await;
}
