//! Grants confine a bot: a bot limited to one group never sees another
//! chat's messages, and cannot send, mute or kick outside its grants —
//! each attempt an error the bot sees, logged once per reason and counted
//! in `/admin/scripts`. Driven through `keeper`, which turns chat commands
//! into host calls and replies with what the host answered.

use std::time::Duration;

use openqq::config::{Config, ScriptEntry};
use serde_json::{Value, json};

use crate::support::receiver::Receiver;
use crate::support::{self, DataDir, TestGateway, entry, logs};

const WAIT: Duration = Duration::from_secs(20);
/// The group where the account is an admin (the simulator's default world).
const GROUP: u64 = 552603;
/// A group where the account is only a member.
const OTHER_GROUP: u64 = 661234;

fn config(data: &DataDir, scripts: Vec<ScriptEntry>, post_api: Option<&str>) -> Config {
    Config {
        post_api: post_api.map(str::to_string),
        ..support::config_with_store(data, scripts)
    }
}

/// `keeper` under `name`, with `grant` applied to its entry.
fn keeper(name: &str, grant: impl FnOnce(&mut ScriptEntry)) -> ScriptEntry {
    let mut e = ScriptEntry {
        name: Some(name.into()),
        ..entry("keeper", "")
    };
    grant(&mut e);
    e
}

fn in_group(group: u64, sender: u64, content: &str) -> Value {
    json!({"type": "group_message", "sender_qq": sender, "gnumber": group, "content": content})
}

fn from_friend(content: &str) -> Value {
    json!({"type": "message", "sender_qq": 123456, "content": content})
}

/// Receives `msg` and returns the text of the account's first message
/// after it (a send the bot made, or its reply).
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

async fn admin(gw: &TestGateway, name: &str) -> Value {
    support::script(&gw.admin_scripts().await, name).clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_limited_to_one_group_sees_only_it_and_is_denied_everywhere_else() {
    logs::capture();
    let data = DataDir::fresh("grants-confined");
    let mut rx = Receiver::start().await;
    let bot = keeper("confined", |e| {
        e.chats = Some(vec![format!("group:{GROUP}")])
    });
    let gw = TestGateway::with_config(config(&data, vec![bot], Some(&rx.url))).await;

    // Its own group reaches it.
    assert_eq!(
        ask(&gw, in_group(GROUP, 888888, "seen hi")).await,
        "seen: hi"
    );
    // Other chats never do: they go on to the webhook, uncalled.
    let calls = admin(&gw, "confined").await["calls"].clone();
    gw.receive(in_group(OTHER_GROUP, 888888, "seen other group"))
        .await;
    assert_eq!(rx.next().await.body["content"], "seen other group");
    gw.receive(from_friend("seen friend")).await;
    assert_eq!(rx.next().await.body["content"], "seen friend");
    let a = admin(&gw, "confined").await;
    assert_eq!(a["calls"], calls, "the bot was called for another chat");
    assert_eq!(a["other_chats"], 2);
    assert_eq!(a["grants"]["chats"], json!([format!("group:{GROUP}")]));
    assert_eq!(a["grants"]["send_to"], json!([]));

    // Acting in its own group needs no grant: a send there, and muting the
    // sender of the message it handles.
    let me = |c: &str| in_group(GROUP, 888888, c);
    assert_eq!(
        ask(&gw, me(&format!("send group {GROUP} 公告"))).await,
        "公告"
    );
    assert_eq!(ask(&gw, me(&format!("mute {GROUP} 888888 60"))).await, "ok");

    // Everything else is denied, with the reason.
    let denied = [
        (
            format!("send group {OTHER_GROUP} hi"),
            format!(
                "error: denied: send to group:{OTHER_GROUP}: not the chat being handled, and not in send_to"
            ),
        ),
        (
            "send friend 123456 hi".to_string(),
            "error: denied: send to friend:123456: not the chat being handled, and not in send_to"
                .to_string(),
        ),
        (
            format!("send temp {GROUP} 999999 hi"),
            "error: denied: send to sess:999999: not the chat being handled, and not in send_to"
                .to_string(),
        ),
        (
            format!("mute {GROUP} 999999 60"),
            format!("error: denied: mute in group:{GROUP}: not in moderate"),
        ),
        (
            format!("unmute {GROUP} 888888"),
            format!("error: denied: unmute in group:{GROUP}: not in moderate"),
        ),
        (
            format!("kick {GROUP} 999999"),
            format!("error: denied: kick in group:{GROUP}: not in moderate"),
        ),
    ];
    for (command, answer) in &denied {
        assert_eq!(&ask(&gw, me(command)).await, answer, "{command}");
    }
    // A destination by number is refused before it is looked up: a
    // confined bot cannot tell "not granted" from "no such friend"; nor
    // can it look up a group it is not granted.
    assert_eq!(
        ask(&gw, me("send friend 42 hi")).await,
        "error: denied: send to friend:42: not the chat being handled, and not in send_to"
    );
    assert_eq!(
        ask(&gw, me(&format!("member {OTHER_GROUP} 777777"))).await,
        "none"
    );
    assert_ne!(
        ask(&gw, me(&format!("member {GROUP} 888888"))).await,
        "none"
    );
    // A second try of the same is counted, not logged again.
    assert_eq!(ask(&gw, me(&denied[0].0)).await, denied[0].1);

    let a = admin(&gw, "confined").await;
    assert_eq!(a["denied"], 8);
    assert_eq!(
        a["denials"][format!(
            "send to group:{OTHER_GROUP}: not the chat being handled, and not in send_to"
        )],
        2
    );
    assert_eq!(
        a["denials"][format!("kick in group:{GROUP}: not in moderate")],
        1
    );
    let reason = format!("denied: send to group:{OTHER_GROUP}");
    let logged = ["confined", &reason, "logged once"];
    logs::line_with(&logged).await;
    let lines = logs::lines_with(&logged);
    assert_eq!(lines.len(), 1, "logged once: {lines:#?}");

    // Nothing denied reached QQ: the only mute is the sender's.
    let sent = gw.sent(0).await;
    let acted: Vec<(&str, &str)> = sent
        .iter()
        .filter(|r| {
            r["action"] != "send_group_message"
                || r["gnumber"].as_str().and_then(|g| g.parse().ok()) != Some(GROUP)
        })
        .map(|r| {
            (
                r["action"].as_str().unwrap_or(""),
                r["qq"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(acted, [("shutup", "888888")]);
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moderate_grant_allows_mute_unmute_and_kick_in_its_group_only() {
    let data = DataDir::fresh("grants-moderate");
    let bot = keeper("moderator", |e| e.moderate = vec![format!("group:{GROUP}")]);
    let gw = TestGateway::with_config(config(&data, vec![bot], None)).await;
    let seq = gw.last_seq().await;
    // From a friend chat: the grant, not the chat, decides.
    assert_eq!(
        ask(&gw, from_friend(&format!("mute {GROUP} 999999 120"))).await,
        "ok"
    );
    assert_eq!(
        ask(&gw, from_friend(&format!("unmute {GROUP} 999999"))).await,
        "ok"
    );
    assert_eq!(
        ask(&gw, from_friend(&format!("kick {GROUP} 999999"))).await,
        "ok"
    );
    // The API's rules still hold: an admin is not muted, a gone member is
    // not found.
    assert_eq!(
        ask(&gw, from_friend(&format!("mute {GROUP} 45678 60"))).await,
        "error: refused: member 45678 is the group's admin"
    );
    assert_eq!(
        ask(&gw, from_friend(&format!("kick {GROUP} 999999"))).await,
        "error: member 999999 not found",
        "a kicked member is gone"
    );
    assert_eq!(
        ask(&gw, from_friend(&format!("mute {OTHER_GROUP} 888888 60"))).await,
        format!("error: denied: mute in group:{OTHER_GROUP}: not in moderate")
    );
    let sent = gw.sent(seq).await;
    let acted: Vec<(&str, u64)> = sent
        .iter()
        .filter(|r| r["action"] != "send_message")
        .map(|r| {
            (
                r["action"].as_str().unwrap_or(""),
                r["time"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(acted, [("shutup", 120), ("shutup", 0), ("kick", 0)]);
    assert_eq!(admin(&gw, "moderator").await["denied"], 1);
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_to_grants_a_destination_and_the_per_chat_quota_still_bounds_it() {
    let data = DataDir::fresh("grants-send-to");
    let bot = keeper("poster", |e| {
        e.send_to = vec![format!("group:{OTHER_GROUP}")];
        e.sends_per_minute_per_chat = Some(2);
    });
    let gw = TestGateway::with_config(config(&data, vec![bot], None)).await;
    let post = format!("send group {OTHER_GROUP} 通知");
    assert_eq!(ask(&gw, from_friend(&post)).await, "通知");
    assert_eq!(ask(&gw, from_friend(&post)).await, "通知");
    assert_eq!(
        ask(&gw, from_friend(&post)).await,
        format!("error: denied: over sends_per_minute_per_chat = 2 for group:{OTHER_GROUP}")
    );
    // Still not anywhere else.
    assert_eq!(
        ask(&gw, from_friend(&format!("send group {GROUP} x"))).await,
        format!(
            "error: denied: send to group:{GROUP}: not the chat being handled, and not in send_to"
        )
    );
    let a = admin(&gw, "poster").await;
    assert_eq!(
        a["grants"]["send_to"],
        json!([format!("group:{OTHER_GROUP}")])
    );
    assert_eq!(a["grants"]["quotas"]["sends_per_minute_per_chat"], 2);
    assert_eq!(a["denied"], 2);
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timer_sends_only_where_granted_or_back_to_the_chat_that_set_it() {
    let data = DataDir::fresh("grants-timers");
    // A declared timer handles no chat: without send_to its posts are denied.
    let bot = keeper("ticker", |e| {
        e.config = toml::from_str(&format!("every_ms = 1000\ngroup = {GROUP}")).expect("toml");
    });
    let gw = TestGateway::with_config(config(&data, vec![bot], None)).await;
    let seq = gw.last_seq().await;
    // A one-shot timer set in a friend chat may answer there.
    assert_eq!(ask(&gw, from_friend("remind 1000 到点了")).await, "set");
    gw.post_json("/admin/clock", &json!({"advance_ms": 1500}))
        .await;
    let sent = gw
        .sent_until(seq, WAIT, |s| s.iter().any(|r| r["content"] == "到点了"))
        .await;
    assert!(
        sent.iter().all(|r| r["content"] != "tick:every"),
        "{sent:?}"
    );
    support::wait::poll("the tick denied", WAIT, || async {
        let a = admin(&gw, "ticker").await;
        (a["denials"]
            [format!("send to group:{GROUP}: not in send_to (a timer call handles no chat)")]
        .as_u64()
            > Some(0))
        .then_some(())
    })
    .await;
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_grants_are_refused_at_load_with_the_key_named() {
    let data = DataDir::fresh("grants-bad");
    for (grant, says) in [
        (
            (|e: &mut ScriptEntry| e.chats = Some(vec!["group:abc".into()]))
                as fn(&mut ScriptEntry),
            "chats: `group:abc`",
        ),
        (|e| e.send_to = vec!["room:1".into()], "send_to: `room:1`"),
        (
            |e| e.moderate = vec!["friend:1".into()],
            "moderate: `friend:1`",
        ),
        (
            |e| e.http = vec!["api.example.com".into()],
            "http: `api.example.com`: no scheme",
        ),
        (|e| e.sends_per_minute = Some(0), "sends_per_minute = 0"),
    ] {
        let cfg = config(&data, vec![keeper("bad", grant)], None);
        let e = cfg.check().expect_err(says).to_string();
        assert!(e.contains(says), "{e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_of_other_chats_never_reach_a_confined_bot() {
    let data = DataDir::fresh("grants-events");
    let guard = ScriptEntry {
        chats: Some(vec![format!("group:{OTHER_GROUP}")]),
        ..entry("group-guard", "welcome = \"欢迎 {name} 入群\"")
    };
    let gw = TestGateway::with_config(config(&data, vec![guard], None)).await;
    let seq = gw.last_seq().await;
    for (group, qq) in [(GROUP, 5550001), (OTHER_GROUP, 5550002)] {
        let join = json!({"gnumber": group, "qq": qq, "nick": format!("新人{qq}")});
        assert_eq!(gw.post_json("/sim/join", &join).await["code"], 0);
    }
    // The welcome for its own group is sent (an event's chat is the chat
    // being handled); the other group's join never reached it.
    let sent = gw
        .sent_until(seq, WAIT, |s| {
            s.iter().any(|r| r["content"] == "欢迎 新人5550002 入群")
        })
        .await;
    let welcomes: Vec<(&str, &str)> = sent
        .iter()
        .filter_map(|r| Some((r["gnumber"].as_str()?, r["content"].as_str()?)))
        .collect();
    assert_eq!(welcomes, [("661234", "欢迎 新人5550002 入群")]);
    assert_eq!(admin(&gw, "group-guard").await["denied"], 0);
    gw.gateway.stop().await;
}

/// A server whose `/slow` answers only when told and `/fast` at once.
async fn slow_and_fast() -> (String, tokio::sync::watch::Sender<bool>) {
    let (release, released) = tokio::sync::watch::channel(false);
    let app = axum::Router::new()
        .route("/fast", axum::routing::get(|| async { "fast" }))
        .route(
            "/slow",
            axum::routing::get(move || {
                let mut released = released.clone();
                async move {
                    let _ = released.wait_for(|r| *r).await;
                    "slow"
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, release)
}

/// A bot granted `http` takes a message on any free instance: while one
/// chat's call waits on a server, another chat that a fixed spread would
/// put on the same instance is answered by the same bot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_waiting_on_http_answers_its_other_chats_from_another_instance() {
    use openqq::model::ChatKind;
    let data = DataDir::fresh("grants-pooled");
    let (url, release) = slow_and_fast().await;
    let fetcher = ScriptEntry {
        http: vec![url.clone()],
        wall_ms: Some(30_000),
        ..entry("fetcher", "")
    };
    let gw = TestGateway::with_config(config(&data, vec![fetcher], None)).await;
    assert_eq!(admin(&gw, "fetcher").await["instances"], 4);
    // Two chats a chat-keyed spread over 4 instances puts on one instance:
    // the group, and a temp chat of one of its members.
    let slot = |k: &(ChatKind, u64, u64)| openqq::pipeline::spread(k, 4);
    let group_slot = slot(&(ChatKind::Group, GROUP, 0));
    let member = [888888u64, 999999, 123456, 45678, 123455]
        .into_iter()
        .find(|q| slot(&(ChatKind::Sess, *q, GROUP)) == group_slot)
        .expect("a member whose temp chat shares the group's instance");
    let seq = gw.last_seq().await;
    gw.receive(in_group(GROUP, 888888, &format!("/get {url}/slow")))
        .await;
    let temp = json!({"type": "sess_message", "sender_qq": member, "gnumber": GROUP,
                      "content": format!("/get {url}/fast")});
    gw.receive(temp).await;
    // The fast answer comes while the slow one is still held back.
    let sent = gw
        .sent_until(seq, WAIT, |s| {
            s.iter()
                .any(|r| r["content"].as_str().is_some_and(|c| c.contains("fast")))
        })
        .await;
    assert!(
        sent.iter()
            .all(|r| !r["content"].as_str().unwrap_or("").contains("slow")),
        "{sent:#?}"
    );
    release.send_replace(true);
    gw.sent_until(seq, WAIT, |s| {
        s.iter()
            .any(|r| r["content"].as_str().is_some_and(|c| c.contains("slow")))
    })
    .await;
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_per_minute_bounds_a_bot_across_all_its_chats() {
    let data = DataDir::fresh("grants-per-minute");
    let bot = keeper("broadcaster", |e| {
        e.send_to = vec![format!("group:{GROUP}"), format!("group:{OTHER_GROUP}")];
        e.sends_per_minute = Some(3);
    });
    let gw = TestGateway::with_config(config(&data, vec![bot], None)).await;
    for group in [GROUP, OTHER_GROUP, GROUP] {
        let post = format!("send group {group} 广播");
        assert_eq!(ask(&gw, from_friend(&post)).await, "广播");
    }
    assert_eq!(
        ask(&gw, from_friend(&format!("send group {OTHER_GROUP} 广播"))).await,
        "error: denied: over sends_per_minute = 3"
    );
    gw.gateway.stop().await;
}
