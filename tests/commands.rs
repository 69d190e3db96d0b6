//! The SDK's command layer end to end, through the compiled `toolbox` bot:
//! on the simulator (arguments, an @-mention trigger, permissions from the
//! role in the world or the message, operators from the bot's config, a
//! cooldown on the moved clock, a quote's sender and text), and on `onebot`
//! (real `at` and `reply` segments and `sender.role` reach the bot).

use std::time::Duration;

use openqq::config::{BackendKind, Config, ScriptEntry};
use serde_json::{Value, json};

use crate::support::onebot_peer::{Peer, PeerWorld, Quirks};
use crate::support::{self, DataDir, TestGateway, entry};

const WAIT: Duration = Duration::from_secs(20);
/// The simulator's group where 45678 is an admin, 123455 the owner and
/// 888888, 999999 members.
const GROUP: u64 = 552603;

fn toolbox() -> ScriptEntry {
    entry("toolbox", "operators = [123456]")
}

fn in_group(sender: u64, content: &str) -> Value {
    json!({"type": "group_message", "sender_qq": sender, "gnumber": GROUP, "content": content})
}

/// Receives `msg` and returns the text of the account's first message
/// after it.
async fn ask(gw: &TestGateway, msg: Value) -> String {
    let seq = gw.last_seq().await;
    gw.receive(msg).await;
    let sent = gw
        .sent_until(seq, WAIT, |s| s.iter().any(|r| r["content"].is_string()))
        .await;
    sent.iter()
        .find_map(|r| r["content"].as_str())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_arguments_mentions_permissions_and_cooldowns_on_the_simulator() {
    let data = DataDir::fresh("commands");
    let gw = TestGateway::with_config(support::config_with_store(&data, vec![toolbox()])).await;

    // Typed arguments, and why not.
    assert_eq!(ask(&gw, in_group(888888, "/add 2 40")).await, "2 + 40 = 42");
    assert_eq!(
        ask(&gw, in_group(888888, "/add two 40")).await,
        "/add: a must be a whole number, not \"two\" — usage: /add <a> <b>"
    );
    // An @-mention of the account starts a command without the prefix.
    let mut at_me = in_group(888888, "@小灰 add 1 1");
    at_me["at_me"] = json!(true);
    assert_eq!(ask(&gw, at_me).await, "1 + 1 = 2");

    // Permissions: a member is refused, the world's admin passes; the role
    // the simulator's JSON gives overrides the world's.
    let mut warn = in_group(888888, "/warn @乙 spam");
    warn["mentions"] = json!([999999]);
    assert_eq!(
        ask(&gw, warn.clone()).await,
        "/warn: for group admins and the owner only"
    );
    warn["sender_qq"] = json!(45678);
    assert_eq!(ask(&gw, warn.clone()).await, "⚠️ 999999 warned (1): spam");
    warn["sender_qq"] = json!(888888);
    warn["role"] = json!("owner");
    assert_eq!(ask(&gw, warn).await, "⚠️ 999999 warned (2): spam");
    // Operators come from the bot's config, in any chat.
    let from_operator = json!({"type": "message", "sender_qq": 123456, "content": "/ops"});
    assert_eq!(ask(&gw, from_operator).await, "hello, operator");
    assert_eq!(
        ask(&gw, in_group(45678, "/ops")).await,
        "/ops: for the bot's operators only"
    );

    // A cooldown per sender, on the gateway's clock.
    assert!(
        ask(&gw, in_group(999999, "/roll 20"))
            .await
            .starts_with("🎲 d20: ")
    );
    assert_eq!(
        ask(&gw, in_group(999999, "/r")).await,
        "/roll: again in 10 s"
    );
    assert!(
        ask(&gw, in_group(888888, "/roll"))
            .await
            .starts_with("🎲 d6: ")
    );
    let moved = gw
        .post_json("/admin/clock", &json!({"advance_ms": 10_000}))
        .await;
    assert_eq!(moved["code"], 0, "{moved}");
    assert!(
        ask(&gw, in_group(999999, "/r 2"))
            .await
            .starts_with("🎲 d2: ")
    );

    // A quote of an earlier message names its sender and text.
    let earlier = gw.receive(in_group(123456, "the quoted one")).await;
    let mut quoting = in_group(888888, "/who");
    quoting["reply_to"] = json!(earlier);
    quoting["at_all"] = json!(true);
    assert_eq!(
        ask(&gw, quoting).await,
        format!(
            "role=member mentions=[] at_me=false at_all=true reply={earlier}/123456/the quoted one"
        )
    );
    // Help, generated from the declarations.
    let help = ask(&gw, in_group(888888, "/help")).await;
    assert!(
        help.starts_with("Commands:\n/roll [sides] — Roll a die (also /r)\n"),
        "{help}"
    );
    assert!(
        help.contains("/warn <@member> [reason…] — Warn a member (admins)"),
        "{help}"
    );
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onebot_at_and_reply_segments_and_the_senders_role_reach_the_bot() {
    let peer = Peer::serve(PeerWorld::standard(), Quirks::napcat(), "s3cret").await;
    let data = DataDir::fresh("commands-onebot");
    let mut config: Config = support::config_with_store(&data, vec![toolbox()]);
    config.backend.kind = BackendKind::Onebot;
    config.backend.url = Some(peer.url.clone());
    config.backend.access_token = "s3cret".into();
    config.backend.refresh_secs = 0;
    let gw = TestGateway::with_config(config).await;
    peer.connected(1).await;

    let reply_text = |n: usize| {
        let peer = &peer;
        async move {
            let send = peer.nth_call("send_group_msg", n).await;
            send["message"][0]["data"]["text"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        }
    };

    // A quote, the account mentioned first, the command, another mention;
    // the sender an admin by the message's own `sender.role`.
    let mut e = peer.group_message(
        552603,
        888888,
        501,
        json!([
            {"type": "reply", "data": {"id": "-2147483000"}},
            {"type": "at", "data": {"qq": "1234567"}},
            {"type": "text", "data": {"text": " who "}},
            {"type": "at", "data": {"qq": "999999"}},
        ]),
    );
    e["sender"]["role"] = json!("admin");
    assert!(peer.push(e));
    assert_eq!(
        reply_text(1).await,
        "role=admin mentions=[1234567,999999] at_me=true at_all=false reply=-2147483000/?/?"
    );

    // A permission the role grants, an @-mention argument from a segment.
    let mut e = peer.group_message(
        552603,
        888888,
        502,
        json!([
            {"type": "text", "data": {"text": "/warn "}},
            {"type": "at", "data": {"qq": "999999"}},
            {"type": "text", "data": {"text": " flood"}},
        ]),
    );
    assert!(peer.push(e.clone()));
    assert_eq!(
        reply_text(2).await,
        "/warn: for group admins and the owner only"
    );
    e["message_id"] = json!(503);
    e["sender"]["role"] = json!("owner");
    assert!(peer.push(e));
    assert_eq!(reply_text(3).await, "⚠️ 999999 warned (1): flood");

    // A CQ string (go-cqhttp's string format): @all and a quote.
    let e = json!({"post_type": "message", "message_type": "group", "sub_type": "normal",
        "message_id": 504, "group_id": 552603, "user_id": 888888, "anonymous": null,
        "message": "[CQ:reply,id=77]/who [CQ:at,qq=all]", "raw_message": "", "font": 0,
        "sender": {"user_id": 888888, "nickname": "", "card": "", "role": "member"}});
    assert!(peer.push(e));
    assert_eq!(
        reply_text(4).await,
        "role=member mentions=[] at_me=false at_all=true reply=77/?/?"
    );
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_bot_answers_through_the_helper_module() {
    helper_bot("commands-py").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_javascript_bot_answers_through_the_helper_module() {
    helper_bot("commands-js").await;
}

/// The same commands, from `scripts/commands-py` or `scripts/commands-js`.
async fn helper_bot(name: &str) {
    let data = DataDir::fresh(name);
    let gw = TestGateway::with_config(support::config_with_store(
        &data,
        vec![entry(name, "operators = [123456]")],
    ))
    .await;
    assert_eq!(ask(&gw, in_group(888888, "/add 2 40")).await, "2 + 40 = 42");
    assert_eq!(
        ask(&gw, in_group(888888, "/add x 1")).await,
        "/add: a must be a whole number, not \"x\" — usage: /add <a> <b>"
    );
    let mut at_me = in_group(888888, "@小灰 add 1 1");
    at_me["at_me"] = json!(true);
    assert_eq!(ask(&gw, at_me).await, "1 + 1 = 2");
    let mut warn = in_group(888888, "/warn @乙 spam");
    warn["mentions"] = json!([999999]);
    assert_eq!(
        ask(&gw, warn.clone()).await,
        "/warn: for group admins and the owner only"
    );
    warn["sender_qq"] = json!(45678);
    assert_eq!(ask(&gw, warn).await, "⚠️ 999999 warned: spam");
    assert!(
        ask(&gw, in_group(999999, "/roll"))
            .await
            .starts_with("🎲 d6: ")
    );
    assert_eq!(
        ask(&gw, in_group(999999, "/r")).await,
        "/roll: again in 10 s"
    );
    let earlier = gw.receive(in_group(123456, "quoted")).await;
    let mut quoting = in_group(888888, "/who");
    quoting["reply_to"] = json!(earlier);
    assert_eq!(
        ask(&gw, quoting).await,
        format!("role=member mentions=[] at_me=false at_all=false reply={earlier}/123456/quoted")
    );
    gw.gateway.stop().await;
}

/// The console's dry run fills the same fields as the simulator's JSON: an
/// @-mention of the account, the sender's role and mentions reach the bot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_carries_mentions_and_the_role_to_the_command_layer() {
    let data = DataDir::fresh("commands-dry-run");
    let gw = TestGateway::with_config(support::config_with_store(&data, vec![toolbox()])).await;
    let dry = |body: Value| {
        let gw = &gw;
        async move {
            let a = gw.post_json("/admin/dry-run", &body).await;
            assert_eq!(a["dry_run"], true, "{a}");
            a["decided"]["reply"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        }
    };
    let at_me = json!({"kind": "group", "chat": GROUP, "sender": 888888,
        "content": "@小灰 add 1 1", "at_me": true});
    assert_eq!(dry(at_me).await, "1 + 1 = 2");
    let mut warn = json!({"kind": "group", "chat": GROUP, "sender": 888888,
        "content": "/warn @乙 spam", "mentions": [999999]});
    assert_eq!(
        dry(warn.clone()).await,
        "/warn: for group admins and the owner only"
    );
    warn["role"] = json!("owner");
    assert_eq!(dry(warn).await, "⚠️ 999999 warned (1): spam");
}
