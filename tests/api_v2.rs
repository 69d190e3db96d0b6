//! End-to-end: the Openqq v2 dialect (`api_version = 2`) — shapes, reports,
//! events, `check_event`, the client routes and access tokens (spec §7).

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use openqq::config::Config;
use openqq::render::Dialect;
use serde_json::{Value, json};
use support::receiver::Receiver;
use support::{TestGateway, test_config};

const WAIT: Duration = Duration::from_secs(10);

fn v2(post_api: Option<&str>) -> Config {
    Config {
        api_version: Dialect::V2,
        post_api: post_api.map(str::to_string),
        ..test_config()
    }
}

/// Polls `check_event` once (it returns at once when something is buffered).
async fn check_event(gw: &TestGateway) -> Vec<Value> {
    match gw.get("/openqq/check_event").await {
        Value::Array(v) => v,
        other => panic!("check_event answered {other}"),
    }
}

/// Reports until one satisfies `pick`, skipping others.
async fn report_where(rx: &mut Receiver, pick: impl Fn(&Value) -> bool) -> Value {
    loop {
        let r = rx.next().await;
        if pick(&r.body) {
            return r.body;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_and_answers_have_the_v2_shape() {
    let gw = TestGateway::with_config(v2(None)).await;
    let u = gw.get("/openqq/get_user_info").await;
    assert_eq!(
        (u["uid"].clone(), u["name"].clone(), u["sex"].clone()),
        (json!(1234567), json!("小灰"), json!("male"))
    );
    assert!(
        u["id"].is_u64() && u.get("qq").is_none() && u.get("nick").is_none(),
        "{u}"
    );

    let friends = gw.get("/openqq/get_friend_info").await;
    let f = &friends[0];
    assert_eq!(
        (f["uid"].clone(), f["name"].clone(), f["markname"].clone()),
        (json!(123456), json!("测试帐号1"), json!("xxx"))
    );
    assert!(
        f["id"].is_u64() && f["face"].is_u64() && f["vip_level"].is_u64(),
        "{f}"
    );

    let groups = gw.get("/openqq/get_group_info").await;
    let g = groups
        .as_array()
        .and_then(|a| a.iter().find(|g| g["uid"] == 552603))
        .expect("group");
    assert_eq!(
        (g["name"].clone(), g["role"].clone(), g["owner_uid"].clone()),
        (json!("PERL学习交流"), json!("manage"), json!(123455))
    );
    assert!(g["id"].is_u64() && g["member"].is_array(), "{g}");
    let m = &g["member"].as_array().expect("members")[0];
    assert!(
        m["uid"].is_u64() && m["name"].is_string() && m.get("nick").is_none(),
        "{m}"
    );
    assert!(
        gw.get("/openqq/get_group_basic_info").await[0]
            .get("member")
            .is_none()
    );
    let d = &gw.get("/openqq/get_discuss_info").await[0];
    assert_eq!(d["name"], "测试");
    assert!(
        d["id"].is_u64() && d["owner_id"].is_u64() && d["member"][0]["uid"].is_u64(),
        "{d}"
    );

    // Searches accept v2 names and answer v2 objects.
    let found = gw.get("/openqq/search_friend?uid=7891234").await;
    assert_eq!(found[0]["name"], "测试帐号2");
    let found = gw.get("/openqq/search_group?uid=552603").await;
    assert_eq!(found[0]["uid"], 552603);

    // Sends: `id` and `info` instead of `msg_id`.
    let ok = gw
        .get("/openqq/send_friend_message?uid=123456&content=hi")
        .await;
    assert_eq!(
        (ok["code"].clone(), ok["status"].clone(), ok["info"].clone()),
        (json!(0), json!("发送成功"), json!("发送正常"))
    );
    assert!(ok["id"].is_u64() && ok.get("msg_id").is_none(), "{ok}");
    let gid = g["id"].as_u64().expect("gid");
    let ok = gw
        .get(&format!("/openqq/send_group_message?id={gid}&content=hi"))
        .await;
    assert_eq!(ok["code"], 0);
    let nf = gw.get("/openqq/send_friend_message?uid=1&content=hi").await;
    assert_eq!(
        nf,
        json!({"code": 100, "id": null, "status": "friend not found"})
    );
    let nf = gw.get("/openqq/send_group_message?uid=1&content=hi").await;
    assert_eq!(
        nf,
        json!({"code": 101, "id": null, "status": "group not found"})
    );

    // shutup `time` is in minutes in v2: 2 → 120 s.
    let seq = gw.last_seq().await;
    let r = gw
        .get("/openqq/shutup_group_member?group_uid=552603&member_uid=888888&time=2")
        .await;
    assert_eq!(r, json!({"code": 0, "status": "success"}));
    let sent = gw.sent(seq).await;
    assert_eq!(
        (sent[0]["action"].as_str(), sent[0]["time"].as_u64()),
        (Some("shutup"), Some(120))
    );
    let r = gw
        .get("/openqq/shutup_group_member?group_uid=552603&member_uid=888888&time=0")
        .await;
    assert_eq!(r["code"], 201);

    // Client routes.
    let info = gw.get("/openqq/get_client_info").await;
    assert_eq!(
        (
            info["code"].clone(),
            info["status"].clone(),
            info["account"].clone()
        ),
        (json!(0), json!("success"), json!(1234567))
    );
    assert!(
        info["pid"].is_u64() && info["starttime"].is_u64() && info["runtime"].is_u64(),
        "{info}"
    );

    // v2's unknown path answer.
    let res = gw
        .http
        .get(gw.url("/openqq/nope"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 403);
    assert_eq!(res.text().await.expect("body"), "api not found");
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn received_and_sent_messages_are_reported_and_a_send_report_never_loops() {
    let mut rx = Receiver::start().await;
    let gw = TestGateway::with_config(v2(Some(&rx.url))).await;
    // A received group message: v2 names, numbers, post_type.
    let id = gw.receive(json!({"type": "group_message", "sender_qq": 888888, "gnumber": 552603, "content": "reply:你好"})).await;
    let r = report_where(&mut rx, |b| b["post_type"] == "receive_message").await;
    assert_eq!(r["id"], json!(id.parse::<u64>().expect("numeric id")));
    assert_eq!(
        (
            r["type"].clone(),
            r["class"].clone(),
            r["sender_uid"].clone(),
            r["group_uid"].clone()
        ),
        (
            json!("group_message"),
            json!("recv"),
            json!(888888),
            json!(552603)
        )
    );
    assert!(
        r["time"].is_u64()
            && r["sender_id"].is_u64()
            && r["group_id"].is_u64()
            && r.get("msg_id").is_none(),
        "{r}"
    );
    // The webhook's reply is itself reported, with `from`; the receiver
    // answers that report with a reply too ("reply:…" content) — which
    // must not be acted on, or it would loop forever.
    let s = report_where(&mut rx, |b| b["post_type"] == "send_message").await;
    assert_eq!(
        (
            s["content"].clone(),
            s["from"].clone(),
            s["class"].clone(),
            s["code"].clone()
        ),
        (json!("你好"), json!("bot"), json!("send"), json!(0))
    );
    // As the original's: `source` local (sent by this client), `ttl` the
    // attempts left of v2's 3 after the first went through.
    assert_eq!(
        (s["source"].clone(), s["ttl"].clone()),
        (json!("local"), json!(2))
    );
    assert_eq!(
        (s["group_uid"].clone(), s["type"].clone()),
        (json!(552603), json!("group_message"))
    );
    // An API send is reported with from = api.
    assert_eq!(
        gw.get("/openqq/send_friend_message?uid=123456&content=reply:loop")
            .await["code"],
        0
    );
    let s = report_where(&mut rx, |b| {
        b["post_type"] == "send_message" && b["content"] == "reply:loop"
    })
    .await;
    assert_eq!(
        (
            s["from"].clone(),
            s["receiver_uid"].clone(),
            s["type"].clone()
        ),
        (json!("api"), json!(123456), json!("friend_message"))
    );
    // Both send reports were answered with {"reply": …}; nothing more was sent.
    gw.webhook_stats_until(|[answered, ..]| answered >= 3).await;
    // Every report queued so far — the "reply:loop" report among them, as
    // the receiver has seen it — has been posted and its answer dealt with:
    // had the answer been acted on, its send would be recorded by now.
    tokio::time::timeout(
        WAIT,
        gw.gateway.webhook.as_ref().expect("webhook").drained(),
    )
    .await
    .expect("the webhook drained");
    let sends: Vec<Value> = gw
        .sent(0)
        .await
        .into_iter()
        .filter(|r| r["action"] != "shutup")
        .collect();
    assert_eq!(
        sends.len(),
        2,
        "the send-report loop guard failed: {sends:?}"
    );
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_and_login_events_are_reported() {
    let mut rx = Receiver::start().await;
    let mut config = v2(Some(&rx.url));
    config.post_event_list = Some(vec![
        "login".into(),
        "new_group_member".into(),
        "lose_group_member".into(),
        "new_friend".into(),
        "lose_friend".into(),
    ]);
    let gw = TestGateway::with_config(config).await;
    let is_event =
        |name: &'static str| move |b: &Value| b["post_type"] == "event" && b["event"] == name;
    // The login at start.
    let e = report_where(&mut rx, is_event("login")).await;
    assert_eq!(e["params"], json!([1]));

    let join = json!({"gnumber": 552603, "qq": 5550001, "nick": "新人", "card": "新人卡"});
    assert_eq!(gw.post_json("/sim/join", &join).await["code"], 0);
    let e = report_where(&mut rx, is_event("new_group_member")).await;
    let (member, group) = (&e["params"][0], &e["params"][1]);
    assert_eq!(
        (
            member["uid"].clone(),
            member["name"].clone(),
            member["card"].clone()
        ),
        (json!(5550001), json!("新人"), json!("新人卡"))
    );
    assert_eq!(group["uid"], 552603);
    assert!(
        group["member"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m["uid"] == 5550001)),
        "{group}"
    );
    // The new member is in the contacts and can be messaged.
    let r = gw
        .get("/openqq/send_sess_message?group_uid=552603&uid=5550001&content=欢迎")
        .await;
    assert_eq!(r["code"], 0, "{r}");

    assert_eq!(
        gw.post_json("/sim/leave", &json!({"gnumber": 552603, "qq": 5550001}))
            .await["code"],
        0
    );
    let e = report_where(&mut rx, is_event("lose_group_member")).await;
    assert_eq!(e["params"][0]["uid"], 5550001);
    assert!(
        e["params"][1]["member"]
            .as_array()
            .is_some_and(|m| !m.iter().any(|m| m["uid"] == 5550001))
    );
    let r = gw
        .get("/openqq/send_sess_message?group_uid=552603&uid=5550001&content=x")
        .await;
    assert_eq!(r["code"], 103);

    // A kick is a lose_group_member too.
    assert_eq!(
        gw.get("/openqq/kick_group_member?group_uid=552603&member_uid=999999")
            .await["code"],
        0
    );
    let e = report_where(&mut rx, is_event("lose_group_member")).await;
    assert_eq!(e["params"][0]["uid"], 999999);

    assert_eq!(
        gw.post_json(
            "/sim/friend",
            &json!({"action": "add", "qq": 4440001, "nick": "新朋友"})
        )
        .await["code"],
        0
    );
    let e = report_where(&mut rx, is_event("new_friend")).await;
    assert_eq!(
        (
            e["params"][0]["uid"].clone(),
            e["params"][0]["name"].clone()
        ),
        (json!(4440001), json!("新朋友"))
    );
    assert_eq!(
        gw.get("/openqq/search_friend?uid=4440001").await[0]["name"],
        "新朋友"
    );
    assert_eq!(
        gw.post_json("/sim/friend", &json!({"action": "remove", "qq": 4440001}))
            .await["code"],
        0
    );
    let e = report_where(&mut rx, is_event("lose_friend")).await;
    assert_eq!(e["params"][0]["uid"], 4440001);

    // A relogin is a login event; `relogin` is also a v2 route.
    let r = gw.get("/openqq/relogin").await;
    assert_eq!(r["code"], 0);
    let e = report_where(&mut rx, is_event("login")).await;
    assert_eq!(e["params"], json!([1]));

    // Unknown members and bad bodies get clear answers.
    assert_eq!(
        gw.post_json("/sim/leave", &json!({"gnumber": 552603, "qq": 1}))
            .await["code"],
        100
    );
    assert_eq!(
        gw.post_json("/sim/join", &json!({"gnumber": 1, "qq": 1}))
            .await["code"],
        101
    );
    assert_eq!(
        gw.post_json("/sim/friend", &json!({"action": "poke", "qq": 1}))
            .await["code"],
        400
    );
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_not_in_post_event_list_are_not_posted_but_buffered() {
    let mut rx = Receiver::start().await;
    let mut config = v2(Some(&rx.url));
    config.post_event_list = Some(vec!["lose_friend".into()]);
    let gw = TestGateway::with_config(config).await;
    gw.post_json("/sim/join", &json!({"gnumber": 552603, "qq": 5550002}))
        .await;
    gw.post_json("/sim/friend", &json!({"action": "remove", "qq": 7891234}))
        .await;
    let e = report_where(&mut rx, |b| b["post_type"] == "event").await;
    assert_eq!(
        e["event"], "lose_friend",
        "login/new_group_member must not be posted: {e}"
    );
    let buffered = check_event(&gw).await;
    let names: Vec<&str> = buffered
        .iter()
        .filter_map(|b| b["event"].as_str())
        .collect();
    assert_eq!(
        names,
        vec!["new_group_member", "lose_friend"],
        "lifecycle events are not buffered"
    );
    gw.gateway.stop().await;
}

/// In paused time (the gateway runs in this test's runtime): a sleep ends
/// only when every task is waiting, so the pollers have reached the
/// gateway and wait there, and the 30 s long poll passes in no time.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn check_event_returns_the_buffer_or_long_polls() {
    let gw = Arc::new(TestGateway::with_config(v2(None)).await);
    // Buffered reports come back at once, and the buffer is cleared.
    gw.receive(json!({"type": "message", "sender_qq": 123456, "content": "one"}))
        .await;
    gw.receive(json!({"type": "message", "sender_qq": 123456, "content": "two"}))
        .await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut got = Vec::new();
    while got.len() < 2 {
        got.extend(check_event(&gw).await);
        assert!(tokio::time::Instant::now() < deadline);
    }
    let contents: Vec<&str> = got.iter().filter_map(|r| r["content"].as_str()).collect();
    assert_eq!(contents, vec!["one", "two"]);
    assert!(got.iter().all(|r| r["post_type"] == "receive_message"));

    // One poller waits for the next report.
    let poll = {
        let gw = gw.clone();
        tokio::spawn(async move { check_event(&gw).await })
    };
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert!(!poll.is_finished(), "an empty check_event must wait");
    gw.receive(json!({"type": "message", "sender_qq": 123456, "content": "three"}))
        .await;
    let got = tokio::time::timeout(WAIT, poll)
        .await
        .expect("answered")
        .expect("task");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["content"], "three");

    // Three concurrent pollers and one report: one gets it, the others get
    // `[]` after the long poll — never `[null]`.
    let pollers: Vec<_> = (0..3)
        .map(|_| {
            let gw = gw.clone();
            tokio::spawn(async move { check_event(&gw).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    gw.receive(json!({"type": "message", "sender_qq": 123456, "content": "four"}))
        .await;
    let mut results = Vec::new();
    for p in pollers {
        results.push(
            tokio::time::timeout(Duration::from_secs(40), p)
                .await
                .expect("answered")
                .expect("task"),
        );
    }
    let items: Vec<&Value> = results.iter().flatten().collect();
    assert_eq!(items.len(), 1, "{results:?}");
    assert_eq!(items[0]["content"], "four");
    assert!(items.iter().all(|v| !v.is_null()));
    assert_eq!(results.iter().filter(|r| r.is_empty()).count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_sends_answer_at_once_and_still_send() {
    let gw = TestGateway::with_config(v2(None)).await;
    let before = gw.last_seq().await;
    let v = gw
        .get("/openqq/send_friend_message?uid=123456&content=fire&async=1")
        .await;
    assert_eq!(
        v,
        json!({"code": 0, "status": "request already in execution"})
    );
    let sent = gw.sent_until(before, WAIT, |s| !s.is_empty()).await;
    assert_eq!(sent[0]["content"], "fire");
    let v = gw
        .get("/openqq/send_group_message?uid=552603&content=sync&async=0")
        .await;
    assert_eq!(v["code"], 0);
    assert!(v["id"].is_u64(), "async=0 is a synchronous send: {v}");
    // The target is still looked up first.
    let v = gw
        .get("/openqq/send_friend_message?uid=42&content=x&async=1")
        .await;
    assert_eq!(v["code"], 100, "{v}");
    gw.gateway.stop().await;

    let v1 = TestGateway::start().await;
    let v = v1
        .get("/openqq/send_message?qq=123456&content=x&async=1")
        .await;
    assert!(v["msg_id"].is_u64(), "v1 never had async: {v}");
    v1.gateway.stop().await;
}

/// A GET's raw body and Content-Type.
async fn raw(gw: &TestGateway, path: &str) -> (String, String) {
    let res = gw.http.get(gw.url(path)).send().await.expect("request");
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (res.text().await.expect("body"), ct)
}

/// `cb(…)` → the JSON inside.
fn unwrap_jsonp(body: &str, callback: &str) -> Value {
    let inner = body
        .strip_prefix(&format!("{callback}("))
        .and_then(|b| b.strip_suffix(')'))
        .unwrap_or_else(|| panic!("not wrapped in {callback}(…): {body}"));
    serde_json::from_str(inner).unwrap_or_else(|e| panic!("{e}: {inner}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_answers_jsonp_and_v1_does_not() {
    let gw = TestGateway::with_config(v2(None)).await;
    let plain = gw.get("/openqq/get_user_info").await;
    let (body, ct) = raw(&gw, "/openqq/get_user_info?datatype=jsonp&callback=cb").await;
    assert_eq!(unwrap_jsonp(&body, "cb"), plain);
    assert!(ct.starts_with("application/json"), "left as it was: {ct}");
    // jQuery's JSONP request: its callback name and `_` cache-buster are
    // not search attributes.
    let (body, _) = raw(
        &gw,
        "/openqq/search_friend?uid=123456&datatype=jsonp&callback=jQuery1_2&_=1700000000",
    )
    .await;
    let found = unwrap_jsonp(&body, "jQuery1_2");
    assert_eq!(found[0]["uid"], 123456, "{found}");
    let (body, _) = raw(&gw, "/openqq/get_user_info?datatype=jsonp").await;
    assert!(body.starts_with("jsoncallback"), "{body}");
    let (body, _) = raw(
        &gw,
        "/openqq/get_user_info?datatype=jsonp&callback=alert(document.cookie)",
    )
    .await;
    let refused: Value = serde_json::from_str(&body).expect("a JSON error");
    assert_eq!(refused["code"], 400, "{refused}");
    gw.gateway.stop().await;

    let v1 = TestGateway::start().await;
    let (body, _) = raw(&v1, "/openqq/get_user_info?datatype=jsonp&callback=cb").await;
    let plain: Value = serde_json::from_str(&body).expect("v1 answers plain JSON");
    assert_eq!(plain["qq"], "1234567");
    v1.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_tokens_are_checked_in_both_dialects() {
    for dialect in [Dialect::V1, Dialect::V2] {
        let config = Config {
            api_version: dialect,
            access_token: Some("t0k".into()),
            ..test_config()
        };
        let gw = TestGateway::with_config(config).await;
        let res = gw
            .http
            .get(gw.url("/openqq/get_user_info"))
            .send()
            .await
            .expect("request");
        match dialect {
            Dialect::V1 => {
                assert_eq!(res.status(), 403);
                assert_eq!(res.text().await.expect("body"), "auth failure");
            }
            Dialect::V2 => {
                assert_eq!(res.status(), 200);
                assert_eq!(
                    res.json::<Value>().await.expect("JSON"),
                    json!({"code": -6, "status": "auth failure"})
                );
            }
        }
        let wrong = gw
            .http
            .get(gw.url("/openqq/get_user_info?access_token=nope"))
            .send()
            .await
            .expect("request");
        assert!(wrong.status() == 403 || wrong.json::<Value>().await.expect("JSON")["code"] == -6);
        let ok = gw.get("/openqq/get_user_info?access_token=t0k").await;
        assert!(ok.get("qq").is_some() || ok.get("uid").is_some(), "{ok}");
        let res = gw
            .http
            .get(gw.url("/openqq/search_friend?qq=123456"))
            .bearer_auth("t0k")
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 200);
        // The token is never taken for a search attribute.
        let found = gw
            .get("/openqq/search_friend?qq=123456&access_token=t0k")
            .await;
        assert!(found.is_array(), "{found}");
        gw.gateway.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_client_finishes_in_flight_sends_then_stops() {
    let mut config = v2(None);
    config.outbox.spacing_ms = 300;
    let gw = Arc::new(TestGateway::with_config(config).await);
    // Two sends: the second waits 300 ms in the outbox.
    let first = gw
        .get("/openqq/send_friend_message?uid=123456&content=a")
        .await;
    assert_eq!(first["code"], 0);
    let pending = {
        let gw = gw.clone();
        tokio::spawn(async move {
            gw.get("/openqq/send_friend_message?uid=123456&content=b")
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let r = gw.get("/openqq/stop_client").await;
    assert_eq!(r["code"], 0);
    assert!(
        r["status"]
            .as_str()
            .is_some_and(|s| s.starts_with("success"))
    );
    let second = tokio::time::timeout(WAIT, pending)
        .await
        .expect("answered")
        .expect("task");
    assert_eq!(
        second["code"], 0,
        "the in-flight send was cut off: {second}"
    );
    tokio::time::timeout(WAIT, gw.gateway.stopping())
        .await
        .expect("stopping signalled");
    // The server stops accepting.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if gw
            .http
            .get(gw.url("/openqq/get_user_info"))
            .send()
            .await
            .is_err()
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still serving after stop_client"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A reply the receiver asks for while the gateway stops is a send: it is
/// carried out and reported (`send_message`) before the stop ends, with the
/// `stop` event after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_reply_during_the_stop_is_sent_and_reported() {
    let mut rx = Receiver::start().await;
    let gw = TestGateway::with_config(v2(Some(&rx.url))).await;
    report_where(&mut rx, |b| b["event"] == "login").await;
    let seq = gw.last_seq().await;
    // The receiver answers after 3 s: the stop is under way by then.
    gw.receive(json!({"type": "message", "sender_qq": 123456, "content": "slow"}))
        .await;
    let sim = gw.gateway.sim.clone().expect("the sim backend");
    gw.gateway.stop().await;
    let sent: Vec<Value> = sim.sent_after(seq).iter().map(|r| r.to_json()).collect();
    assert!(
        sent.iter().any(|r| r["content"] == "late"),
        "the reply was sent: {sent:?}"
    );
    let reports: Vec<Value> = rx.drain().into_iter().map(|r| r.body).collect();
    assert!(
        reports
            .iter()
            .any(|b| b["post_type"] == "send_message" && b["content"] == "late"),
        "the reply's send report was posted: {reports:?}"
    );
    assert!(
        reports.iter().any(|b| b["event"] == "stop"),
        "so was the stop: {reports:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_posts_what_was_received_and_the_stop_event() {
    let mut rx = Receiver::start().await;
    let gw = TestGateway::with_config(v2(Some(&rx.url))).await;
    // The login event may come first; skip it.
    report_where(&mut rx, |b| b["event"] == "login").await;
    for i in 0..20 {
        gw.receive(json!({"type": "message", "sender_qq": 123456, "content": format!("m{i}")}))
            .await;
    }
    gw.gateway.stop().await;
    let reports: Vec<Value> = rx.drain().into_iter().map(|r| r.body).collect();
    let received = reports
        .iter()
        .filter(|b| b["post_type"] == "receive_message")
        .count();
    assert_eq!(received, 20, "every message posted before the stop ended");
    // Posts go out side by side, so only the presence is certain here.
    let stops = reports
        .iter()
        .filter(|b| b["post_type"] == "event" && b["event"] == "stop")
        .count();
    assert_eq!(
        stops, 1,
        "the stop event is posted before the stop ends: {reports:?}"
    );
}
