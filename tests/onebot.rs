//! End to end on the `onebot` backend: a real gateway on 127.0.0.1 against
//! the OneBot peer in `support/onebot_peer.rs`, playing NapCat or go-cqhttp.
//!
//! The peer's world is the sim's default world without the discussion (QQ
//! no longer has discussions): the account 小灰 1234567; friends 123456
//! (remark xxx) and 7891234 (remark 哈哈); group 552603 PERL学习交流 where
//! the account is admin (owner 123455, admin 45678, members
//! 123456/888888/999999); group 661234 吃瓜群 where it is a member (owner
//! 777777, member 888888). On this backend ids equal the numbers.

use crate::support;

use std::time::Duration;

use openqq::config::{BackendKind, Config, OnebotMode, ScriptEntry};
use openqq::render::Dialect;
use serde_json::{Value, json};
use support::api::{
    Case, array, by_field, client, free_port, member_qqs, refused_mutes, send_err, sent_ok, status,
    three_ways,
};
use support::onebot_peer::{Peer, PeerMember, PeerWorld, Quirks};
use support::receiver::Receiver;
use support::{TestGateway, logs, test_config, wait};

const TOKEN: &str = "s3cret";
const WAIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------- helpers

fn onebot_config(url: &str, token: &str) -> Config {
    let mut c = test_config();
    c.backend.kind = BackendKind::Onebot;
    c.backend.url = Some(url.to_string());
    c.backend.access_token = token.to_string();
    c.backend.refresh_secs = 0;
    c
}

async fn gateway(config: Config) -> TestGateway {
    let mut gw = TestGateway::with_config(config).await;
    gw.http = client(Duration::from_secs(30));
    gw
}

/// A peer with `quirks` and a gateway dialing it (plus a webhook, if given).
async fn start(quirks: Quirks, post_api: Option<&str>) -> (Peer, TestGateway) {
    let peer = Peer::serve(PeerWorld::standard(), quirks, TOKEN).await;
    let mut config = onebot_config(&peer.url, TOKEN);
    config.post_api = post_api.map(str::to_string);
    let gw = gateway(config).await;
    (peer, gw)
}

fn text(t: &str) -> Value {
    json!([{"type": "text", "data": {"text": t}}])
}

// ---------------------------------------------------------------- contacts

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_appear_with_numbers_as_ids() {
    for quirks in [Quirks::napcat(), Quirks::gocq()] {
        let (peer, gw) = start(quirks.clone(), None).await;

        let u = gw.get("/openqq/get_user_info").await;
        assert_eq!(u["qq"], "1234567", "{u}");
        assert_eq!(u["id"], "1234567");
        assert_eq!(u["account"], "1234567");
        assert_eq!(u["nick"], "小灰");
        assert_eq!(u["gender"], "male");
        assert_eq!(u["signature"], "签名");
        assert_eq!(u["state"], "online");

        let f = gw.get("/openqq/get_friend_info").await;
        let f = array(&f);
        assert_eq!(f.len(), 2, "{f:?}");
        let a = by_field(f, "qq", "123456");
        assert_eq!(a["id"], "123456");
        assert_eq!(a["nick"], "测试帐号1");
        assert_eq!(a["markname"], "xxx");
        assert_eq!(by_field(f, "qq", "7891234")["markname"], "哈哈");

        let g = gw.get("/openqq/get_group_info").await;
        let g = array(&g);
        let perl = by_field(g, "gnumber", "552603");
        assert_eq!(perl["gid"], "552603");
        assert_eq!(perl["gname"], "PERL学习交流");
        assert_eq!(perl["gtype"], "manage", "the account is an admin");
        assert_eq!(perl["gowner"], "123455");
        let members = array(&perl["member"]);
        assert_eq!(members.len(), 6);
        assert_eq!(by_field(members, "qq", "999999")["card"], "乙");
        assert_eq!(by_field(members, "qq", "999999")["id"], "999999");
        assert_eq!(by_field(members, "qq", "45678")["role"], "admin");
        assert_eq!(by_field(members, "qq", "123455")["role"], "owner");
        assert_eq!(by_field(g, "gnumber", "661234")["gtype"], "attend");

        let basic = gw.get("/openqq/get_group_basic_info").await;
        assert!(
            array(&basic).iter().all(|g| g.get("member").is_none()),
            "{basic}"
        );
        assert_eq!(gw.get("/openqq/get_discuss_info").await, json!([]));
        let found = gw
            .get("/openqq/search_friend?markname=%E5%93%88%E5%93%88")
            .await;
        assert_eq!(array(&found)[0]["qq"], "7891234");

        // Whole lists, cache allowed, never one call per member.
        let lists = peer.calls("get_group_member_list");
        assert_eq!(lists.len(), 2, "{lists:?}");
        assert!(
            lists.iter().all(|p| p["no_cache"] == json!(false)),
            "{lists:?}"
        );
        assert!(peer.calls("get_group_member_info").is_empty());
        gw.gateway.stop().await;
    }
}

// ---------------------------------------------------------------- inbound

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_message_reaches_the_webhook_and_the_reply_is_a_text_segment() {
    for quirks in [
        Quirks {
            duplicate_events: true,
            ..Quirks::napcat()
        },
        Quirks::gocq(),
    ] {
        let mut rx = Receiver::start().await;
        let (peer, gw) = start(quirks, Some(&rx.url)).await;
        peer.connected(1).await;

        // A reply that looks like CQ codes must reach QQ as text.
        let id = 3_000_000_123_i64;
        let segs = json!([
            {"type": "text", "data": {"text": "reply:[CQ:at,qq=all] &hi"}},
            {"type": "image", "data": {"file": "a.jpg", "url": "http://127.0.0.1/a.jpg"}},
        ]);
        assert!(peer.push(peer.group_message(552603, 888888, id, segs)));
        let r = rx.next().await;
        let b = &r.body;
        assert_eq!(b["type"], "group_message", "{b}");
        assert_eq!(b["msg_id"], id.to_string(), "ids above i32 survive");
        assert_eq!(b["content"], "reply:[CQ:at,qq=all] &hi[图片]");
        assert_eq!(b["sender"], "路人甲");
        assert_eq!(b["sender_qq"], json!(888888));
        assert_eq!(b["gnumber"], json!(552603));
        assert_eq!(b["group"], "PERL学习交流");
        assert_eq!(b["receiver_qq"], json!(1234567));

        let send = peer.nth_call("send_group_msg", 1).await;
        assert_eq!(send["group_id"], json!(552603));
        assert_eq!(send["message"], text("[CQ:at,qq=all] &hi[图片]"));

        // Segments render the way Mojo-Webqq showed them.
        let segs = json!([
            {"type": "reply", "data": {"id": "1"}},
            {"type": "at", "data": {"qq": "999999"}},
            {"type": "text", "data": {"text": " 看"}},
            {"type": "face", "data": {"id": "178"}},
            {"type": "poke", "data": {"type": "1", "id": "1"}},
            {"type": "mystery", "data": {}},
        ]);
        peer.push(peer.group_message(552603, 123456, id + 1, segs));
        let r = rx.next().await;
        assert_eq!(r.body["content"], "@乙 看[表情][戳一戳][mystery]");
        assert_eq!(r.body["msg_id"], (id + 1).to_string());

        // Delivered twice (duplicate_events) or once: reported once. The
        // marker, in the same chat (so handled and reported in order), is
        // reported next, not a copy of the message before it.
        peer.push(peer.group_message(552603, 123456, id + 2, text("marker")));
        assert_eq!(rx.next().await.body["content"], "marker");
        assert!(rx.drain().is_empty(), "no duplicate report");
        assert_eq!(peer.calls("send_group_msg").len(), 1);
        gw.gateway.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_and_temp_messages_are_reported_and_answered() {
    let mut rx = Receiver::start().await;
    let (peer, gw) = start(Quirks::napcat(), Some(&rx.url)).await;
    peer.connected(1).await;

    peer.push(peer.private_message(123456, None, 11, text("reply:pong")));
    let r = rx.next().await;
    assert_eq!(r.body["type"], "message");
    assert_eq!(r.body["sender"], "xxx", "a friend shows by remark");
    assert_eq!(r.body["sender_qq"], json!(123456));
    let send = peer.nth_call("send_private_msg", 1).await;
    assert_eq!(send, json!({"user_id": 123456, "message": text("pong")}));

    peer.push(peer.private_message(999999, Some(552603), 12, text("reply:psst")));
    let r = rx.next().await;
    assert_eq!(r.body["type"], "sess_message");
    assert_eq!(r.body["via"], "group");
    assert_eq!(r.body["group"], "PERL学习交流");
    assert_eq!(r.body["sender"], "乙");
    let send = peer.nth_call("send_private_msg", 2).await;
    assert_eq!(
        send,
        json!({"user_id": 999999, "group_id": 552603, "message": text("psst")})
    );

    // The account's own messages are never reported (reply loops).
    peer.push(peer.group_message(552603, 1234567, 13, text("reply:loop")));
    peer.push(peer.private_message(7891234, None, 14, text("after")));
    assert_eq!(rx.next().await.body["content"], "after");
    gw.gateway.stop().await;
}

/// Regression: messages that could not be used were dropped at `debug`
/// (or silently), and a message without an id made every later one from
/// its chat a "duplicate" for 120 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_messages_are_warned_about_and_ones_without_ids_all_arrive() {
    logs::capture();
    let mut rx = Receiver::start().await;
    let (peer, gw) = start(Quirks::napcat(), Some(&rx.url)).await;
    peer.connected(1).await;

    // A group message without its group.
    let mut m = peer.group_message(552603, 888888, 91, text("x"));
    if let Some(o) = m.as_object_mut() {
        o.remove("group_id");
    }
    m["raw_message"] = json!("no-group-7f3a");
    assert!(peer.push(m));
    let line = logs::line_with(&["dropped a message", "no-group-7f3a"]).await;
    assert!(line.contains("WARN") && line.contains("group_id"), "{line}");

    // A field of the wrong type: the message does not decode.
    let mut m = peer.group_message(552603, 888888, 92, text("x"));
    m["sender"] = json!("not an object");
    m["raw_message"] = json!("bad-sender-7f3a");
    assert!(peer.push(m));
    let line = logs::line_with(&["could not be read", "bad-sender-7f3a"]).await;
    assert!(
        line.contains("WARN") && line.contains("invalid type"),
        "{line}"
    );

    // Two messages without a message_id from one chat: both are reported.
    for t in ["no-id-1", "no-id-2"] {
        let mut m = peer.group_message(552603, 888888, 0, text(t));
        if let Some(o) = m.as_object_mut() {
            o.remove("message_id");
        }
        assert!(peer.push(m));
    }
    // The webhook posts with some concurrency: the two may arrive in
    // either order.
    let mut got = [
        rx.next().await.body["content"].clone(),
        rx.next().await.body["content"].clone(),
    ];
    got.sort_by_key(ToString::to_string);
    assert_eq!(got, [json!("no-id-1"), json!("no-id-2")]);
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_update_the_contacts() {
    let (peer, gw) = start(Quirks::napcat(), None).await;
    peer.connected(1).await;

    // A member joins: in the group at once, with their nick once looked up.
    peer.edit_world(|w| {
        w.groups[0].members.push(PeerMember {
            qq: 4242,
            nick: "新人".into(),
            card: "".into(),
            role: "member",
            last_sent: 0,
        });
    });
    peer.push(
        json!({"post_type": "notice", "notice_type": "group_increase", "sub_type": "approve",
        "group_id": 552603, "user_id": 4242, "operator_id": 0}),
    );
    wait::poll("the new member's nick", WAIT, || async {
        let g = gw.get("/openqq/get_group_info").await;
        let perl = by_field(array(&g), "gnumber", "552603").clone();
        array(&perl["member"])
            .iter()
            .find(|m| m["qq"] == "4242" && m["nick"] == "新人")
            .cloned()
    })
    .await;

    // They leave.
    peer.push(
        json!({"post_type": "notice", "notice_type": "group_decrease", "sub_type": "leave",
        "group_id": 552603, "user_id": 4242, "operator_id": 4242}),
    );
    wait::poll("the member gone", WAIT, || async {
        (!member_qqs(&gw, "552603")
            .await
            .contains(&"4242".to_string()))
        .then_some(())
    })
    .await;

    // A new friend.
    peer.edit_world(|w| w.friends.push((5555, "新朋友".into(), String::new())));
    peer.push(json!({"post_type": "notice", "notice_type": "friend_add", "user_id": 5555}));
    wait::poll("the new friend", WAIT, || async {
        let f = gw.get("/openqq/get_friend_info").await;
        array(&f)
            .iter()
            .find(|f| f["qq"] == "5555" && f["nick"] == "新朋友")
            .cloned()
    })
    .await;
    sent_ok(&gw.get("/openqq/send_message?qq=5555&content=hi").await);

    // The account joins a group: everything is read again.
    peer.edit_world(|w| {
        w.groups.push(support::onebot_peer::PeerGroup {
            id: 700001,
            name: "新群".into(),
            members: vec![PeerMember {
                qq: 1234567,
                nick: "小灰".into(),
                card: String::new(),
                role: "owner",
                last_sent: 0,
            }],
        });
    });
    peer.push(
        json!({"post_type": "notice", "notice_type": "group_increase", "sub_type": "invite",
        "group_id": 700001, "user_id": 1234567, "operator_id": 1}),
    );
    wait::poll("the new group", WAIT, || async {
        let g = gw.get("/openqq/get_group_basic_info").await;
        array(&g)
            .iter()
            .find(|g| g["gnumber"] == "700001" && g["gtype"] == "create")
            .cloned()
    })
    .await;
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_refresh_re_reads_contacts_changed_without_an_event() {
    logs::capture();
    let peer = Peer::serve(PeerWorld::standard(), Quirks::napcat(), TOKEN).await;
    let mut config = onebot_config(&peer.url, TOKEN);
    config.backend.refresh_secs = 1;
    let gw = gateway(config).await;
    // A rename has no OneBot notice: only a re-read of the group list sees it.
    peer.edit_world(|w| {
        if let Some(g) = w.groups.iter_mut().find(|g| g.id == 552603) {
            g.name = "改名以后".into();
        }
    });
    wait::poll("the renamed group", WAIT, || async {
        let g = gw.get("/openqq/get_group_basic_info").await;
        array(&g)
            .iter()
            .find(|g| g["gnumber"] == "552603" && g["gname"] == "改名以后")
            .cloned()
    })
    .await;
    // The session says why it re-read, and does not claim the link came up.
    logs::line_with(&["contacts changed on the QQ side; re-syncing them"]).await;
    gw.gateway.stop().await;
}

/// A v2 gateway on `peer` whose contact events go to `rx`.
async fn v2_gateway(peer: &Peer, rx: &Receiver, refresh_secs: u64) -> TestGateway {
    let mut config = onebot_config(&peer.url, TOKEN);
    config.api_version = Dialect::V2;
    config.post_api = Some(rx.url.clone());
    config.post_event_list = Some(vec!["new_group_member".into(), "new_friend".into()]);
    config.backend.refresh_secs = refresh_secs;
    gateway(config).await
}

fn is_contact_event(b: &Value) -> bool {
    b["post_type"] == "event" && (b["event"] == "new_group_member" || b["event"] == "new_friend")
}

/// The next `new_group_member` / `new_friend` report, skipping others.
async fn next_contact_event(rx: &mut Receiver) -> Value {
    loop {
        let r = rx.next().await;
        if is_contact_event(&r.body) {
            return r.body;
        }
    }
}

/// The contact events reported besides a marker's: a join of `marker` to
/// 552603, pushed now. It takes the same ordered way as any contact event
/// before it (one link, one session emitting in order, one task turning
/// events into reports), so once its report is in and the webhook has
/// posted all it had queued, every earlier event's report is in too.
async fn contact_events_before_a_marker(
    peer: &Peer,
    gw: &TestGateway,
    rx: &mut Receiver,
    marker: i64,
) -> Vec<Value> {
    peer.edit_world(|w| w.groups[0].members.push(newcomer(marker)));
    assert!(peer.push(
        json!({"post_type": "notice", "notice_type": "group_increase", "sub_type": "approve",
            "group_id": 552603, "user_id": marker, "operator_id": 0})
    ));
    let mut others = Vec::new();
    loop {
        let e = next_contact_event(rx).await;
        if e["event"] == "new_group_member" && e["params"][0]["uid"] == marker {
            break;
        }
        others.push(e);
    }
    let webhook = gw.gateway.webhook.as_ref().expect("a webhook");
    tokio::time::timeout(WAIT, webhook.drained())
        .await
        .expect("the webhook drained");
    others.extend(
        rx.drain()
            .into_iter()
            .map(|r| r.body)
            .filter(is_contact_event),
    );
    others
}

/// The v2 member `uid` of group `gnumber` once `pick` holds for it.
async fn v2_member_where(
    gw: &TestGateway,
    gnumber: u64,
    uid: u64,
    pick: impl Fn(&Value) -> bool,
) -> Value {
    wait::poll(
        &format!("member {uid} of {gnumber} as expected"),
        WAIT,
        || async {
            let g = gw.get("/openqq/get_group_info").await;
            array(&g)
                .iter()
                .find(|g| g["uid"] == gnumber)
                .and_then(|g| g["member"].as_array())
                .and_then(|m| m.iter().find(|m| m["uid"] == uid && pick(m)))
                .cloned()
        },
    )
    .await
}

/// Regression: a join was reported twice (the notice, then the look-up's
/// details as a second join, the first with an empty name), and a new
/// friend too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_join_notice_is_one_new_group_member_event() {
    let mut rx = Receiver::start().await;
    let peer = Peer::serve(PeerWorld::standard(), Quirks::napcat(), TOKEN).await;
    let gw = v2_gateway(&peer, &rx, 0).await;
    peer.connected(1).await;

    peer.edit_world(|w| {
        w.groups[0].members.push(PeerMember {
            qq: 4242,
            nick: "新人".into(),
            card: "新人卡".into(),
            role: "member",
            last_sent: 0,
        });
    });
    let join = json!({"post_type": "notice", "notice_type": "group_increase", "sub_type": "approve",
        "group_id": 552603, "user_id": 4242, "operator_id": 0});
    assert!(peer.push(join));
    let e = next_contact_event(&mut rx).await;
    assert_eq!(e["event"], "new_group_member", "{e}");
    assert_eq!(e["params"][0]["uid"], 4242, "{e}");
    assert_eq!(e["params"][1]["uid"], 552603, "{e}");
    // Looked up before it was reported: no later update is needed.
    assert_eq!(
        (&e["params"][0]["name"], &e["params"][0]["card"]),
        (&json!("新人"), &json!("新人卡")),
        "{e}"
    );
    assert_eq!(peer.calls("get_group_member_info").len(), 1);
    // The same join notified again with another body (NapCat#574): known.
    let again = json!({"post_type": "notice", "notice_type": "group_increase", "sub_type": "invite",
        "group_id": 552603, "user_id": 4242, "operator_id": 1});
    assert!(peer.push(again));

    // A new friend: one new_friend, named once looked up.
    peer.edit_world(|w| w.friends.push((5555, "新朋友".into(), String::new())));
    peer.push(json!({"post_type": "notice", "notice_type": "friend_add", "user_id": 5555}));
    let e = next_contact_event(&mut rx).await;
    assert_eq!(e["event"], "new_friend", "no second new_group_member: {e}");
    assert_eq!(e["params"][0]["uid"], 5555, "{e}");
    wait::poll("the new friend's nick", WAIT, || async {
        let f = gw.get("/openqq/get_friend_info").await;
        array(&f)
            .iter()
            .find(|f| f["uid"] == 5555 && f["name"] == "新朋友")
            .cloned()
    })
    .await;
    let more = contact_events_before_a_marker(&peer, &gw, &mut rx, 4343).await;
    assert!(more.is_empty(), "reported again: {more:#?}");
    gw.gateway.stop().await;
}

fn newcomer(qq: i64) -> PeerMember {
    PeerMember {
        qq,
        nick: "新人".into(),
        card: "新人卡".into(),
        role: "member",
        last_sent: 0,
    }
}

/// Issue 13: a member who joined was reported (and listed) with an empty
/// nick until a later look-up, so a welcome bot greeted nobody. The first
/// report now carries the name, the contacts have it at once, the welcome
/// names them, and what they say right after the join comes from someone
/// known — on NapCat, whose cache lacks a fresh member (looked up again
/// from QQ's servers), and on go-cqhttp, whose cache has them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_who_joins_is_reported_listed_and_greeted_by_name() {
    for quirks in [Quirks::napcat(), Quirks::gocq()] {
        let mut rx = Receiver::start().await;
        let peer = Peer::serve(PeerWorld::standard(), quirks.clone(), TOKEN).await;
        let mut config = onebot_config(&peer.url, TOKEN);
        config.api_version = Dialect::V2;
        config.post_api = Some(rx.url.clone());
        config.post_event_list = Some(vec!["new_group_member".into()]);
        config.scripts = vec![ScriptEntry {
            path: support::bot("group-guard"),
            name: None,
            config: toml::from_str("welcome = \"欢迎 {name} 入群\"").expect("TOML"),
            timeout_ms: None,
            wall_ms: None,
            memory_mb: None,
            instances: None,
            kv_max_total_bytes: None,
            ..Default::default()
        }];
        config.cache_dir = Some(support::workspace().join("target/test-cwasm-cache"));
        let gw = gateway(config).await;
        peer.connected(1).await;

        let started = std::time::Instant::now();
        assert!(peer.join(552603, newcomer(4242)));
        assert!(peer.push(peer.group_message(552603, 4242, 3_000_000_500, text("大家好"))));
        let (mut joined, mut said) = (None, None);
        while joined.is_none() || said.is_none() {
            let b = rx.next().await.body;
            if b["event"] == "new_group_member" {
                joined = Some(b);
            } else if b["content"] == "大家好" {
                said = Some(b);
            }
        }
        let (joined, said) = (joined.unwrap_or_default(), said.unwrap_or_default());
        let member = &joined["params"][0];
        assert_eq!(
            (&member["uid"], &member["name"], &member["card"]),
            (&json!(4242), &json!("新人"), &json!("新人卡")),
            "{joined}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        // The message after the join is from a known member.
        assert_eq!(said["sender_uid"], 4242, "{said}");
        assert_eq!(said["sender"], "新人卡", "{said}");
        // Listed with the name at once, not after a later look-up.
        let g = gw.get("/openqq/get_group_info").await;
        let perl = array(&g)
            .iter()
            .find(|g| g["uid"] == 552603)
            .expect("the group");
        let listed = array(&perl["member"])
            .iter()
            .find(|m| m["uid"] == 4242)
            .unwrap_or_else(|| panic!("not listed: {perl}"));
        assert_eq!(
            (&listed["name"], &listed["card"]),
            (&json!("新人"), &json!("新人卡")),
            "{listed}"
        );
        // The welcome bot (an on-event bot) greets them by name.
        peer.until("the welcome", |p| {
            p.calls("send_group_msg")
                .into_iter()
                .find(|c| c["message"] == text("欢迎 新人卡 入群"))
        })
        .await;
        let asked: Vec<Value> = peer
            .calls("get_group_member_info")
            .iter()
            .map(|c| c["no_cache"].clone())
            .collect();
        let expected = if quirks.fresh_members_uncached {
            vec![json!(false), json!(true)]
        } else {
            vec![json!(false)]
        };
        assert_eq!(asked, expected, "the cached look-up first");
        gw.gateway.stop().await;
    }
}

/// The join is never lost nor held long for its look-up: refused, it is
/// reported at once; slow, once answered; unanswered, at the bound (here `[backend]
/// timeout_secs = 1`) — named by what is known (the friend list), else by
/// the number, never with an empty name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_whose_look_up_fails_is_reported_promptly_with_a_fallback_name() {
    let mut rx = Receiver::start().await;
    let peer = Peer::serve(PeerWorld::standard(), Quirks::napcat(), TOKEN).await;
    let mut config = onebot_config(&peer.url, TOKEN);
    config.api_version = Dialect::V2;
    config.post_api = Some(rx.url.clone());
    config.post_event_list = Some(vec!["new_group_member".into()]);
    config.backend.timeout_secs = 1;
    let gw = gateway(config).await;
    peer.connected(1).await;

    // Refused: reported at once, by number.
    peer.fail("get_group_member_info", "成员不存在");
    let started = std::time::Instant::now();
    assert!(peer.join(552603, newcomer(4242)));
    let e = next_contact_event(&mut rx).await;
    let took = started.elapsed();
    assert_eq!(
        (&e["params"][0]["uid"], &e["params"][0]["name"]),
        (&json!(4242), &json!("4242")),
        "{e}"
    );
    assert!(took < Duration::from_millis(900), "{took:?}");
    let listed = v2_member_where(&gw, 552603, 4242, |_| true).await;
    assert_eq!(listed["name"], "4242", "{listed}");

    // Slow but within the bound: waited for, named by the look-up.
    peer.succeed("get_group_member_info");
    peer.slow("get_group_member_info", Duration::from_millis(300));
    let started = std::time::Instant::now();
    assert!(peer.join(661234, newcomer(4343)));
    let e = next_contact_event(&mut rx).await;
    let took = started.elapsed();
    assert_eq!(
        (&e["params"][0]["uid"], &e["params"][0]["name"]),
        (&json!(4343), &json!("新人")),
        "{e}"
    );
    assert!(took >= Duration::from_millis(300), "{took:?}");

    // Unanswered: reported at the bound, by the friend list's nick.
    peer.ignore("get_group_member_info");
    let started = std::time::Instant::now();
    assert!(peer.join(552603, newcomer(7891234)));
    let e = next_contact_event(&mut rx).await;
    let took = started.elapsed();
    assert_eq!(
        (&e["params"][0]["uid"], &e["params"][0]["name"]),
        (&json!(7891234), &json!("测试帐号2")),
        "{e}"
    );
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
    gw.gateway.stop().await;
}

/// Regression: every re-read reported each member who had talked (and any
/// changed card or remark) as a new member or friend.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_re_read_reports_changes_to_known_contacts_as_nothing_new() {
    let mut rx = Receiver::start().await;
    let peer = Peer::serve(PeerWorld::standard(), Quirks::napcat(), TOKEN).await;
    let gw = v2_gateway(&peer, &rx, 1).await;
    peer.connected(1).await;

    // 888888 talked (last-speak time), 999999 changed its card, and the
    // friend 123456 got a new remark: no OneBot notice, only a re-read.
    peer.edit_world(|w| {
        for m in &mut w.groups[0].members {
            match m.qq {
                888888 => m.last_sent = 1_700_000_500,
                999999 => m.card = "乙二".into(),
                _ => {}
            }
        }
        if let Some(f) = w.friends.iter_mut().find(|f| f.0 == 123456) {
            f.2 = "新备注".into();
        }
    });
    let m = v2_member_where(&gw, 552603, 999999, |m| m["card"] == "乙二").await;
    assert_eq!(m["id"], 999999, "the same member, updated in place");
    v2_member_where(&gw, 552603, 888888, |m| {
        m["last_speak_time"] == 1_700_000_500
    })
    .await;
    wait::poll("the new remark", WAIT, || async {
        let f = gw.get("/openqq/get_friend_info").await;
        array(&f)
            .iter()
            .find(|f| f["uid"] == 123456 && f["markname"] == "新备注")
            .cloned()
    })
    .await;
    // A real join afterwards is the first contact event anyone sees.
    peer.edit_world(|w| {
        w.groups[0].members.push(PeerMember {
            qq: 4242,
            nick: "新人".into(),
            card: String::new(),
            role: "member",
            last_sent: 0,
        });
    });
    peer.push(
        json!({"post_type": "notice", "notice_type": "group_increase", "sub_type": "approve",
        "group_id": 552603, "user_id": 4242, "operator_id": 0}),
    );
    let e = next_contact_event(&mut rx).await;
    assert_eq!(
        (e["event"].clone(), e["params"][0]["uid"].clone()),
        (json!("new_group_member"), json!(4242)),
        "{e}"
    );
    // Another re-read or two: still nothing new. Each re-read begins with
    // `get_login_info` and hands its events on before the next begins, so
    // once a third begins two whole re-reads have been made since now.
    let reads = peer.calls("get_login_info").len();
    wait::poll("two more re-reads", WAIT, || async {
        (peer.calls("get_login_info").len() >= reads + 3).then_some(())
    })
    .await;
    let more = contact_events_before_a_marker(&peer, &gw, &mut rx, 4343).await;
    assert!(more.is_empty(), "reported as new: {more:#?}");
    gw.gateway.stop().await;
}

// ---------------------------------------------------------------- sends

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_become_explicit_onebot_actions() {
    let (peer, gw) = start(Quirks::napcat(), None).await;

    let m1 = sent_ok(
        &gw.get("/openqq/send_message?qq=123456&content=%E4%BD%A0%E5%A5%BD%0a")
            .await,
    );
    let m2 = sent_ok(
        &gw.post_form(
            "/openqq/send_message",
            "id=7891234&content=hello+world%0a%0a++",
        )
        .await,
    );
    let m3 = sent_ok(
        &gw.post_json(
            "/openqq/send_message",
            &json!({"qq": 7891234, "content": "[CQ:face,id=1]"}),
        )
        .await,
    );
    let m4 = sent_ok(
        &gw.get("/openqq/send_group_message?gnumber=552603&content=%E5%A4%A7%E5%AE%B6%E5%A5%BD")
            .await,
    );
    let m5 = sent_ok(
        // A face by name, as Mojo-Webqq's clients wrote them.
        &gw.post_form(
            "/openqq/send_group_message",
            "gid=661234&content=by+gid%5B%E5%BE%AE%E7%AC%91%5D",
        )
        .await,
    );
    let m6 = sent_ok(
        &gw.post_form(
            "/openqq/send_sess_message",
            "gnumber=552603&qq=888888&content=psst",
        )
        .await,
    );
    let m7 = sent_ok(
        &gw.get("/openqq/send_sess_message?gid=552603&id=999999&content=by+ids")
            .await,
    );
    // v2 aliases reach the same actions.
    let m8 = sent_ok(
        &gw.get("/openqq/send_friend_message?uid=123456&content=v2")
            .await,
    );
    assert_eq!(
        [m2, m3, m4, m5, m6, m7, m8],
        [m1 + 1, m1 + 2, m1 + 3, m1 + 4, m1 + 5, m1 + 6, m1 + 7],
        "successive msg_ids"
    );

    let private = peer.calls("send_private_msg");
    assert_eq!(
        private,
        vec![
            json!({"user_id": 123456, "message": text("你好\n")}),
            json!({"user_id": 7891234, "message": text("hello world\n\n  ")}),
            json!({"user_id": 7891234, "message": text("[CQ:face,id=1]")}),
            json!({"user_id": 888888, "group_id": 552603, "message": text("psst")}),
            json!({"user_id": 999999, "group_id": 552603, "message": text("by ids")}),
            json!({"user_id": 123456, "message": text("v2")}),
        ]
    );
    assert_eq!(
        peer.calls("send_group_msg"),
        vec![
            json!({"group_id": 552603, "message": text("大家好")}),
            json!({"group_id": 661234, "message": [
                {"type": "text", "data": {"text": "by gid"}},
                {"type": "face", "data": {"id": "14"}},
            ]}),
        ]
    );

    // Not found is answered by the gateway; nothing reaches QQ.
    let cases: Vec<Case> = vec![
        (
            "send_message",
            vec![("qq", "42")],
            send_err(100, "friend not found"),
        ),
        (
            "send_message",
            vec![("qq", "888888")],
            send_err(100, "friend not found"),
        ),
        (
            "send_message",
            vec![("id", "123456"), ("qq", "7891234")],
            send_err(100, "friend not found"),
        ),
        (
            "send_group_message",
            vec![("gnumber", "42")],
            send_err(101, "group not found"),
        ),
        (
            "send_group_message",
            vec![],
            send_err(101, "group not found"),
        ),
        // Discussions are gone from QQ: always 102 / 104.
        (
            "send_discuss_message",
            vec![("did", "42")],
            send_err(102, "discuss not found"),
        ),
        (
            "send_discuss_message",
            vec![],
            send_err(102, "discuss not found"),
        ),
        (
            "send_sess_message",
            vec![("did", "42"), ("qq", "123456")],
            send_err(104, "discuss member not found"),
        ),
        (
            "send_sess_message",
            vec![("gnumber", "552603"), ("qq", "42")],
            send_err(103, "group member not found"),
        ),
        (
            "send_sess_message",
            vec![("gnumber", "661234"), ("qq", "999999")],
            send_err(103, "group member not found"),
        ),
        (
            "send_sess_message",
            vec![("qq", "888888")],
            send_err(105, "discuss member or group member  not found"),
        ),
    ];
    for (route, pairs, want) in &cases {
        let mut pairs = pairs.clone();
        pairs.push(("content", "x"));
        for v in three_ways(&gw, route, &pairs).await {
            assert_eq!(v, *want, "{route} {pairs:?}");
        }
    }
    let v = gw.get("/openqq/send_message?qq=123456").await;
    assert_eq!(v, send_err(400, "content missing"));
    assert_eq!(peer.calls("send_private_msg").len(), 6);
    assert_eq!(peer.calls("send_group_msg").len(), 2);
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_carry_the_implementations_text_and_timeouts_are_not_retried() {
    for quirks in [Quirks::napcat(), Quirks::gocq()] {
        let peer = Peer::serve(PeerWorld::standard(), quirks, TOKEN).await;
        let mut config = onebot_config(&peer.url, TOKEN);
        config.backend.send_timeout_secs = 1;
        let gw = gateway(config).await;

        peer.fail("send_group_msg", "消息发送失败，账号可能被风控");
        let v = gw
            .get("/openqq/send_group_message?gnumber=552603&content=x")
            .await;
        assert_eq!(v["code"], json!(-3), "{v}");
        assert_eq!(v["status"], "发送失败");
        assert!(v["msg_id"].is_u64(), "{v}");
        let info = v["info"].as_str().expect("info");
        assert!(info.contains("账号可能被风控"), "{info}");
        assert_eq!(
            peer.calls("send_group_msg").len(),
            1,
            "a refusal is not retried"
        );
        peer.succeed("send_group_msg");
        sent_ok(
            &gw.get("/openqq/send_group_message?gnumber=552603&content=y")
                .await,
        );

        // No answer: the outcome is unknown (-2) and the send is not repeated.
        peer.ignore("send_private_msg");
        let v = gw.get("/openqq/send_message?qq=123456&content=lost").await;
        assert_eq!(v["code"], json!(-2), "{v}");
        assert_eq!(v["status"], "发送失败");
        assert_eq!(
            peer.calls("send_private_msg").len(),
            1,
            "a timed-out send is not retried"
        );
        gw.gateway.stop().await;
    }
}

// ---------------------------------------------------------------- moderation

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutup_becomes_set_group_ban_with_a_duration() {
    let (peer, gw) = start(Quirks::napcat(), None).await;
    let success = status(0, "success");
    let failure = status(201, "failure");

    let ok = [
        ("gnumber", "552603"),
        ("member_qq", "888888"),
        ("time", "60"),
    ];
    for route in ["shutup_group_member", "shuthup_group_member"] {
        for v in three_ways(&gw, route, &ok).await {
            assert_eq!(v, success, "{route}");
        }
    }
    let bans = peer.calls("set_group_ban");
    assert_eq!(bans.len(), 6);
    assert!(
        bans.iter()
            .all(|b| *b == json!({"group_id": 552603, "user_id": 888888, "duration": 60})),
        "{bans:?}"
    );

    // The same table as on the sim: answered by the gateway, nothing sent.
    let mut cases: Vec<(Vec<(&str, &str)>, Value)> = vec![
        (
            vec![("gnumber", "42"), ("member_qq", "888888")],
            status(100, "object not found"),
        ),
        (
            vec![("gid", "42"), ("member_qq", "888888"), ("time", "60")],
            status(100, "object not found"),
        ),
        (
            vec![("gnumber", "552603"), ("member_qq", "888888")],
            status(400, "shutup time missing or error"),
        ),
        (
            vec![
                ("gnumber", "552603"),
                ("member_qq", "888888"),
                ("time", "abc"),
            ],
            status(400, "shutup time missing or error"),
        ),
        (
            vec![
                ("gnumber", "552603"),
                ("member_qq", "888888"),
                ("time", "-60"),
            ],
            status(400, "shutup time missing or error"),
        ),
        (
            vec![("gnumber", "552603"), ("member_qq", "42"), ("time", "60")],
            status(100, "member 42 not found"),
        ),
        (
            vec![
                ("gnumber", "552603"),
                ("member_qq", "888888,42"),
                ("time", "60"),
            ],
            status(100, "member 42 not found"),
        ),
        (
            vec![("gnumber", "552603"), ("member_qq", ""), ("time", "60")],
            status(200, "member id empty"),
        ),
        (
            vec![
                ("gnumber", "552603"),
                ("member_id", "42"),
                ("member_qq", "888888"),
                ("time", "60"),
            ],
            status(100, "member 42 not found"),
        ),
    ];
    // What QQ refuses on every backend: under 60 s, the owner, an admin,
    // the account itself, a group the account does not manage.
    cases.extend(
        refused_mutes()
            .into_iter()
            .map(|pairs| (pairs, failure.clone())),
    );
    for (pairs, want) in &cases {
        for v in three_ways(&gw, "shutup_group_member", pairs).await {
            assert_eq!(v, *want, "{pairs:?}");
        }
    }
    assert_eq!(
        peer.calls("set_group_ban").len(),
        6,
        "nothing more was sent"
    );

    // member_id (= the number here) wins; a comma list mutes several.
    assert_eq!(
        gw.get(
            "/openqq/shutup_group_member?gnumber=552603&member_qq=888888&member_id=999999&time=120"
        )
        .await,
        success
    );
    assert_eq!(
        gw.post_json(
            "/openqq/shutup_group_member",
            &json!({"gnumber": 552603, "member_qq": [888888, "999999"], "time": 63})
        )
        .await,
        success
    );
    let bans = peer.calls("set_group_ban");
    let got: Vec<(i64, i64)> = bans[6..]
        .iter()
        .map(|b| {
            (
                b["user_id"].as_i64().expect("user_id"),
                b["duration"].as_i64().expect("duration"),
            )
        })
        .collect();
    assert_eq!(got, [(999999, 120), (888888, 63), (999999, 63)]);

    // QQ refuses: 201, and the implementation's reason is logged.
    peer.fail("set_group_ban", "不能禁言该成员");
    assert_eq!(
        gw.get("/openqq/shutup_group_member?gnumber=552603&member_qq=888888&time=60")
            .await,
        failure
    );
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kick_becomes_set_group_kick_and_the_member_leaves() {
    let (peer, gw) = start(Quirks::napcat(), None).await;
    let success = status(0, "success");
    let failure = status(201, "failure");
    let cases: Vec<(Vec<(&str, &str)>, Value)> = vec![
        (
            vec![("gnumber", "42"), ("member_qq", "999999")],
            status(100, "object not found"),
        ),
        (
            vec![("gnumber", "552603"), ("member_qq", "42")],
            status(100, "member 42 not found"),
        ),
        (vec![("gnumber", "552603")], status(200, "member id empty")),
        (
            vec![("gnumber", "552603"), ("member_qq", "123455")],
            failure.clone(),
        ),
        (
            vec![("gnumber", "552603"), ("member_qq", "45678")],
            failure.clone(),
        ),
        (
            vec![("gnumber", "661234"), ("member_qq", "888888")],
            failure.clone(),
        ),
    ];
    for (pairs, want) in &cases {
        for v in three_ways(&gw, "kick_group_member", pairs).await {
            assert_eq!(v, *want, "{pairs:?}");
        }
    }
    assert!(peer.calls("set_group_kick").is_empty());

    assert_eq!(
        gw.get("/openqq/kick_group_member?gnumber=552603&member_qq=999999")
            .await,
        success
    );
    assert_eq!(
        peer.calls("set_group_kick"),
        vec![json!({"group_id": 552603, "user_id": 999999, "reject_add_request": false})]
    );
    let qqs = member_qqs(&gw, "552603").await;
    assert!(!qqs.contains(&"999999".to_string()), "{qqs:?}");
    assert_eq!(
        gw.get("/openqq/kick_group_member?gnumber=552603&member_qq=999999")
            .await,
        status(100, "member 999999 not found")
    );
    assert_eq!(
        gw.get("/openqq/send_sess_message?gnumber=552603&qq=999999&content=gone")
            .await,
        send_err(103, "group member not found")
    );
    assert!(
        member_qqs(&gw, "661234")
            .await
            .contains(&"888888".to_string())
    );

    peer.fail("set_group_kick", "权限不足");
    assert_eq!(
        gw.post_json(
            "/openqq/kick_group_member",
            &json!({"gid": "552603", "member_id": "888888"})
        )
        .await,
        failure
    );
    assert!(
        member_qqs(&gw, "552603")
            .await
            .contains(&"888888".to_string()),
        "a refused kick keeps the member"
    );
    gw.gateway.stop().await;
}

// ---------------------------------------------------------------- the link

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_order_answers_and_stray_echoes_are_matched_by_echo() {
    let quirks = Quirks {
        out_of_order: true,
        stray_empty_echo: true,
        ..Quirks::napcat()
    };
    let (peer, gw) = start(quirks, None).await;
    // Kicks fail and mutes succeed: an answer given to the wrong call
    // would show up as a wrong status.
    peer.fail("set_group_kick", "no kicking today");
    let mut calls = Vec::new();
    for i in 0..8 {
        let gw_url = gw.base.clone();
        let http = gw.http.clone();
        calls.push(tokio::spawn(async move {
            let (route, want) = if i % 2 == 0 {
                ("shutup_group_member", 0)
            } else {
                ("kick_group_member", 201)
            };
            let qq = if i % 4 < 2 { "888888" } else { "999999" };
            let v: Value = http
                .get(format!(
                    "{gw_url}/openqq/{route}?gnumber=552603&member_qq={qq}&time=60"
                ))
                .send()
                .await
                .expect("request")
                .json()
                .await
                .expect("json");
            (v["code"].as_i64(), want)
        }));
    }
    for c in calls {
        let (got, want) = c.await.expect("task");
        assert_eq!(got, Some(want));
    }
    assert_eq!(peer.calls("set_group_ban").len(), 4);
    assert_eq!(peer.calls("set_group_kick").len(), 4);
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_link_is_redialed_resynced_and_loses_no_later_event() {
    logs::capture();
    let mut rx = Receiver::start().await;
    let (peer, gw) = start(Quirks::napcat(), Some(&rx.url)).await;
    peer.connected(1).await;

    // The implementation goes away.
    peer.set_accepting(false);
    peer.drop_connections();
    logs::line_with(&["connection lost", &peer.url]).await;

    // The API keeps answering from the cache; sends fail fast and clearly.
    let f = gw.get("/openqq/get_friend_info").await;
    assert_eq!(array(&f).len(), 2);
    let started = std::time::Instant::now();
    let v = gw
        .get("/openqq/send_message?qq=123456&content=while+down")
        .await;
    assert!(started.elapsed() < Duration::from_secs(2), "failed fast");
    assert_eq!(v["status"], "发送失败", "{v}");
    assert_eq!(v["code"], json!(-5), "retried, then gave up: {v}");
    assert!(
        v["info"]
            .as_str()
            .is_some_and(|i| i.contains("not connected")),
        "{v}"
    );
    assert!(peer.calls("send_private_msg").is_empty());

    // It comes back with a new friend; openqq redials and re-reads.
    peer.edit_world(|w| w.friends.push((5555, "新朋友".into(), "老五".into())));
    peer.set_accepting(true);
    peer.connected(2).await;
    // Every event sent right after the reconnect arrives (reports are
    // posted concurrently, so compare as sets).
    let mut want = Vec::new();
    for i in 0..20 {
        let content = format!("after {i}");
        assert!(peer.push(peer.group_message(552603, 888888, 5000 + i, text(&content))));
        want.push(content);
    }
    let mut got = Vec::new();
    for _ in 0..20 {
        got.push(
            rx.next().await.body["content"]
                .as_str()
                .expect("content")
                .to_string(),
        );
    }
    got.sort();
    want.sort();
    assert_eq!(got, want);
    wait::poll("the re-read friend list", WAIT, || async {
        let f = gw.get("/openqq/get_friend_info").await;
        array(&f)
            .iter()
            .find(|f| f["qq"] == "5555" && f["markname"] == "老五")
            .cloned()
    })
    .await;
    sent_ok(&gw.get("/openqq/send_message?qq=5555&content=back").await);
    assert_eq!(
        peer.calls("get_friend_list").len(),
        2,
        "read once per connection"
    );
    gw.gateway.stop().await;
}

/// In paused time (the gateway and the peer run in this test's runtime):
/// the clock moves only when every task waits, so the 3 s below are 3 s of
/// the gateway's own timers — a redial due within them has happened.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_wrong_token_is_reported_and_not_retried_hot() {
    logs::capture();
    for quirks in [Quirks::gocq(), Quirks::napcat()] {
        let peer = Peer::serve(PeerWorld::standard(), quirks, TOKEN).await;
        let gw = gateway(onebot_config(&peer.url, "wrong")).await;
        let line = logs::line_with(&["access token refused", &peer.url]).await;
        assert!(line.contains("next attempt in 60s"), "{line}");
        // The API answers, with nothing known yet.
        assert_eq!(gw.get("/openqq/get_friend_info").await, json!([]));
        // A hot loop would have dialed again within the first backoff steps
        // (0.5–1 s, then 1–2 s); let more than that pass (paused time).
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(peer.attempts(), 1, "no reconnect loop on a refused token");
        assert_eq!(peer.connections(), 0);
        gw.gateway.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reverse_mode_accepts_the_implementation_with_bearer_or_token() {
    let mut rx = Receiver::start().await;
    let url = format!("ws://127.0.0.1:{}/onebot/v11/ws", free_port());
    let mut config = onebot_config(&url, TOKEN);
    config.backend.mode = OnebotMode::Reverse;
    config.post_api = Some(rx.url.clone());

    // go-cqhttp dials with `Token`, retrying until openqq listens.
    let dialer = tokio::spawn({
        let url = url.clone();
        async move {
            loop {
                match Peer::dial(
                    PeerWorld::standard(),
                    Quirks::gocq(),
                    &url,
                    Some(&format!("Token {TOKEN}")),
                )
                .await
                {
                    Ok(peer) => return peer,
                    Err(0) => tokio::time::sleep(Duration::from_millis(50)).await,
                    Err(status) => panic!("refused with {status}"),
                }
            }
        }
    });
    let gw = gateway(config).await;
    let peer = tokio::time::timeout(WAIT, dialer)
        .await
        .expect("dialed")
        .expect("task");
    peer.connected(1).await;
    wait::poll("contacts over the reverse link", WAIT, || async {
        let f = gw.get("/openqq/get_friend_info").await;
        (array(&f).len() == 2).then_some(())
    })
    .await;

    // Wrong or missing tokens are refused at the upgrade.
    let stranger = |auth: Option<&'static str>| {
        let url = url.clone();
        async move {
            Peer::dial(PeerWorld::standard(), Quirks::napcat(), &url, auth)
                .await
                .err()
        }
    };
    assert_eq!(stranger(Some("Bearer nope")).await, Some(403));
    assert_eq!(stranger(None).await, Some(401));

    peer.push(peer.private_message(123456, None, 21, text("reply:over reverse")));
    assert_eq!(rx.next().await.body["content"], "reply:over reverse");
    assert_eq!(
        peer.nth_call("send_private_msg", 1).await,
        json!({"user_id": 123456, "message": text("over reverse")})
    );

    // The implementation reconnects (NapCat-style `Bearer`): re-read, and
    // events flow again.
    peer.drop_connections();
    peer.edit_world(|w| w.friends.push((5555, "新朋友".into(), String::new())));
    peer.redial(&url, Some(&format!("Bearer {TOKEN}")))
        .await
        .expect("redial");
    peer.connected(2).await;
    peer.push(peer.private_message(5555, None, 22, text("hello again")));
    let r = rx.next().await;
    assert_eq!(r.body["content"], "hello again");
    wait::poll("the re-read friend list", WAIT, || async {
        let f = gw.get("/openqq/get_friend_info").await;
        (array(&f).len() == 3).then_some(())
    })
    .await;
    gw.gateway.stop().await;
}
