//! A message's path end to end: a decision's reply does not hold the
//! chat's lane while QQ confirms it, and a re-read of every contact does
//! not hold the messages that arrive meanwhile.

use crate::support;

use std::time::Duration;

use openqq::config::{BackendKind, Config, ScriptEntry};
use serde_json::{Value, json};
use support::onebot_peer::{Peer, PeerMember, PeerWorld, Quirks};
use support::{TestGateway, bot, test_config};

fn marker() -> ScriptEntry {
    ScriptEntry {
        path: bot("marker-v1"),
        name: Some("marker".into()),
        config: toml::Table::new(),
        timeout_ms: None,
        wall_ms: None,
        memory_mb: None,
        instances: None,
        kv_max_total_bytes: None,
        ..Default::default()
    }
}

/// With every send confirmed only after 3 s, 30 messages of one group are
/// all answered, in order, long before 30 × 3 s: the lane hands each reply
/// to QQ and takes the next message without waiting for the confirmation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_confirmation_does_not_hold_the_chat() {
    let mut config = Config {
        scripts: vec![marker()],
        ..test_config()
    };
    config.backend.send_latency_ms = 3_000;
    let gw = TestGateway::with_config(config).await;
    let after = gw.last_seq().await;
    let n = 30;
    for i in 0..n {
        gw.receive(json!({"type": "group_message", "sender_qq": 888888,
            "gnumber": 552603, "content": format!("m{i}")}))
            .await;
    }
    // Held lanes would need 90 s; the limit leaves room for a slow machine.
    let sent = gw
        .sent_until(after, Duration::from_secs(20), |s| s.len() >= n)
        .await;
    let replies: Vec<&str> = sent.iter().filter_map(|s| s["content"].as_str()).collect();
    let expected: Vec<String> = (0..n).map(|i| format!("v1:m{i}")).collect();
    assert_eq!(replies, expected, "every reply, in the chat's order");
    gw.gateway.stop().await;
}

/// After a reconnect the gateway re-reads every group's members; with the
/// implementation answering member lists only after a minute, a message
/// that arrives meanwhile is answered at once, from the contacts read
/// before, and a member who joins meanwhile stays known after the re-read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_are_answered_while_contacts_are_re_read() {
    const TOKEN: &str = "s3cret";
    let peer = Peer::serve(PeerWorld::standard(), Quirks::napcat(), TOKEN).await;
    let mut config = Config {
        scripts: vec![marker()],
        ..test_config()
    };
    config.backend.kind = BackendKind::Onebot;
    config.backend.url = Some(peer.url.clone());
    config.backend.access_token = TOKEN.into();
    config.backend.refresh_secs = 0;
    let gw = TestGateway::with_config(config).await;
    peer.connected(1).await;
    let lists_before = peer.calls("get_group_member_list").len();

    peer.slow("get_group_member_list", Duration::from_secs(60));
    peer.drop_connections();
    peer.connected(2).await;
    until("the re-read to ask for member lists", || {
        peer.calls("get_group_member_list").len() > lists_before
    })
    .await;

    let pushed = peer.push(peer.group_message(
        552603,
        888888,
        77,
        json!([{"type": "text", "data": {"text": "during"}}]),
    ));
    assert!(pushed, "the link is up");
    until("the reply to the message sent during the re-read", || {
        peer.calls("send_group_msg")
            .iter()
            .any(|c| text_of(&c["message"]).contains("v1:during"))
    })
    .await;
    let joined = PeerMember {
        qq: 4242,
        nick: "新人".into(),
        card: String::new(),
        role: "member",
        last_sent: 0,
    };
    assert!(peer.join(552603, joined), "the link is up");
    // The join is in the contacts the API serves while the re-read runs.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let members = gw.get("/openqq/get_group_info?gnumber=552603").await;
        if members.to_string().contains("4242") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the member who joined is not known: {members}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    gw.gateway.stop().await;
}

/// The text of a OneBot message (array of segments or a string).
fn text_of(message: &Value) -> String {
    match message {
        Value::String(s) => s.clone(),
        Value::Array(segs) => segs
            .iter()
            .filter_map(|s| s["data"]["text"].as_str())
            .collect(),
        _ => String::new(),
    }
}

/// Polls `done` for up to 10 s.
async fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
