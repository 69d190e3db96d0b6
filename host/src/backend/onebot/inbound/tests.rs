//! The converter's tests: conversions one event at a time, then joins
//! against a live (in-memory) link.

use super::joins::JOIN_WAIT;
use super::*;
use crate::backend::onebot::testing::live_link;
use crate::backend::onebot::{DEDUP_TTL, codec};
use crate::backend::{LoginSnapshot, RawChat};
use crate::model::{MemberRole, Qq};

fn inbound() -> (Inbound, mpsc::Receiver<BackendEvent>) {
    let (tx, rx) = mpsc::channel(16);
    (
        Inbound::new(
            Link::new(),
            Arc::new(Cache::default()),
            tx,
            Arc::new(Notify::new()),
            Duration::from_secs(1),
            Dedup::new(DEDUP_TTL, 100),
        ),
        rx,
    )
}

fn event(v: serde_json::Value) -> Event {
    match codec::decode(&v.to_string()).unwrap() {
        codec::Frame::Event(inc) => inc.event,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn messages_become_raw_inbound_per_chat_kind() {
    let (mut ib, _rx) = inbound();
    let group = event(
        json!({"post_type": "message", "message_type": "group", "message_id": 3000000000i64,
        "group_id": 552603, "user_id": 888888, "time": 1700000000,
        "message": "[CQ:at,qq=1]hi &#91;x&#93;"}),
    );
    let out = ib.convert(group);
    let [BackendEvent::Message(m)] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!(m.from, RawChat::Group(GroupNumber(552603)));
    assert_eq!(m.msg_id, "3000000000");
    assert_eq!(m.time, 1700000000);
    assert_eq!(m.content, "@1hi [x]");

    let temp = event(
        json!({"post_type": "message", "message_type": "private", "sub_type": "group",
        "message_id": 1, "user_id": 5, "group_id": 552603, "message": [{"type": "text", "data": {"text": "t"}}]}),
    );
    let out = ib.convert(temp);
    assert!(
        matches!(&out[0], BackendEvent::Message(m) if m.from == RawChat::GroupSess(GroupNumber(552603)))
    );

    let friend = event(
        json!({"post_type": "message", "message_type": "private", "sub_type": "friend",
        "message_id": 2, "user_id": 5, "self_id": 10001, "message": [], "raw_message": "raw"}),
    );
    let out = ib.convert(friend);
    assert!(
        matches!(&out[0], BackendEvent::Message(m) if m.from == RawChat::Friend && m.content == "raw")
    );

    // The account's own message is not an inbound message.
    let own = event(
        json!({"post_type": "message", "message_type": "group", "message_id": 3,
        "group_id": 1, "user_id": 10001, "self_id": 10001, "message": "x"}),
    );
    assert!(ib.convert(own).is_empty());
}

#[tokio::test]
async fn at_and_reply_segments_and_the_role_address_the_message() {
    let (mut ib, _rx) = inbound();
    let mut one = |v: serde_json::Value| match ib.convert(event(v)).as_slice() {
        [BackendEvent::Message(m)] => m.clone(),
        other => panic!("{other:?}"),
    };
    // NapCat's array: a quote, a mention of the account, text, another mention.
    let m = one(
        json!({"post_type": "message", "message_type": "group", "message_id": 11,
        "group_id": 552603, "user_id": 888888, "self_id": 10001,
        "sender": {"user_id": 888888, "nickname": "n", "card": "", "role": "admin"},
        "message": [
            {"type": "reply", "data": {"id": "-2147480001"}},
            {"type": "at", "data": {"qq": "10001"}},
            {"type": "text", "data": {"text": " /ban "}},
            {"type": "at", "data": {"qq": "42"}},
            {"type": "text", "data": {"text": " 10 "}}]}),
    );
    let a = &m.addressing;
    assert_eq!(a.role, Some(MemberRole::Admin));
    assert_eq!(a.mentions, [Qq(10001), Qq(42)]);
    assert!(a.at_me && !a.at_all);
    assert_eq!(
        a.reply_to.as_ref().map(|q| q.id.as_str()),
        Some("-2147480001")
    );
    assert_eq!(a.reply_to.as_ref().and_then(|q| q.sender), None);
    assert_eq!(a.body, "/ban @42 10");
    assert_eq!(m.content, "@10001 /ban @42 10 ");

    // go-cqhttp's CQ string: @all, a quote with its sender, a mention further on.
    let m = one(
        json!({"post_type": "message", "message_type": "group", "message_id": 12,
        "group_id": 552603, "user_id": 888888, "self_id": 10001,
        "sender": {"user_id": 888888, "role": "owner"},
        "message": "[CQ:reply,id=77,qq=5,text=earlier][CQ:at,qq=all] hi [CQ:at,qq=10001]"}),
    );
    let a = &m.addressing;
    assert_eq!(a.role, Some(MemberRole::Owner));
    assert!(a.at_all && a.at_me);
    assert_eq!(a.mentions, [Qq(10001)]);
    let q = a.reply_to.clone().expect("a quote");
    assert_eq!(
        (q.id.as_str(), q.sender, q.text.as_deref()),
        ("77", Some(Qq(5)), Some("earlier"))
    );
    // The account is mentioned, but not first: the body is the text.
    assert_eq!(a.body, m.content.trim_end());

    // A private message has no role; an unknown role is left to the contacts.
    let m = one(
        json!({"post_type": "message", "message_type": "private", "sub_type": "friend",
        "message_id": 13, "user_id": 5, "self_id": 10001,
        "sender": {"role": "admin"}, "message": "hi "}),
    );
    assert_eq!(m.addressing.role, None);
    assert_eq!(m.addressing.body, "hi");
}

#[tokio::test]
async fn notices_become_contact_events() {
    let (mut ib, _rx) = inbound();
    let join = event(
        json!({"post_type": "notice", "notice_type": "group_increase", "group_id": 1, "user_id": 7, "time": 1700000123}),
    );
    // The join waits for the member's look-up, and the group with it.
    assert!(ib.convert(join).is_empty());
    assert_eq!(ib.joins.len(), 1);
    assert!(ib.held.contains_key(&GroupNumber(1)));
    let leave = event(
        json!({"post_type": "notice", "notice_type": "group_decrease", "sub_type": "leave", "group_id": 1, "user_id": 7}),
    );
    assert_eq!(
        ib.convert(leave),
        vec![BackendEvent::MemberLeft {
            group: GroupNumber(1),
            member: Qq(7)
        }]
    );
    let kicked_me = event(
        json!({"post_type": "notice", "notice_type": "group_decrease", "sub_type": "kick_me", "group_id": 1, "user_id": 9}),
    );
    assert!(ib.convert(kicked_me).is_empty());
    let friend = event(json!({"post_type": "notice", "notice_type": "friend_add", "user_id": 8}));
    let out = ib.convert(friend.clone());
    assert!(matches!(&out[..], [BackendEvent::FriendAdded(f)] if f.qq == Qq(8)));
    // Once known, the same notice again is no second add (NapCat-Docker#78).
    ib.cache.apply(&out[0]);
    assert!(ib.convert(friend).is_empty());
    let poke = event(json!({"post_type": "notice", "notice_type": "notify", "sub_type": "poke"}));
    assert!(ib.convert(poke).is_empty());
}

/// Regression: a join was reported twice, the look-up's details as a
/// second join; and a second notice for a known member joined again.
/// With no answer (here: not connected), the join still comes, with the
/// nick the friend list knows.
#[tokio::test]
async fn a_join_is_reported_once_with_what_is_known() {
    let (mut ib, mut rx) = inbound();
    let n = GroupNumber(552603);
    let mut snap = LoginSnapshot::default();
    snap.friends.upsert(Friend {
        qq: Qq(7),
        nick: "七".into(),
        ..Friend::default()
    });
    snap.groups.upsert(crate::model::Group {
        gnumber: n,
        ..crate::model::Group::default()
    });
    ib.cache.store(snap, 1);
    let join = event(
        json!({"post_type": "notice", "notice_type": "group_increase", "group_id": 552603, "user_id": 7}),
    );
    assert!(ib.convert(join).is_empty());
    let (group, id, looked) = ib.joins.next().await.expect("a join waits");
    assert!(ib.settled(group, id, looked).await);
    let Some(BackendEvent::MemberJoined { member, .. }) = rx.recv().await else {
        panic!("no join")
    };
    assert_eq!(member.nick, "七", "the friend list's nick");
    assert!(!member.join_time.is_empty());
    assert!(ib.held.is_empty(), "the group's events flow again");
    // The same join notified again, with another body: not a new join.
    let again = event(
        json!({"post_type": "notice", "notice_type": "group_increase", "sub_type": "invite", "group_id": 552603, "user_id": 7, "operator_id": 1}),
    );
    assert!(ib.convert(again).is_empty());
    assert!(ib.joins.is_empty());

    // Someone nobody knows: their number, never an empty name.
    let stranger = event(
        json!({"post_type": "notice", "notice_type": "group_increase", "group_id": 552603, "user_id": 4242}),
    );
    assert!(ib.convert(stranger).is_empty());
    let (group, id, looked) = ib.joins.next().await.expect("a join waits");
    assert!(ib.settled(group, id, looked).await);
    let Some(BackendEvent::MemberJoined { member, .. }) = rx.recv().await else {
        panic!("no join")
    };
    assert_eq!(member.nick, "4242");
}

// ------------------------------------------- joins against a live link

/// A converter on `link` with group 552603 (member 888888) and 661234
/// known, fed through the returned sender.
fn running(
    link: &Link,
    timeout: Duration,
) -> (mpsc::Sender<LinkEvent>, mpsc::Receiver<BackendEvent>) {
    let (tx, rx) = mpsc::channel(16);
    let cache = Arc::new(Cache::default());
    let mut snap = LoginSnapshot::default();
    for n in [552603, 661234] {
        let mut g = crate::model::Group {
            gnumber: GroupNumber(n),
            ..crate::model::Group::default()
        };
        g.members.upsert(GroupMember {
            qq: Qq(888888),
            nick: "路人甲".into(),
            ..GroupMember::default()
        });
        snap.groups.upsert(g);
    }
    cache.store(snap, 1);
    let ib = Inbound::new(
        link.clone(),
        cache,
        tx,
        Arc::new(Notify::new()),
        timeout,
        Dedup::new(DEDUP_TTL, 100),
    );
    let (link_tx, link_rx) = mpsc::channel(16);
    tokio::spawn(ib.run(link_rx));
    (link_tx, rx)
}

fn incoming(v: serde_json::Value) -> LinkEvent {
    match codec::decode(&v.to_string()).unwrap() {
        codec::Frame::Event(inc) => LinkEvent::Event(Box::new(inc)),
        other => panic!("{other:?}"),
    }
}

fn join_notice(group: i64, user: i64) -> LinkEvent {
    incoming(
        json!({"post_type": "notice", "notice_type": "group_increase", "sub_type": "approve",
        "group_id": group, "user_id": user, "operator_id": 0, "time": 1700000123}),
    )
}

fn said(group: i64, user: i64, id: i64, text: &str) -> LinkEvent {
    incoming(
        json!({"post_type": "message", "message_type": "group", "message_id": id,
        "group_id": group, "user_id": user, "message": text}),
    )
}

fn member_info(user: i64, nick: &str, card: &str) -> serde_json::Value {
    json!({"group_id": 552603, "user_id": user, "nickname": nick, "card": card,
        "role": "member", "join_time": 0, "last_sent_time": 0, "level": "1"})
}

/// The bug: a joining member was reported with an empty nick, so a
/// welcome bot greeted nobody. The join now waits for the look-up (the
/// cached one, then QQ's servers, as NapCat needs for a fresh member);
/// the group's messages wait behind it, in order, and other groups' do
/// not wait at all.
#[tokio::test(start_paused = true)]
async fn a_join_is_reported_with_the_looked_up_member_and_its_group_waits() {
    let (link, mut imp) = live_link().await;
    let (feed, mut out) = running(&link, Duration::from_secs(15));
    let started = Instant::now();
    feed.send(join_notice(552603, 4242)).await.unwrap();
    feed.send(said(552603, 4242, 1, "大家好")).await.unwrap();
    feed.send(said(552603, 888888, 2, "欢迎")).await.unwrap();
    feed.send(said(661234, 888888, 3, "别的群")).await.unwrap();

    let cached = imp.request().await;
    assert_eq!(cached["action"], "get_group_member_info");
    assert_eq!(cached["params"]["no_cache"], false);
    assert_eq!(cached["params"]["user_id"], 4242);
    // Another group's message is not held behind the look-up.
    let Some(BackendEvent::Message(m)) = out.recv().await else {
        panic!("the other group's message")
    };
    assert_eq!(m.from, RawChat::Group(GroupNumber(661234)));
    imp.answer(&cached, None).await;
    let fresh = imp.request().await;
    assert_eq!(fresh["params"]["no_cache"], true);
    tokio::time::sleep(Duration::from_secs(2)).await; // NapCat asks QQ's servers
    imp.answer(&fresh, Some(member_info(4242, "新人", "新人卡")))
        .await;

    let Some(BackendEvent::MemberJoined { group, member }) = out.recv().await else {
        panic!("the join")
    };
    assert_eq!(group, GroupNumber(552603));
    assert_eq!(
        (member.qq, member.nick.as_str(), member.card.as_str()),
        (Qq(4242), "新人", "新人卡")
    );
    assert_eq!(member.join_time, "1700000123", "the notice's time");
    assert!(started.elapsed() < Duration::from_secs(3));
    for (sender, content) in [(4242, "大家好"), (888888, "欢迎")] {
        let Some(BackendEvent::Message(m)) = out.recv().await else {
            panic!("a held message")
        };
        assert_eq!((m.sender, m.content.as_str()), (Qq(sender), content));
    }
    // Later messages of that group flow at once again.
    feed.send(said(552603, 4242, 4, "再说")).await.unwrap();
    let Some(BackendEvent::Message(m)) = out.recv().await else {
        panic!("no message")
    };
    assert_eq!(m.content, "再说");
}

/// A look-up slower than the join's wait: the join comes at the bound,
/// with the fallback name, the held messages after it; the look-up's
/// answer then follows as a silent update.
#[tokio::test(start_paused = true)]
async fn a_slow_look_up_reports_the_join_at_the_bound_then_updates_it() {
    let (link, mut imp) = live_link().await;
    let (feed, mut out) = running(&link, Duration::from_secs(15));
    let started = Instant::now();
    feed.send(join_notice(552603, 4242)).await.unwrap();
    feed.send(said(552603, 4242, 1, "大家好")).await.unwrap();
    // The cached look-up hangs (NapCat#34, #708).
    let cached = imp.request().await;
    assert_eq!(cached["params"]["no_cache"], false);

    let Some(BackendEvent::MemberJoined { member, .. }) = out.recv().await else {
        panic!("the join")
    };
    assert_eq!(member.nick, "4242", "the number, not an empty name");
    let waited = started.elapsed();
    assert!(
        waited >= JOIN_WAIT && waited < JOIN_WAIT + Duration::from_millis(100),
        "{waited:?}"
    );
    let Some(BackendEvent::Message(m)) = out.recv().await else {
        panic!("the held message")
    };
    assert_eq!(m.content, "大家好");

    imp.answer(&cached, Some(member_info(4242, "新人", "")))
        .await;
    let Some(BackendEvent::MemberUpdated { member, .. }) = out.recv().await else {
        panic!("the update")
    };
    assert_eq!((member.qq, member.nick.as_str()), (Qq(4242), "新人"));
    assert_eq!(member.join_time, "1700000123");
}

/// Joins in one group are looked up at once, not one after the other,
/// and reported in the order they came whichever answers first; a
/// second notice for a join in line is no second join.
#[tokio::test(start_paused = true)]
async fn joins_in_one_group_are_looked_up_together_and_reported_in_order() {
    let (link, mut imp) = live_link().await;
    let (feed, mut out) = running(&link, Duration::from_secs(15));
    feed.send(join_notice(552603, 4242)).await.unwrap();
    feed.send(said(552603, 4242, 1, "我是第一个"))
        .await
        .unwrap();
    feed.send(join_notice(552603, 4343)).await.unwrap();
    feed.send(said(552603, 4343, 2, "我是第二个"))
        .await
        .unwrap();
    // NapCat#574: the same join notified again, with another body.
    feed.send(incoming(
        json!({"post_type": "notice", "notice_type": "group_increase", "sub_type": "invite",
        "group_id": 552603, "user_id": 4343, "operator_id": 1}),
    ))
    .await
    .unwrap();
    let (a, b) = (imp.request().await, imp.request().await);
    let (first, second) = if a["params"]["user_id"] == 4242 {
        (a, b)
    } else {
        (b, a)
    };
    assert_eq!(
        (&first["params"]["user_id"], &second["params"]["user_id"]),
        (&json!(4242), &json!(4343)),
        "both asked before either answered"
    );
    imp.answer(&second, Some(member_info(4343, "乙", ""))).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    imp.answer(&first, Some(member_info(4242, "甲", ""))).await;
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(match out.recv().await {
            Some(BackendEvent::MemberJoined { member, .. }) => member.nick,
            Some(BackendEvent::Message(m)) => m.content,
            other => panic!("{other:?}"),
        });
    }
    assert_eq!(seen, ["甲", "我是第一个", "乙", "我是第二个"]);
    // Nothing more: the second notice was not a join.
    feed.send(said(552603, 888888, 3, "marker")).await.unwrap();
    let Some(BackendEvent::Message(m)) = out.recv().await else {
        panic!("no marker")
    };
    assert_eq!(m.content, "marker");
}

/// Someone who joins, leaves and joins again while the first join is
/// looked up joins twice and leaves once, in that order.
#[tokio::test(start_paused = true)]
async fn a_leave_and_rejoin_behind_a_join_are_kept() {
    let (link, mut imp) = live_link().await;
    let (feed, mut out) = running(&link, Duration::from_secs(15));
    feed.send(join_notice(552603, 4242)).await.unwrap();
    feed.send(incoming(
        json!({"post_type": "notice", "notice_type": "group_decrease", "sub_type": "leave",
        "group_id": 552603, "user_id": 4242, "operator_id": 4242}),
    ))
    .await
    .unwrap();
    feed.send(incoming(
        json!({"post_type": "notice", "notice_type": "group_increase", "sub_type": "approve",
        "group_id": 552603, "user_id": 4242, "operator_id": 0, "time": 1700000200}),
    ))
    .await
    .unwrap();
    for _ in 0..2 {
        let req = imp.request().await;
        imp.answer(&req, Some(member_info(4242, "回头客", "")))
            .await;
    }
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(match out.recv().await {
            Some(BackendEvent::MemberJoined { member, .. }) => format!("+{}", member.nick),
            Some(BackendEvent::MemberLeft { member, .. }) => format!("-{member}"),
            other => panic!("{other:?}"),
        });
    }
    assert_eq!(seen, ["+回头客", "-4242", "+回头客"]);
}
