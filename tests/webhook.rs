//! End-to-end: the inbound pipeline and the `post_api` webhook, against a
//! real HTTP receiver on 127.0.0.1 (spec §5).

use crate::support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::header;
use openqq::model::InboundMessage;
use openqq::model::{Decided, DecidedBy, Decision};
use openqq::pipeline::{Effects, Handler};
use serde_json::{Value, json};
use support::receiver::Receiver;
use support::{TestGateway, test_config};

const WAIT: Duration = Duration::from_secs(10);

async fn gateway_with(url: &str) -> TestGateway {
    let mut config = test_config();
    config.post_api = Some(url.to_string());
    TestGateway::with_config(config).await
}

/// The four message types (sess twice: via group and via discussion).
async fn messages(gw: &TestGateway, content: &str) -> Vec<Value> {
    let did = gw.get("/openqq/get_discuss_info").await[0]["did"]
        .as_str()
        .expect("did")
        .to_string();
    vec![
        json!({"type": "message", "sender_qq": 123456, "content": content}),
        json!({"type": "group_message", "sender_qq": 888888, "gnumber": 552603, "content": content}),
        json!({"type": "discuss_message", "sender_qq": 456789, "did": did, "content": content}),
        json!({"type": "sess_message", "sender_qq": 999999, "gnumber": 552603, "content": content}),
        json!({"type": "sess_message", "sender_qq": 78901, "did": did, "content": content}),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_have_the_exact_v1_shape_for_every_type() {
    let mut rx = Receiver::start().await;
    let gw = gateway_with(&rx.url).await;
    let c = gw.gateway.session.contacts();
    let me = &c.user;
    let g = c
        .group(openqq::model::GroupNumber(552603))
        .expect("group")
        .clone();
    let d = c.discusses[0].clone();
    let friend = c.friend(openqq::model::Qq(123456)).expect("friend").clone();
    let member = |qq: u64| {
        g.member_by_qq(openqq::model::Qq(qq))
            .expect("member")
            .clone()
    };
    let dmember = |qq: u64| {
        d.members
            .iter()
            .find(|m| m.qq.0 == qq)
            .expect("discuss member")
            .clone()
    };
    let bot_in_group = member(1234567);

    let msgs = messages(&gw, "测试一下 \n").await;
    let mut ids = Vec::new();
    for m in &msgs {
        ids.push(gw.receive(m.clone()).await);
    }
    let mut reports = Vec::new();
    for _ in &msgs {
        reports.push(rx.next().await);
    }
    reports.sort_by_key(|r| {
        r.body["msg_id"]
            .as_str()
            .unwrap_or("")
            .parse::<u64>()
            .unwrap_or(0)
    });
    for r in &reports {
        let ct = r
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(ct.starts_with("application/json"), "content-type {ct}");
        let t = r.body["msg_time"].as_str().expect("msg_time is a string");
        assert!(
            t.parse::<u64>().is_ok_and(|t| t > 1_600_000_000),
            "msg_time {t}"
        );
    }
    let strip_time = |mut v: Value| {
        v.as_object_mut().expect("object").remove("msg_time");
        v
    };
    let common =
        |id: &str, ty: &str, sender: &str, sender_id: &str, sender_qq: u64, receiver: &str| {
            json!({
                "msg_id": id, "msg_class": "recv", "type": ty, "content": "测试一下 \n",
                "sender": sender, "sender_id": sender_id, "sender_qq": sender_qq,
                "receiver": receiver, "receiver_id": me.id, "receiver_qq": 1234567,
            })
        };
    let with = |mut base: Value, extra: Value| {
        for (k, v) in extra.as_object().expect("object") {
            base[k] = v.clone();
        }
        base
    };
    // Friend: display name is the remark.
    assert_eq!(
        strip_time(reports[0].body.clone()),
        common(&ids[0], "message", "xxx", &friend.id, 123456, "小灰")
    );
    // Group: numbers for gnumber and the qq fields; the bot is seen by its member card or nick.
    let m = member(888888);
    assert_eq!(
        strip_time(reports[1].body.clone()),
        with(
            common(
                &ids[1],
                "group_message",
                "路人甲",
                &m.id,
                888888,
                bot_in_group.display_name()
            ),
            json!({"group": "PERL学习交流", "group_id": g.gid, "gnumber": 552603})
        )
    );
    let dm = dmember(456789);
    assert_eq!(
        strip_time(reports[2].body.clone()),
        with(
            common(&ids[2], "discuss_message", "哈哈", &dm.id, 456789, "小灰"),
            json!({"discuss": "测试", "discuss_id": d.did})
        )
    );
    let m = member(999999);
    assert_eq!(
        strip_time(reports[3].body.clone()),
        with(
            common(&ids[3], "sess_message", "乙", &m.id, 999999, "小灰"),
            json!({"group": "PERL学习交流", "group_id": g.gid, "via": "group"})
        )
    );
    let dm = dmember(78901);
    assert_eq!(
        strip_time(reports[4].body.clone()),
        with(
            common(&ids[4], "sess_message", "嘿嘿", &dm.id, 78901, "小灰"),
            json!({"discuss": "测试", "discuss_id": d.did, "via": "discuss"})
        )
    );
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_reply_goes_back_where_the_message_came_from() {
    let rx = Receiver::start().await;
    let gw = gateway_with(&rx.url).await;
    let start = gw.last_seq().await;
    let msgs = messages(&gw, "reply:你好").await;
    for m in &msgs {
        gw.receive(m.clone()).await;
    }
    let sent = gw.sent_until(start, WAIT, |s| s.len() >= msgs.len()).await;
    let mut got: Vec<(String, String)> = sent
        .iter()
        .map(|r| {
            assert_eq!(r["content"], "你好");
            let target = ["qq", "gnumber", "did"]
                .iter()
                .filter_map(|k| r[*k].as_str().map(|v| format!("{k}={v}")))
                .collect::<Vec<_>>()
                .join("&");
            (r["action"].as_str().unwrap_or("").to_string(), target)
        })
        .collect();
    got.sort();
    let did = gw.gateway.session.contacts().discusses[0].did.clone();
    let mut want = vec![
        ("send_message".to_string(), "qq=123456".to_string()),
        (
            "send_group_message".to_string(),
            "gnumber=552603".to_string(),
        ),
        ("send_discuss_message".to_string(), format!("did={did}")),
        (
            "send_sess_message".to_string(),
            "qq=999999&gnumber=552603".to_string(),
        ),
        (
            "send_sess_message".to_string(),
            format!("qq=78901&did={did}"),
        ),
    ];
    want.sort();
    assert_eq!(got, want);
    // Numbers are stringified.
    let seq = gw.last_seq().await;
    gw.receive(json!({"type": "message", "sender_qq": 7891234, "content": "number"}))
        .await;
    let sent = gw.sent_until(seq, WAIT, |s| !s.is_empty()).await;
    assert_eq!(sent[0]["content"], "42");
    assert_eq!(sent[0]["qq"], "7891234");
    gw.gateway.stop().await;
}

/// With sends spaced, the reply of a "reply and mute" answer waits its
/// turn in the outbox; the mute waits for it, so the warning reaches QQ
/// before the sender is muted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mute_follows_its_reply_even_when_sends_are_spaced() {
    let rx = Receiver::start().await;
    let mut config = test_config();
    config.post_api = Some(rx.url.clone());
    config.outbox.spacing_ms = 300;
    let gw = TestGateway::with_config(config).await;
    let seq = gw.last_seq().await;
    // A send just before: the reply must wait 300 ms after it.
    let v = gw
        .get("/openqq/send_friend_message?qq=123456&content=first")
        .await;
    assert_eq!(v["code"], 0, "{v}");
    gw.receive(
        json!({"type": "group_message", "sender_qq": 888888, "gnumber": 552603, "content": "mute"}),
    )
    .await;
    let sent = gw.sent_until(seq, WAIT, |s| s.len() >= 3).await;
    let actions: Vec<&str> = sent.iter().filter_map(|r| r["action"].as_str()).collect();
    assert_eq!(
        actions,
        ["send_message", "send_group_message", "shutup"],
        "{sent:?}"
    );
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutup_in_the_answer_mutes_the_sender() {
    let rx = Receiver::start().await;
    let gw = gateway_with(&rx.url).await;
    let group = |content: &str| json!({"type": "group_message", "sender_qq": 888888, "gnumber": 552603, "content": content});

    let seq = gw.last_seq().await;
    gw.receive(group("mute")).await;
    let sent = gw.sent_until(seq, WAIT, |s| s.len() >= 2).await;
    assert_eq!(sent[0]["action"], "send_group_message");
    assert_eq!(sent[0]["content"], "bye");
    assert_eq!(
        (
            sent[1]["action"].as_str(),
            sent[1]["qq"].as_str(),
            sent[1]["time"].as_u64()
        ),
        (Some("shutup"), Some("888888"), Some(120))
    );

    let seq = gw.last_seq().await;
    gw.receive(group("mute-default")).await;
    let sent = gw.sent_until(seq, WAIT, |s| !s.is_empty()).await;
    assert_eq!(
        (sent[0]["action"].as_str(), sent[0]["time"].as_u64()),
        (Some("shutup"), Some(60))
    );

    // Under 60 s: the reply goes, the mute is refused.
    let seq = gw.last_seq().await;
    let acted = gw
        .gateway
        .webhook
        .as_ref()
        .expect("webhook")
        .stats()
        .snapshot()[1];
    gw.receive(group("mute-30")).await;
    gw.webhook_stats_until(|s| s[1] > acted).await;
    let sent = gw.sent(seq).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["content"], "short");

    // A mute in answer to a friend message is refused: only the reply goes.
    let seq = gw.last_seq().await;
    let acted = gw
        .gateway
        .webhook
        .as_ref()
        .expect("webhook")
        .stats()
        .snapshot()[1];
    gw.receive(json!({"type": "message", "sender_qq": 123456, "content": "mute"}))
        .await;
    gw.webhook_stats_until(|s| s[1] > acted).await;
    let sent = gw.sent(seq).await;
    assert_eq!(
        sent.iter()
            .map(|r| r["action"].as_str().unwrap_or(""))
            .collect::<Vec<_>>(),
        vec!["send_message"]
    );
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_that_are_not_json_objects_do_nothing() {
    let rx = Receiver::start().await;
    let gw = gateway_with(&rx.url).await;
    let seq = gw.last_seq().await;
    let cases = [
        "text-plain",
        "status-500",
        "bad-json",
        "array",
        "empty",
        "plain",
    ];
    for c in cases {
        gw.receive(
            json!({"type": "group_message", "sender_qq": 888888, "gnumber": 552603, "content": c}),
        )
        .await;
    }
    let s = gw.webhook_stats_until(|s| s[2] >= cases.len() as u64).await;
    assert_eq!(s, [cases.len() as u64, 0, cases.len() as u64, 0, 0]);
    assert!(gw.sent(seq).await.is_empty());
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_receiver_delays_only_its_own_chat_and_its_reply_still_goes() {
    let mut rx = Receiver::start().await;
    let gw = gateway_with(&rx.url).await;
    let seq = gw.last_seq().await;
    let started = tokio::time::Instant::now();
    gw.receive(json!({"type": "message", "sender_qq": 123456, "content": "slow"}))
        .await;
    assert_eq!(rx.next().await.body["content"], "slow");
    // The same chat's next message waits for the slow answer (one report
    // per chat at a time, in order)…
    gw.receive(json!({"type": "message", "sender_qq": 123456, "content": "after"}))
        .await;
    // …while 50 in other chats go at once.
    for i in 0..50 {
        let m = if i % 2 == 0 {
            json!({"type": "message", "sender_qq": 7891234, "content": format!("m{i}")})
        } else {
            json!({"type": "group_message", "sender_qq": 888888, "gnumber": 552603, "content": format!("m{i}")})
        };
        gw.receive(m).await;
    }
    for _ in 0..50 {
        let r = rx.next().await;
        assert!(
            r.body["content"]
                .as_str()
                .is_some_and(|c| c.starts_with('m')),
            "{:?} came before the other chats' messages",
            r.body["content"]
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the others waited for the slow one"
    );
    assert!(
        gw.sent(seq).await.is_empty(),
        "the late reply cannot have gone yet"
    );
    // The chat's next report goes once the slow answer was acted on.
    assert_eq!(rx.next().await.body["content"], "after");
    let sent = gw.sent(seq).await;
    assert_eq!(
        (sent[0]["content"].as_str(), sent[0]["qq"].as_str()),
        (Some("late"), Some("123456")),
        "the reply to the slow report went before the next report: {sent:?}"
    );
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_receiver_is_logged_and_the_gateway_keeps_serving() {
    // Bind and drop, so nothing listens on the port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let gw = gateway_with(&format!("http://127.0.0.1:{port}/post_api")).await;
    for i in 0..5 {
        gw.receive(json!({"type": "message", "sender_qq": 123456, "content": format!("x{i}")}))
            .await;
    }
    gw.webhook_stats_until(|s| s[3] == 5).await;
    assert_eq!(gw.get("/openqq/get_user_info").await["qq"], "1234567");
    let v = gw
        .get("/openqq/send_message?qq=123456&content=still+here")
        .await;
    assert_eq!(v["code"], 0);
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_accounts_own_sends_are_never_reported() {
    let mut rx = Receiver::start().await;
    let gw = gateway_with(&rx.url).await;
    assert_eq!(
        gw.get("/openqq/send_message?qq=123456&content=from-api")
            .await["code"],
        0
    );
    assert_eq!(
        gw.get("/openqq/send_group_message?gnumber=552603&content=from-api")
            .await["code"],
        0
    );
    // A webhook reply is a send too: it must not come back as a report.
    gw.receive(json!({"type": "message", "sender_qq": 123456, "content": "reply:from-webhook"}))
        .await;
    assert_eq!(rx.next().await.body["content"], "reply:from-webhook");
    let seq = gw.last_seq().await;
    let _ = gw
        .sent_until(0, WAIT, |s| {
            s.iter().any(|r| r["content"] == "from-webhook")
        })
        .await;
    gw.receive(json!({"type": "message", "sender_qq": 123456, "content": "marker"}))
        .await;
    let next = rx.next().await;
    assert_eq!(
        next.body["content"], "marker",
        "an own send was reported: {:?}",
        next.body
    );
    assert!(seq >= 2);
    gw.gateway.stop().await;
}

/// Replies with the message's content, after yielding a varying number of
/// times so that a pipeline that reordered messages would show it.
struct EchoHandler(AtomicUsize);

#[async_trait::async_trait]
impl Handler for EchoHandler {
    async fn handle(&self, msg: &InboundMessage, _: &mut Effects) -> Option<Decided> {
        let n = self.0.fetch_add(7, Ordering::Relaxed) % 5;
        for _ in 0..n {
            tokio::task::yield_now().await;
        }
        Some(Decided {
            by: DecidedBy::Native("echo"),
            decision: Decision {
                reply: Some(msg.content.clone()),
                shutup: None,
            },
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_chat_keeps_its_order_under_concurrent_injection() {
    let handlers: Vec<Arc<dyn Handler>> = vec![Arc::new(EchoHandler(AtomicUsize::new(0)))];
    let gw = openqq::Gateway::start_with_handlers(test_config(), handlers)
        .await
        .expect("gateway");
    let gw = Arc::new(TestGateway {
        base: format!("http://{}", gw.addr),
        gateway: gw,
        http: reqwest::Client::new(),
    });
    const PER_CHAT: usize = 40;
    let chats = [
        json!({"type": "message", "sender_qq": 123456}),
        json!({"type": "message", "sender_qq": 7891234}),
        json!({"type": "group_message", "sender_qq": 888888, "gnumber": 552603}),
        json!({"type": "group_message", "sender_qq": 45678, "gnumber": 552603}),
        json!({"type": "group_message", "sender_qq": 888888, "gnumber": 661234}),
    ];
    support::inject_side_by_side(&gw, chats.clone(), PER_CHAT).await;
    let total = chats.len() * PER_CHAT;
    let sent = gw.sent_until(0, WAIT, |s| s.len() >= total).await;
    // Group the replies by chat; the two group messages in 552603 share one chat.
    let mut per_chat: std::collections::HashMap<String, Vec<(usize, usize)>> = Default::default();
    for r in &sent {
        let content = r["content"].as_str().expect("content");
        let (c, i) = content.split_once(':').expect("c:i");
        let key = format!("{}{}{}", r["action"], r["qq"], r["gnumber"]);
        per_chat
            .entry(key)
            .or_default()
            .push((c.parse().expect("c"), i.parse().expect("i")));
    }
    for (chat, seq) in &per_chat {
        for c in 0..chats.len() {
            let order: Vec<usize> = seq
                .iter()
                .filter(|(cc, _)| *cc == c)
                .map(|(_, i)| *i)
                .collect();
            assert!(
                order.windows(2).all(|w| w[0] < w[1]),
                "chat {chat} source {c} out of order: {order:?}"
            );
        }
    }
    assert_eq!(sent.len(), total);
}

/// Panics on "boom" (a bug in a handler); replies "ok" to anything else.
struct PanickyHandler;

#[async_trait::async_trait]
impl Handler for PanickyHandler {
    async fn handle(&self, msg: &InboundMessage, _: &mut Effects) -> Option<Decided> {
        assert!(msg.content != "boom", "a handler bug");
        Some(Decided {
            by: DecidedBy::Native("panicky"),
            decision: Decision {
                reply: Some("ok".into()),
                shutup: None,
            },
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_loses_neither_the_message_nor_the_lane() {
    let mut rx = Receiver::start().await;
    let mut config = test_config();
    config.post_api = Some(rx.url.clone());
    let handlers: Vec<Arc<dyn Handler>> = vec![Arc::new(PanickyHandler)];
    let gw = openqq::Gateway::start_with_handlers(config, handlers)
        .await
        .expect("gateway");
    let gw = TestGateway {
        base: format!("http://{}", gw.addr),
        gateway: gw,
        http: reqwest::Client::new(),
    };
    let chat = json!({"type": "message", "sender_qq": 123456});
    let mut boom = chat.clone();
    boom["content"] = json!("boom");
    gw.receive(boom).await;
    let report = rx.next().await;
    assert_eq!(
        report.body["content"], "boom",
        "the message reached the webhook"
    );
    // The same chat (so the same lane) is still served.
    let mut next = chat.clone();
    next["content"] = json!("again");
    gw.receive(next).await;
    let sent = gw.sent_until(0, WAIT, |s| !s.is_empty()).await;
    assert_eq!(sent[0]["content"], "ok");
    gw.gateway.stop().await;
}

/// Answers every message after 2 ms, so a burst piles up in the lanes.
struct SlowHandler;

#[async_trait::async_trait]
impl Handler for SlowHandler {
    async fn handle(&self, msg: &InboundMessage, _: &mut Effects) -> Option<Decided> {
        tokio::time::sleep(Duration::from_millis(2)).await;
        Some(Decided {
            by: DecidedBy::Native("slow"),
            decision: Decision {
                reply: Some(msg.content.clone()),
                shutup: None,
            },
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_still_handles_every_message_already_received() {
    let handlers: Vec<Arc<dyn Handler>> = vec![Arc::new(SlowHandler)];
    let gw = openqq::Gateway::start_with_handlers(test_config(), handlers)
        .await
        .expect("gateway");
    let sim = gw.sim.clone().expect("the sim backend");
    let gw = TestGateway {
        base: format!("http://{}", gw.addr),
        gateway: gw,
        http: reqwest::Client::new(),
    };
    // One chat, so one lane: ~2 ms each, far slower than they arrive.
    const N: usize = 300;
    for i in 0..N {
        gw.receive(json!({"type": "message", "sender_qq": 123456, "content": format!("m{i}")}))
            .await;
    }
    assert!(
        sim.sent_after(0).len() < N,
        "the test needs a backlog when the stop begins"
    );
    gw.gateway.stop().await;
    assert_eq!(
        sim.sent_after(0).len(),
        N,
        "every message received before the stop is answered before it ends"
    );
}
