//! End to end over every Openqq v1 route (spec §1–§4, §7 aliases), against
//! the real router on 127.0.0.1 with the embedded simulated world, plus the
//! real `openqq` binary.
//!
//! The world (host/src/backend/sim/default_world.json): the account 小灰
//! 1234567; friends 123456 测试帐号1 (markname xxx) and 7891234 测试帐号2
//! (markname 哈哈); group 552603 PERL学习交流 where the account is admin
//! (owner 123455, admin 45678, members 123456/888888/999999); group 661234
//! 吃瓜群 where it is only a member (owner 777777, member 888888); the
//! discussion 测试 with 1234567/456789/78901.

use crate::support;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value, json};
use support::api::{
    self, Case, array, by_field, client, free_port, member_qqs, refused_mutes, send_err, status,
    three_ways,
};
use support::{TestGateway, wait};

const ROUTE_TIMEOUT: Duration = Duration::from_secs(20);
const WAIT: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------- helpers

/// A gateway whose client gives up on any request after `ROUTE_TIMEOUT`,
/// so a hanging route fails the test instead of hanging it.
async fn gateway() -> TestGateway {
    let mut gw = TestGateway::start().await;
    gw.http = client(ROUTE_TIMEOUT);
    gw
}

/// Asserts the v1 send success shape and returns the `msg_id`.
fn sent_ok(v: &Value) -> u64 {
    assert_eq!(
        v.as_object().map(Map::len),
        Some(3),
        "exactly code, msg_id, status: {v}"
    );
    api::sent_ok(v)
}

/// Exactly `n` records after `after` (waiting up to `WAIT` for them).
async fn records(gw: &TestGateway, after: u64, n: usize) -> Vec<Value> {
    let s = gw.sent_until(after, WAIT, |s| s.len() >= n).await;
    assert_eq!(s.len(), n, "records after {after}: {s:#?}");
    s
}

/// Nothing was recorded after `after`.
async fn nothing_recorded(gw: &TestGateway, after: u64) {
    let s = gw.sent(after).await;
    assert!(s.is_empty(), "expected no action, got {s:#?}");
}

fn s<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is a string in {v}"))
}

/// A session id: a non-empty string of digits.
fn assert_session_id(v: &Value, field: &str) -> String {
    let id = s(v, field);
    assert!(
        !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()),
        "{field} = {id:?} in {v}"
    );
    id.to_string()
}

/// Every value of an object is a JSON string (v1 shape, spec §3).
fn assert_all_strings(v: &Value, except: &[&str]) {
    for (k, val) in v
        .as_object()
        .unwrap_or_else(|| panic!("object expected: {v}"))
    {
        if !except.contains(&k.as_str()) {
            assert!(val.is_string(), "{k} is not a string in {v}");
        }
    }
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    k.sort_unstable();
    k
}

async fn friend_id(gw: &TestGateway, qq: &str) -> String {
    let f = gw.get("/openqq/get_friend_info").await;
    s(by_field(array(&f), "qq", qq), "id").to_string()
}

async fn gid(gw: &TestGateway, gnumber: &str) -> String {
    let g = gw.get("/openqq/get_group_basic_info").await;
    s(by_field(array(&g), "gnumber", gnumber), "gid").to_string()
}

async fn member_id(gw: &TestGateway, gnumber: &str, qq: &str) -> String {
    let g = gw.get("/openqq/get_group_info").await;
    let group = by_field(array(&g), "gnumber", gnumber);
    s(by_field(array(&group["member"]), "qq", qq), "id").to_string()
}

async fn did(gw: &TestGateway) -> String {
    let d = gw.get("/openqq/get_discuss_info").await;
    s(&array(&d)[0], "did").to_string()
}

// ---------------------------------------------------------------- reads

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_user_info_has_the_seed_fields() {
    let gw = gateway().await;
    for v in three_ways(&gw, "get_user_info", &[]).await {
        let id = assert_session_id(&v, "id");
        let mut expected = json!({
            "account": "1234567", "birthday": "1990-01-01", "blood": "3", "city": "北京",
            "client_type": "web", "college": "", "country": "中国", "email": "", "gender": "male",
            "homepage": "", "id": id, "mobile": "188********", "nick": "小灰",
            "occupation": "计算机/互联网/IT", "personal": "这是我的个性签名", "phone": "",
            "province": "北京", "qq": "1234567", "signature": " ", "state": "online",
        });
        // `face` is optional (spec §3: "where known"); when present, a string.
        if let Some(face) = v.get("face") {
            assert!(face.is_string(), "{v}");
            expected["face"] = face.clone();
        }
        assert_eq!(v, expected);
    }
    // The account's id is the same person id it has as a group member.
    let user = gw.get("/openqq/get_user_info").await;
    assert_eq!(s(&user, "id"), member_id(&gw, "552603", "1234567").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_friend_info_lists_both_friends() {
    let gw = gateway().await;
    for v in three_ways(&gw, "get_friend_info", &[]).await {
        let friends = array(&v);
        assert_eq!(friends.len(), 2, "{v}");
        let a = by_field(friends, "qq", "123456");
        let b = by_field(friends, "qq", "7891234");
        let (ida, idb) = (assert_session_id(a, "id"), assert_session_id(b, "id"));
        assert_ne!(ida, idb);
        assert_eq!(
            *a,
            json!({"category": "我的网友", "client_type": "unknown", "face": "153", "flag": "0",
                   "id": ida, "is_vip": "1", "markname": "xxx", "nick": "测试帐号1", "qq": "123456",
                   "state": "offline", "vip_level": "6"})
        );
        assert_eq!(
            *b,
            json!({"category": "我的家人", "client_type": "unknown", "face": "168", "flag": "32",
                   "id": idb, "is_vip": "0", "markname": "哈哈", "nick": "测试帐号2", "qq": "7891234",
                   "state": "offline", "vip_level": "0"})
        );
    }
}

const GROUP_KEYS: [&str; 10] = [
    "gcode",
    "gcreatetime",
    "gid",
    "glevel",
    "gmarkname",
    "gmemo",
    "gname",
    "gnumber",
    "gowner",
    "gtype",
];
const MEMBER_KEYS: [&str; 17] = [
    "bad_record",
    "card",
    "city",
    "client_type",
    "country",
    "gender",
    "gnumber",
    "id",
    "join_time",
    "last_speak_time",
    "level",
    "nick",
    "province",
    "qage",
    "qq",
    "role",
    "state",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_group_info_has_members_and_roles() {
    let gw = gateway().await;
    for v in three_ways(&gw, "get_group_info", &[]).await {
        let groups = array(&v);
        assert_eq!(groups.len(), 2, "{v}");
        let perl = by_field(groups, "gnumber", "552603");
        let mut group_keys = GROUP_KEYS.to_vec();
        group_keys.push("member");
        group_keys.sort_unstable();
        assert_eq!(keys(perl), group_keys);
        assert_all_strings(perl, &["member"]);
        assert_session_id(perl, "gid");
        assert_session_id(perl, "gcode");
        assert_eq!(perl["gname"], "PERL学习交流");
        assert_eq!(perl["gmarkname"], "xxx");
        assert_eq!(perl["gtype"], "manage");
        assert_eq!(perl["gcreatetime"], "1453449884");
        assert_eq!(perl["glevel"], "1");
        assert_eq!(perl["gmemo"], "");
        let members = array(&perl["member"]);
        let roles: BTreeMap<&str, &str> =
            members.iter().map(|m| (s(m, "qq"), s(m, "role"))).collect();
        assert_eq!(
            roles,
            BTreeMap::from([
                ("123455", "owner"),
                ("45678", "admin"),
                ("123456", "member"),
                ("888888", "member"),
                ("999999", "member"),
                ("1234567", "admin"),
            ])
        );
        for m in members {
            let mut mk = MEMBER_KEYS.to_vec();
            mk.sort_unstable();
            assert_eq!(keys(m), mk, "{m}");
            assert_all_strings(m, &[]);
            assert_eq!(m["gnumber"], "552603");
            assert_session_id(m, "id");
        }
        // v1's gowner is the owner's per-login id, as the original's
        // (the group info's `owner` uin), not the owner's number.
        let owner = by_field(members, "qq", "123455");
        assert_eq!(perl["gowner"], owner["id"]);
        assert_ne!(perl["gowner"], "123455");
        let admin = by_field(members, "qq", "45678");
        assert_eq!(admin["nick"], "灰灰");
        assert_eq!(admin["card"], "灰灰的名片");
        assert_eq!(admin["city"], "大连");
        assert_eq!(admin["province"], "辽宁");
        assert_eq!(admin["country"], "中国");
        assert_eq!(admin["qage"], "16");
        assert_eq!(admin["last_speak_time"], "1453449884");
        assert_eq!(by_field(members, "qq", "999999")["card"], "乙");
        assert_eq!(by_field(members, "qq", "888888")["nick"], "路人甲");
        assert_eq!(by_field(members, "qq", "888888")["gender"], "female");

        let melon = by_field(groups, "gnumber", "661234");
        assert_eq!(melon["gname"], "吃瓜群");
        assert_eq!(melon["gtype"], "attend");
        let roles: BTreeMap<&str, &str> = array(&melon["member"])
            .iter()
            .map(|m| (s(m, "qq"), s(m, "role")))
            .collect();
        assert_eq!(
            roles,
            BTreeMap::from([
                ("777777", "owner"),
                ("888888", "member"),
                ("1234567", "member")
            ])
        );
        assert_ne!(melon["gid"], perl["gid"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_group_basic_info_is_group_info_without_members() {
    let gw = gateway().await;
    let full = gw.get("/openqq/get_group_info").await;
    for v in three_ways(&gw, "get_group_basic_info", &[]).await {
        let groups = array(&v);
        assert_eq!(groups.len(), 2);
        for g in groups {
            let mut k = GROUP_KEYS.to_vec();
            k.sort_unstable();
            assert_eq!(keys(g), k, "{g}");
            assert_all_strings(g, &[]);
            let mut with = by_field(array(&full), "gnumber", s(g, "gnumber")).clone();
            with.as_object_mut().expect("object").remove("member");
            assert_eq!(*g, with);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_discuss_info_lists_the_discussion() {
    let gw = gateway().await;
    for v in three_ways(&gw, "get_discuss_info", &[]).await {
        let ds = array(&v);
        assert_eq!(ds.len(), 1, "{v}");
        let d = &ds[0];
        assert_eq!(keys(d), ["did", "dname", "downer", "member"]);
        let did = assert_session_id(d, "did");
        assert_eq!(d["dname"], "测试");
        assert!(d["downer"].is_string(), "{d}");
        let members = array(&d["member"]);
        let nicks: BTreeMap<&str, &str> =
            members.iter().map(|m| (s(m, "qq"), s(m, "nick"))).collect();
        assert_eq!(
            nicks,
            BTreeMap::from([("1234567", "小灰"), ("456789", "哈哈"), ("78901", "嘿嘿")])
        );
        for m in members {
            assert_eq!(
                keys(m),
                [
                    "client_type",
                    "did",
                    "dname",
                    "downer",
                    "id",
                    "nick",
                    "qq",
                    "state"
                ]
            );
            assert_all_strings(m, &[]);
            assert_eq!(m["did"], json!(did));
            assert_eq!(m["dname"], "测试");
            assert_eq!(m["downer"], d["downer"]);
            assert_session_id(m, "id");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_recent_info_lists_private_partners() {
    let gw = gateway().await;
    for v in three_ways(&gw, "get_recent_info", &[]).await {
        assert_eq!(v, json!([]));
    }
    gw.receive(json!({"type": "message", "sender_qq": 123456, "content": "你好"}))
        .await;
    let recent = wait::poll("the friend in get_recent_info", WAIT, || async {
        let v = gw.get("/openqq/get_recent_info").await;
        (array(&v).len() == 1).then_some(v)
    })
    .await;
    let friends = gw.get("/openqq/get_friend_info").await;
    assert_eq!(
        recent[0],
        *by_field(array(&friends), "qq", "123456"),
        "a recent friend is a Friend object"
    );

    // A temp message through a group adds the member (a GroupMember object).
    gw.receive(
        json!({"type": "sess_message", "sender_qq": 888888, "gnumber": 552603, "content": "hi"}),
    )
    .await;
    let recent = wait::poll("the member in get_recent_info", WAIT, || async {
        let v = gw.get("/openqq/get_recent_info").await;
        (array(&v).len() == 2).then_some(v)
    })
    .await;
    let member = by_field(array(&recent), "qq", "888888");
    assert_eq!(member["role"], "member");
    assert_eq!(member["gnumber"], "552603");
    assert_eq!(member["nick"], "路人甲");
    by_field(array(&recent), "qq", "123456");
    for v in three_ways(&gw, "get_recent_info", &[]).await {
        assert_eq!(array(&v).len(), 2, "{v}");
    }
    // Group messages are not private: the list does not grow.
    gw.receive(
        json!({"type": "group_message", "sender_qq": 999999, "gnumber": 552603, "content": "x"}),
    )
    .await;
    gw.receive(json!({"type": "message", "sender_qq": 7891234, "content": "later"}))
        .await;
    let recent = wait::poll("the second friend", WAIT, || async {
        let v = gw.get("/openqq/get_recent_info").await;
        (array(&v).len() >= 3).then_some(v)
    })
    .await;
    let qqs: Vec<&str> = array(&recent).iter().map(|r| s(r, "qq")).collect();
    assert_eq!(qqs.len(), 3, "{qqs:?}");
    assert!(!qqs.contains(&"999999"), "{qqs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_friend_matches_every_given_attribute() {
    let gw = gateway().await;
    let friends = gw.get("/openqq/get_friend_info").await;
    let a = by_field(array(&friends), "qq", "123456").clone();
    let b = by_field(array(&friends), "qq", "7891234").clone();
    let id_a = s(&a, "id").to_string();
    let not_found = status(100, "object not found");

    for v in three_ways(&gw, "search_friend", &[("qq", "123456")]).await {
        assert_eq!(v, json!([a]));
    }
    for v in three_ways(&gw, "search_friend", &[("id", &id_a)]).await {
        assert_eq!(v, json!([a]));
    }
    // markname in Chinese, percent-encoded by hand.
    assert_eq!(
        gw.get("/openqq/search_friend?markname=%E5%93%88%E5%93%88")
            .await,
        json!([b])
    );
    assert_eq!(
        gw.post_form("/openqq/search_friend", "markname=%E5%93%88%E5%93%88")
            .await,
        json!([b])
    );
    for v in three_ways(&gw, "search_friend", &[("category", "我的家人")]).await {
        assert_eq!(v, json!([b]));
    }
    for v in three_ways(&gw, "search_friend", &[("nick", "测试帐号1")]).await {
        assert_eq!(v, json!([a]));
    }
    // Two attributes: AND.
    for v in three_ways(
        &gw,
        "search_friend",
        &[("qq", "123456"), ("nick", "测试帐号1")],
    )
    .await
    {
        assert_eq!(v, json!([a]));
    }
    for v in three_ways(
        &gw,
        "search_friend",
        &[("qq", "123456"), ("markname", "哈哈")],
    )
    .await
    {
        assert_eq!(v, not_found);
    }
    for v in three_ways(
        &gw,
        "search_friend",
        &[("markname", "哈哈"), ("category", "我的家人")],
    )
    .await
    {
        assert_eq!(v, json!([b]));
    }
    // Attributes every friend shares match both.
    for v in three_ways(&gw, "search_friend", &[("state", "offline")]).await {
        assert_eq!(array(&v).len(), 2, "{v}");
    }
    // Unknown attribute, alone or with a known one; no parameter; unknown value.
    for pairs in [
        &[("bogus", "1")][..],
        &[("qq", "123456"), ("bogus", "1")][..],
        &[][..],
        &[("qq", "42")][..],
        &[("qq", "")][..],
        &[("id", "not-an-id")][..],
    ] {
        for v in three_ways(&gw, "search_friend", pairs).await {
            assert_eq!(v, not_found, "{pairs:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_group_matches_every_given_attribute() {
    let gw = gateway().await;
    let groups = gw.get("/openqq/get_group_info").await;
    let perl = by_field(array(&groups), "gnumber", "552603").clone();
    let melon = by_field(array(&groups), "gnumber", "661234").clone();
    let not_found = status(100, "object not found");

    for v in three_ways(&gw, "search_group", &[("gnumber", "552603")]).await {
        assert_eq!(v, json!([perl]), "with members");
    }
    for v in three_ways(&gw, "search_group", &[("gid", s(&melon, "gid"))]).await {
        assert_eq!(v, json!([melon]));
    }
    assert_eq!(
        gw.get("/openqq/search_group?gname=%E5%90%83%E7%93%9C%E7%BE%A4")
            .await,
        json!([melon])
    );
    for v in three_ways(&gw, "search_group", &[("gtype", "attend")]).await {
        assert_eq!(v, json!([melon]));
    }
    for v in three_ways(&gw, "search_group", &[("gowner", s(&melon, "gowner"))]).await {
        assert_eq!(v, json!([melon]), "gowner is searched as shown");
    }
    for v in three_ways(
        &gw,
        "search_group",
        &[("gnumber", "552603"), ("gname", "PERL学习交流")],
    )
    .await
    {
        assert_eq!(v, json!([perl]));
    }
    for pairs in [
        &[("gnumber", "552603"), ("gname", "吃瓜群")][..],
        &[("bogus", "1")][..],
        &[][..],
        &[("gnumber", "42")][..],
        &[("gid", "")][..],
    ] {
        for v in three_ways(&gw, "search_group", pairs).await {
            assert_eq!(v, not_found, "{pairs:?}");
        }
    }
}

// ---------------------------------------------------------------- sends

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_message_by_qq_and_by_id_keeps_content_bytes() {
    let gw = gateway().await;
    let id_a = friend_id(&gw, "123456").await;
    let id_b = friend_id(&gw, "7891234").await;
    let seq = gw.last_seq().await;

    // Chinese, percent-encoded, with a trailing %0a kept.
    let v = gw
        .get("/openqq/send_message?qq=123456&content=%E4%BD%A0%E5%A5%BD%0a")
        .await;
    let m1 = sent_ok(&v);
    // By id, POST form, `+` is a space, trailing newlines and spaces kept.
    let v = gw
        .post_form(
            "/openqq/send_message",
            &format!("id={id_b}&content=hello+world%0a%0a++"),
        )
        .await;
    let m2 = sent_ok(&v);
    // POST JSON by qq.
    let v = gw
        .post_json(
            "/openqq/send_message",
            &json!({"qq": "123456", "content": "json \n"}),
        )
        .await;
    let m3 = sent_ok(&v);
    // A JSON number for qq works too.
    let v = gw
        .post_json(
            "/openqq/send_message",
            &json!({"qq": 7891234, "content": "数字"}),
        )
        .await;
    let m4 = sent_ok(&v);
    // GET by id, a literal `+` sent as %2B.
    let v = gw
        .get(&format!("/openqq/send_message?id={id_a}&content=1%2B1%3D2"))
        .await;
    let m5 = sent_ok(&v);
    assert_eq!(
        [m2, m3, m4, m5],
        [m1 + 1, m1 + 2, m1 + 3, m1 + 4],
        "successive msg_ids"
    );

    let r = records(&gw, seq, 5).await;
    let expect = |r: &Value, id: &str, qq: &str, content: &str, msg_id: u64| {
        assert_eq!(r["action"], "send_message", "{r}");
        assert_eq!(r["id"], json!(id), "{r}");
        assert_eq!(r["qq"], json!(qq), "{r}");
        assert_eq!(r["content"], json!(content), "{r}");
        assert_eq!(r["msg_id"], json!(msg_id), "{r}");
    };
    expect(&r[0], &id_a, "123456", "你好\n", m1);
    expect(&r[1], &id_b, "7891234", "hello world\n\n  ", m2);
    expect(&r[2], &id_a, "123456", "json \n", m3);
    expect(&r[3], &id_b, "7891234", "数字", m4);
    expect(&r[4], &id_a, "123456", "1+1=2", m5);

    // id and qq together must both match.
    let v = gw
        .get(&format!(
            "/openqq/send_message?id={id_a}&qq=123456&content=both"
        ))
        .await;
    sent_ok(&v);
    let v = gw
        .get(&format!(
            "/openqq/send_message?id={id_a}&qq=7891234&content=mismatch"
        ))
        .await;
    assert_eq!(v, send_err(100, "friend not found"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_group_discuss_and_sess_messages() {
    let gw = gateway().await;
    let gid = gid(&gw, "552603").await;
    let did = did(&gw).await;
    let m888 = member_id(&gw, "552603", "888888").await;
    let d = gw.get("/openqq/get_discuss_info").await;
    let d456 = s(
        by_field(array(&array(&d)[0]["member"]), "qq", "456789"),
        "id",
    )
    .to_string();
    let seq = gw.last_seq().await;

    let first = sent_ok(
        &gw.get("/openqq/send_group_message?gnumber=552603&content=%E5%A4%A7%E5%AE%B6%E5%A5%BD%0a")
            .await,
    );
    let mut ids = vec![first];
    ids.push(sent_ok(
        &gw.post_form(
            "/openqq/send_group_message",
            &format!("gid={gid}&content=by+gid"),
        )
        .await,
    ));
    ids.push(sent_ok(
        &gw.post_json(
            "/openqq/send_group_message",
            &json!({"gnumber": "661234", "content": "吃瓜"}),
        )
        .await,
    ));
    ids.push(sent_ok(
        &gw.get(&format!(
            "/openqq/send_discuss_message?did={did}&content=%E8%AE%A8%E8%AE%BA"
        ))
        .await,
    ));
    ids.push(sent_ok(
        &gw.post_form(
            "/openqq/send_sess_message",
            "gnumber=552603&qq=888888&content=psst",
        )
        .await,
    ));
    ids.push(sent_ok(
        &gw.get(&format!(
            "/openqq/send_sess_message?gid={gid}&id={m888}&content=by+ids"
        ))
        .await,
    ));
    ids.push(sent_ok(
        &gw.post_json(
            "/openqq/send_sess_message",
            &json!({"did": did, "qq": "456789", "content": "d"}),
        )
        .await,
    ));
    ids.push(sent_ok(
        &gw.get(&format!(
            "/openqq/send_sess_message?did={did}&id={d456}&content=d2"
        ))
        .await,
    ));
    // Group wins when both a group and a discussion are given.
    ids.push(sent_ok(
        &gw.get(&format!(
            "/openqq/send_sess_message?did={did}&gnumber=552603&qq=888888&content=g"
        ))
        .await,
    ));
    let expected: Vec<u64> = (0..ids.len() as u64).map(|i| first + i).collect();
    assert_eq!(ids, expected, "successive msg_ids");

    let r = records(&gw, seq, 9).await;
    let gid_melon = self::gid(&gw, "661234").await;
    let want = [
        json!({"action": "send_group_message", "gid": gid, "gnumber": "552603", "content": "大家好\n"}),
        json!({"action": "send_group_message", "gid": gid, "gnumber": "552603", "content": "by gid"}),
        json!({"action": "send_group_message", "gid": gid_melon, "gnumber": "661234", "content": "吃瓜"}),
        json!({"action": "send_discuss_message", "did": did, "content": "讨论"}),
        json!({"action": "send_sess_message", "gid": gid, "gnumber": "552603", "id": m888, "qq": "888888", "content": "psst"}),
        json!({"action": "send_sess_message", "gid": gid, "gnumber": "552603", "id": m888, "qq": "888888", "content": "by ids"}),
        json!({"action": "send_sess_message", "did": did, "id": d456, "qq": "456789", "content": "d"}),
        json!({"action": "send_sess_message", "did": did, "id": d456, "qq": "456789", "content": "d2"}),
        json!({"action": "send_sess_message", "gid": gid, "gnumber": "552603", "id": m888, "qq": "888888", "content": "g"}),
    ];
    for ((rec, w), msg_id) in r.iter().zip(&want).zip(&ids) {
        for (k, v) in w.as_object().expect("object") {
            assert_eq!(rec[k], *v, "{k} of {rec}");
        }
        assert_eq!(rec["msg_id"], json!(msg_id), "{rec}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_answer_every_not_found_code() {
    let gw = gateway().await;
    let did = did(&gw).await;
    let gid = gid(&gw, "552603").await;
    let seq = gw.last_seq().await;
    let cases: Vec<Case> = vec![
        (
            "send_message",
            vec![("qq", "42")],
            send_err(100, "friend not found"),
        ),
        (
            "send_message",
            vec![("id", "42")],
            send_err(100, "friend not found"),
        ),
        ("send_message", vec![], send_err(100, "friend not found")),
        (
            "send_message",
            vec![("qq", "888888")],
            send_err(100, "friend not found"),
        ),
        (
            "send_group_message",
            vec![("gnumber", "42")],
            send_err(101, "group not found"),
        ),
        (
            "send_group_message",
            vec![("gid", "42")],
            send_err(101, "group not found"),
        ),
        (
            "send_group_message",
            vec![],
            send_err(101, "group not found"),
        ),
        (
            "send_group_message",
            vec![("gid", &gid), ("gnumber", "661234")],
            send_err(101, "group not found"),
        ),
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
            vec![("gnumber", "552603"), ("qq", "42")],
            send_err(103, "group member not found"),
        ),
        (
            "send_sess_message",
            vec![("gid", &gid), ("qq", "777777")],
            send_err(103, "group member not found"),
        ),
        // The group is missing: still 103.
        (
            "send_sess_message",
            vec![("gnumber", "42"), ("qq", "888888")],
            send_err(103, "group member not found"),
        ),
        (
            "send_sess_message",
            vec![("gnumber", "552603")],
            send_err(103, "group member not found"),
        ),
        // Group wins over the discussion, even when the member is only in the discussion.
        (
            "send_sess_message",
            vec![("gnumber", "552603"), ("did", &did), ("qq", "456789")],
            send_err(103, "group member not found"),
        ),
        (
            "send_sess_message",
            vec![("did", &did), ("qq", "42")],
            send_err(104, "discuss member not found"),
        ),
        (
            "send_sess_message",
            vec![("did", &did), ("qq", "888888")],
            send_err(104, "discuss member not found"),
        ),
        // Assumed: a missing discussion is 104, as a missing group is 103.
        (
            "send_sess_message",
            vec![("did", "42"), ("qq", "456789")],
            send_err(104, "discuss member not found"),
        ),
        (
            "send_sess_message",
            vec![("qq", "888888")],
            send_err(105, "discuss member or group member  not found"),
        ),
        (
            "send_sess_message",
            vec![],
            send_err(105, "discuss member or group member  not found"),
        ),
    ];
    for (route, mut pairs, want) in cases {
        pairs.push(("content", "hello"));
        for v in three_ways(&gw, route, &pairs).await {
            assert_eq!(v, want, "{route} {pairs:?}");
        }
    }
    nothing_recorded(&gw, seq).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_bad_content_is_refused_and_never_sent() {
    let gw = gateway().await;
    let did = did(&gw).await;
    let seq = gw.last_seq().await;
    let missing = send_err(400, "content missing");
    let not_utf8 = send_err(400, "content not utf-8");
    let targets = [
        ("send_message", "qq=123456".to_string()),
        ("send_friend_message", "qq=123456".to_string()),
        ("send_group_message", "gnumber=552603".to_string()),
        ("send_discuss_message", format!("did={did}")),
        ("send_sess_message", "gnumber=552603&qq=888888".to_string()),
        ("send_sess_message", format!("did={did}&qq=456789")),
    ];
    for (route, target) in &targets {
        let path = format!("/openqq/{route}");
        for q in [
            target.clone(),
            format!("{target}&content="),
            format!("content=&{target}"),
        ] {
            assert_eq!(
                gw.get(&format!("{path}?{q}")).await,
                missing,
                "GET {route}?{q}"
            );
            assert_eq!(gw.post_form(&path, &q).await, missing, "POST {route} {q}");
        }
        let mut body = Map::new();
        for pair in target.split('&') {
            let (k, v) = pair.split_once('=').expect("k=v");
            body.insert(k.into(), json!(v));
        }
        assert_eq!(
            gw.post_json(&path, &Value::Object(body.clone())).await,
            missing,
            "JSON {route}"
        );
        body.insert("content".into(), json!(""));
        assert_eq!(
            gw.post_json(&path, &Value::Object(body)).await,
            missing,
            "JSON {route}"
        );
        for bad in ["%FF%FE", "%E4%BD", "ok%FF", "%C0%80"] {
            let q = format!("{target}&content={bad}");
            assert_eq!(
                gw.get(&format!("{path}?{q}")).await,
                not_utf8,
                "GET {route}?{q}"
            );
            assert_eq!(gw.post_form(&path, &q).await, not_utf8, "POST {route} {q}");
        }
    }
    nothing_recorded(&gw, seq).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_failures_answer_negative_codes() {
    let gw = gateway().await;
    let seq = gw.last_seq().await;
    let ok = sent_ok(
        &gw.get("/openqq/send_message?qq=123456&content=before")
            .await,
    );

    // QQ refuses: -3, not retried.
    assert_eq!(
        gw.post_json("/sim/fail", &json!({"count": 1, "kind": "refuse"}))
            .await,
        json!({"code": 0})
    );
    let v = gw
        .get("/openqq/send_message?qq=123456&content=refused")
        .await;
    assert_eq!(v["code"], json!(-3), "{v}");
    assert_eq!(v["status"], json!("发送失败"), "{v}");
    assert_eq!(
        v["msg_id"],
        json!(ok + 1),
        "the failed send has its own msg_id: {v}"
    );
    assert!(
        v["info"].as_str().is_some_and(|i| !i.is_empty()),
        "info present: {v}"
    );
    assert_eq!(keys(&v), ["code", "info", "msg_id", "status"]);
    // The refusal was used up: the next send goes through.
    assert_eq!(
        sent_ok(&gw.get("/openqq/send_message?qq=123456&content=after").await),
        ok + 2
    );

    // The link is down longer than the outbox retries (twice): -5.
    assert_eq!(
        gw.post_json("/sim/fail", &json!({"count": 10, "kind": "down"}))
            .await,
        json!({"code": 0})
    );
    let v = gw
        .post_form("/openqq/send_group_message", "gnumber=552603&content=down")
        .await;
    assert_eq!(v["code"], json!(-5), "{v}");
    assert_eq!(v["status"], json!("发送失败"), "{v}");
    assert_eq!(v["msg_id"], json!(ok + 3), "{v}");
    assert!(
        v["info"].as_str().is_some_and(|i| !i.is_empty()),
        "info present: {v}"
    );
    assert_eq!(
        gw.post_json("/sim/fail", &json!({"count": 0, "kind": "down"}))
            .await,
        json!({"code": 0})
    );
    assert_eq!(
        sent_ok(
            &gw.get("/openqq/send_group_message?gnumber=552603&content=up")
                .await
        ),
        ok + 4
    );

    // Two transient failures are absorbed by the two retries.
    assert_eq!(
        gw.post_json("/sim/fail", &json!({"count": 2, "kind": "down"}))
            .await,
        json!({"code": 0})
    );
    assert_eq!(
        sent_ok(
            &gw.get("/openqq/send_message?qq=7891234&content=retried")
                .await
        ),
        ok + 5
    );

    let r = records(&gw, seq, 4).await;
    let contents: Vec<&str> = r.iter().map(|r| s(r, "content")).collect();
    assert_eq!(contents, ["before", "after", "up", "retried"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relogin_changes_ids_but_not_numbers() {
    let gw = gateway().await;
    let old_friends = gw.get("/openqq/get_friend_info").await;
    let old_id = friend_id(&gw, "123456").await;
    let old_gid = gid(&gw, "552603").await;
    let old_did = did(&gw).await;
    let old_member = member_id(&gw, "552603", "888888").await;

    assert_eq!(
        gw.post_json("/sim/relogin", &json!({})).await,
        json!({"code": 0})
    );

    let new_friends = gw.get("/openqq/get_friend_info").await;
    let qqs = |v: &Value| {
        array(v)
            .iter()
            .map(|f| s(f, "qq").to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        qqs(&old_friends),
        qqs(&new_friends),
        "same friends, same numbers"
    );
    for (o, n) in array(&old_friends).iter().zip(array(&new_friends)) {
        assert_eq!(o["qq"], n["qq"]);
        assert_ne!(o["id"], n["id"], "a new session id");
        assert_session_id(n, "id");
    }
    let new_id = friend_id(&gw, "123456").await;
    let new_gid = gid(&gw, "552603").await;
    assert_ne!(old_gid, new_gid);
    assert_ne!(old_did, did(&gw).await);

    let seq = gw.last_seq().await;
    let v = gw
        .get(&format!("/openqq/send_message?id={old_id}&content=x"))
        .await;
    assert_eq!(v, send_err(100, "friend not found"));
    sent_ok(&gw.get("/openqq/send_message?qq=123456&content=by+qq").await);
    let v = gw
        .get(&format!(
            "/openqq/send_group_message?gid={old_gid}&content=x"
        ))
        .await;
    assert_eq!(v, send_err(101, "group not found"));
    sent_ok(
        &gw.get("/openqq/send_group_message?gnumber=552603&content=by+gnumber")
            .await,
    );
    let v = gw
        .get(&format!(
            "/openqq/send_discuss_message?did={old_did}&content=x"
        ))
        .await;
    assert_eq!(v, send_err(102, "discuss not found"));
    let v = gw.get(&format!("/openqq/search_friend?id={old_id}")).await;
    assert_eq!(v, status(100, "object not found"));
    let v = gw
        .get(&format!(
            "/openqq/shutup_group_member?gid={old_gid}&member_qq=888888&time=60"
        ))
        .await;
    assert_eq!(v, status(100, "object not found"));
    let v = gw
        .get(&format!(
            "/openqq/shutup_group_member?gnumber=552603&member_id={old_member}&time=60"
        ))
        .await;
    assert_eq!(v, status(100, &format!("member {old_member} not found")));

    let r = records(&gw, seq, 2).await;
    assert_eq!(r[0]["id"], json!(new_id), "sent under the new id");
    assert_eq!(r[0]["qq"], "123456");
    assert_eq!(r[1]["gid"], json!(new_gid));
    assert_eq!(r[1]["gnumber"], "552603");
}

// ---------------------------------------------------------------- moderation

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutup_group_member_follows_the_rules() {
    let gw = gateway().await;
    let gid = gid(&gw, "552603").await;
    let m999 = member_id(&gw, "552603", "999999").await;
    let m888 = member_id(&gw, "552603", "888888").await;
    let success = status(0, "success");
    let failure = status(201, "failure");
    let seq = gw.last_seq().await;

    // Success, through both names and every way of sending parameters.
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
    let r = records(&gw, seq, 6).await;
    for rec in &r {
        assert_eq!(
            *rec,
            json!({"action": "shutup", "gid": gid, "gnumber": "552603", "id": m888, "qq": "888888",
                   "time": 60, "seq": rec["seq"]})
        );
    }
    let seq = gw.last_seq().await;

    // Not found / bad input, nothing done.
    let mut cases: Vec<(Vec<(&str, &str)>, Value)> = vec![
        // The group is checked before `time`.
        (
            vec![("gnumber", "42"), ("member_qq", "888888")],
            status(100, "object not found"),
        ),
        (
            vec![("gnumber", "42"), ("member_qq", "888888"), ("time", "abc")],
            status(100, "object not found"),
        ),
        (
            vec![("gid", "42"), ("member_qq", "888888"), ("time", "60")],
            status(100, "object not found"),
        ),
        (
            vec![("member_qq", "888888"), ("time", "60")],
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
            vec![("gnumber", "552603"), ("member_qq", "888888"), ("time", "")],
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
            vec![
                ("gnumber", "552603"),
                ("member_qq", "888888"),
                ("time", "6.5"),
            ],
            status(400, "shutup time missing or error"),
        ),
        (
            vec![("gnumber", "552603"), ("member_qq", "42"), ("time", "60")],
            status(100, "member 42 not found"),
        ),
        // Every member is checked before anyone is muted.
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
            vec![("gnumber", "552603"), ("time", "60")],
            status(200, "member id empty"),
        ),
        // member_id wins over member_qq, even when it names nobody.
        (
            vec![
                ("gnumber", "552603"),
                ("member_id", "42"),
                ("member_qq", "888888"),
                ("time", "60"),
            ],
            status(100, "member 42 not found"),
        ),
        (
            vec![
                ("gnumber", "552603"),
                ("member_qq", "888888"),
                ("time", "0"),
            ],
            failure.clone(),
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
        for route in ["shutup_group_member", "shuthup_group_member"] {
            for v in three_ways(&gw, route, pairs).await {
                assert_eq!(v, *want, "{route} {pairs:?}");
            }
        }
    }
    nothing_recorded(&gw, seq).await;

    // member_id wins: 999999 is muted, 888888 is not.
    let v = gw
        .get(&format!(
            "/openqq/shutup_group_member?gnumber=552603&member_qq=888888&member_id={m999}&time=120"
        ))
        .await;
    assert_eq!(v, success);
    let r = records(&gw, seq, 1).await;
    assert_eq!(r[0]["qq"], "999999");
    assert_eq!(r[0]["id"], json!(m999));
    assert_eq!(r[0]["time"], json!(120));
    let seq = gw.last_seq().await;

    // Comma lists mute several: by qq, by id (with gid), and a JSON array.
    assert_eq!(
        gw.get("/openqq/shutup_group_member?gnumber=552603&member_qq=888888%2C999999&time=61")
            .await,
        success
    );
    assert_eq!(
        gw.post_form(
            "/openqq/shuthup_group_member",
            &format!("gid={gid}&member_id={m888},{m999}&time=62")
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
    let r = records(&gw, seq, 6).await;
    let got: Vec<(String, u64)> = r
        .iter()
        .map(|r| (s(r, "qq").to_string(), r["time"].as_u64().expect("time")))
        .collect();
    let want: Vec<(String, u64)> = [
        ("888888", 61),
        ("999999", 61),
        ("888888", 62),
        ("999999", 62),
        ("888888", 63),
        ("999999", 63),
    ]
    .iter()
    .map(|(q, t)| ((*q).to_string(), *t))
    .collect();
    assert_eq!(got, want);
    assert!(
        r.iter()
            .all(|r| r["action"] == "shutup" && r["gnumber"] == "552603"),
        "{r:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kick_group_member_removes_the_member() {
    let gw = gateway().await;
    let gid = gid(&gw, "552603").await;
    let m888 = member_id(&gw, "552603", "888888").await;
    let m999 = member_id(&gw, "552603", "999999").await;
    let success = status(0, "success");
    let failure = status(201, "failure");
    let seq = gw.last_seq().await;

    let cases: Vec<(Vec<(&str, &str)>, Value)> = vec![
        (
            vec![("gnumber", "42"), ("member_qq", "999999")],
            status(100, "object not found"),
        ),
        (
            vec![("member_qq", "999999")],
            status(100, "object not found"),
        ),
        (
            vec![("gnumber", "552603"), ("member_qq", "42")],
            status(100, "member 42 not found"),
        ),
        (
            vec![("gnumber", "552603"), ("member_qq", "")],
            status(200, "member id empty"),
        ),
        (vec![("gnumber", "552603")], status(200, "member id empty")),
        (
            vec![
                ("gnumber", "552603"),
                ("member_id", "42"),
                ("member_qq", "999999"),
            ],
            status(100, "member 42 not found"),
        ),
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
        (
            vec![("gnumber", "661234"), ("member_qq", "777777")],
            failure.clone(),
        ),
    ];
    for (pairs, want) in &cases {
        for v in three_ways(&gw, "kick_group_member", pairs).await {
            assert_eq!(v, *want, "{pairs:?}");
        }
    }
    nothing_recorded(&gw, seq).await;

    // Kick 999999 by number: recorded, and gone from the group.
    assert_eq!(
        gw.get("/openqq/kick_group_member?gnumber=552603&member_qq=999999")
            .await,
        success
    );
    let r = records(&gw, seq, 1).await;
    assert_eq!(
        r[0],
        json!({"action": "kick", "gid": gid, "gnumber": "552603", "id": m999, "qq": "999999", "seq": r[0]["seq"]})
    );
    let qqs = member_qqs(&gw, "552603").await;
    assert!(!qqs.contains(&"999999".to_string()), "{qqs:?}");
    assert_eq!(qqs.len(), 5, "{qqs:?}");
    let v = gw
        .post_form(
            "/openqq/kick_group_member",
            "gnumber=552603&member_qq=999999",
        )
        .await;
    assert_eq!(v, status(100, "member 999999 not found"));
    let v = gw
        .get(&format!(
            "/openqq/kick_group_member?gid={gid}&member_id={m999}"
        ))
        .await;
    assert_eq!(v, status(100, &format!("member {m999} not found")));
    let v = gw
        .get("/openqq/send_sess_message?gnumber=552603&qq=999999&content=gone")
        .await;
    assert_eq!(v, send_err(103, "group member not found"));
    // The other group is untouched.
    let melon = member_qqs(&gw, "661234").await;
    assert_eq!(melon.len(), 3, "{melon:?}");

    // Kick by gid + member_id, POST JSON.
    let v = gw
        .post_json(
            "/openqq/kick_group_member",
            &json!({"gid": gid, "member_id": m888}),
        )
        .await;
    assert_eq!(v, success);
    let r = records(&gw, seq, 2).await;
    assert_eq!(r[1]["action"], "kick");
    assert_eq!(r[1]["qq"], "888888");
    let qqs = member_qqs(&gw, "552603").await;
    assert!(!qqs.contains(&"888888".to_string()), "{qqs:?}");
    // 888888 is still in 661234.
    assert!(
        member_qqs(&gw, "661234")
            .await
            .contains(&"888888".to_string())
    );
}

// ---------------------------------------------------------------- transport

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_and_methods_are_request_errors() {
    let gw = gateway().await;
    let http = client(ROUTE_TIMEOUT);
    for path in [
        "/openqq/nope",
        // `/` is the console (tests/console.rs); other methods are unknown.
        "/openqq",
        "/openqq/",
        "/openqq/get_user_info/",
        "/OPENQQ/get_user_info",
    ] {
        for method in [reqwest::Method::GET, reqwest::Method::POST] {
            let res = http
                .request(method.clone(), gw.url(path))
                .send()
                .await
                .expect("request");
            assert_eq!(res.status(), 403, "{method} {path}");
            assert_eq!(
                res.headers()
                    .get("access-control-allow-origin")
                    .map(|v| v.as_bytes()),
                Some(&b"*"[..]),
                "{method} {path}: CORS open on the 403 too"
            );
            assert_eq!(
                res.text().await.expect("body"),
                "request error",
                "{method} {path}"
            );
        }
    }
    for method in [
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
        reqwest::Method::PATCH,
    ] {
        for route in ["get_user_info", "send_message", "shutup_group_member"] {
            let res = http
                .request(
                    method.clone(),
                    gw.url(&format!("/openqq/{route}?qq=123456&content=x")),
                )
                .send()
                .await
                .expect("request");
            assert_eq!(res.status(), 403, "{method} {route}");
            assert_eq!(res.text().await.expect("body"), "request error");
        }
    }
    // Nothing was sent by the refused methods.
    nothing_recorded(&gw, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_cors_and_content_type() {
    // A page on another origin (`Origin: http://example.com`) reads and
    // sends here: open CORS as the original had it, which the cross-site
    // guard allows only when the operator lists `"*"` (tests/cross_site.rs
    // has the default, which refuses it).
    let mut config = support::test_config();
    config.http.allowed_origins = vec!["*".into()];
    let mut gw = TestGateway::with_config(config).await;
    gw.http = client(ROUTE_TIMEOUT);
    let http = client(ROUTE_TIMEOUT);

    let res = http
        .head(gw.url("/openqq/get_user_info"))
        .send()
        .await
        .expect("HEAD");
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "application/json;charset=UTF-8"
    );
    assert!(
        res.bytes().await.expect("body").is_empty(),
        "HEAD has no body"
    );

    // Preflight.
    let res = http
        .request(reqwest::Method::OPTIONS, gw.url("/openqq/send_message"))
        .header("Origin", "http://example.com")
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "content-type")
        .send()
        .await
        .expect("OPTIONS");
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    let methods = res.headers()["access-control-allow-methods"]
        .to_str()
        .expect("ascii")
        .to_ascii_uppercase();
    assert!(
        methods.contains("POST") && methods.contains("GET"),
        "{methods}"
    );
    let allowed = res.headers()["access-control-allow-headers"]
        .to_str()
        .expect("ascii")
        .to_ascii_lowercase();
    assert!(allowed.contains("content-type"), "{allowed}");

    // Every kind of answer: JSON content type, CORS, raw UTF-8.
    let paths = [
        "/openqq/get_user_info",
        "/openqq/get_friend_info",
        "/openqq/get_group_info",
        "/openqq/get_discuss_info",
        "/openqq/search_friend?qq=123456",
        "/openqq/search_friend?qq=42",
        "/openqq/send_message?qq=123456&content=%E4%BD%A0%E5%A5%BD",
        "/openqq/send_message?qq=42&content=x",
        "/openqq/send_message?qq=123456",
        "/openqq/shutup_group_member?gnumber=552603&member_qq=888888",
    ];
    for path in paths {
        for post in [false, true] {
            let req = if post {
                let (p, q) = path.split_once('?').unwrap_or((path, ""));
                http.post(gw.url(p))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(q.to_string())
            } else {
                http.get(gw.url(path))
            };
            let res = req
                .header("Origin", "http://example.com")
                .send()
                .await
                .expect("request");
            assert_eq!(res.status(), 200, "{path}");
            assert_eq!(
                res.headers()["content-type"],
                "application/json;charset=UTF-8",
                "{path}"
            );
            assert_eq!(res.headers()["access-control-allow-origin"], "*", "{path}");
            let body = res.bytes().await.expect("body");
            assert!(
                !body.windows(2).any(|w| w == b"\\u"),
                "no \\u escapes in {path}: {}",
                String::from_utf8_lossy(&body)
            );
            let v: Value = serde_json::from_slice(&body).expect("JSON");
            assert!(v.is_object() || v.is_array(), "{path}: {v}");
        }
    }
    let body = http
        .get(gw.url("/openqq/get_user_info"))
        .send()
        .await
        .expect("GET")
        .bytes()
        .await
        .expect("body");
    let text = std::str::from_utf8(&body).expect("UTF-8");
    assert!(text.contains("\"nick\":\"小灰\""), "{text}");
    let body = http
        .get(gw.url("/openqq/send_message?qq=123456&content=x"))
        .send()
        .await
        .expect("GET");
    let text = body.text().await.expect("body");
    assert!(text.contains("发送成功"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_and_body_mix_and_the_body_wins() {
    let gw = gateway().await;
    let seq = gw.last_seq().await;
    // Target from the body, content from the query.
    let v = gw
        .post_form(
            "/openqq/send_message?qq=7891234&content=from+query",
            "qq=123456",
        )
        .await;
    sent_ok(&v);
    // Both give content: the body's.
    let v = gw
        .post_form(
            "/openqq/send_message?qq=123456&content=query",
            "content=body",
        )
        .await;
    sent_ok(&v);
    // A JSON body wins too.
    let v = gw
        .post_json(
            "/openqq/send_group_message?gnumber=42&content=query",
            &json!({"gnumber": 552603}),
        )
        .await;
    sent_ok(&v);
    let v = gw
        .post_json(
            "/openqq/send_message?qq=123456&content=query",
            &json!({"content": "json body"}),
        )
        .await;
    sent_ok(&v);
    // The body can make a good query fail.
    let v = gw
        .post_form("/openqq/send_message?qq=123456&content=x", "qq=42")
        .await;
    assert_eq!(v, send_err(100, "friend not found"));
    let v = gw
        .post_form("/openqq/send_message?qq=123456&content=x", "content=")
        .await;
    assert_eq!(v, send_err(400, "content missing"));
    // Lookups mix too.
    let v = gw
        .post_form(
            "/openqq/search_friend?qq=123456",
            "nick=%E6%B5%8B%E8%AF%95%E5%B8%90%E5%8F%B72",
        )
        .await;
    assert_eq!(v, status(100, "object not found"));
    let v = gw
        .post_form(
            "/openqq/shutup_group_member?gnumber=552603&time=5",
            "member_qq=888888&time=60",
        )
        .await;
    assert_eq!(v, status(0, "success"));

    let r = records(&gw, seq, 5).await;
    assert_eq!(
        (s(&r[0], "qq"), s(&r[0], "content")),
        ("123456", "from query")
    );
    assert_eq!((s(&r[1], "qq"), s(&r[1], "content")), ("123456", "body"));
    assert_eq!(
        (s(&r[2], "gnumber"), s(&r[2], "content")),
        ("552603", "query")
    );
    assert_eq!(
        (s(&r[3], "qq"), s(&r[3], "content")),
        ("123456", "json body")
    );
    assert_eq!(
        (s(&r[4], "action"), r[4]["time"].as_u64()),
        ("shutup", Some(60))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_aliases_are_accepted() {
    let gw = gateway().await;
    let gid = gid(&gw, "552603").await;
    let did = did(&gw).await;
    let friends = gw.get("/openqq/get_friend_info").await;
    let a = by_field(array(&friends), "qq", "123456").clone();
    let b = by_field(array(&friends), "qq", "7891234").clone();
    let groups = gw.get("/openqq/get_group_info").await;
    let melon = by_field(array(&groups), "gnumber", "661234").clone();
    let perl = by_field(array(&groups), "gnumber", "552603").clone();
    let seq = gw.last_seq().await;

    let mut n = 0;
    let sends: Vec<Case> = vec![
        (
            "send_friend_message",
            vec![("qq", "123456")],
            json!({"action": "send_message", "qq": "123456"}),
        ),
        (
            "send_friend_message",
            vec![("uid", "7891234")],
            json!({"action": "send_message", "qq": "7891234"}),
        ),
        (
            "send_message",
            vec![("uid", "123456")],
            json!({"action": "send_message", "qq": "123456"}),
        ),
        (
            "send_message",
            vec![("name", "测试帐号2")],
            json!({"action": "send_message", "qq": "7891234"}),
        ),
        // displayname = markname when set.
        (
            "send_message",
            vec![("displayname", "哈哈")],
            json!({"action": "send_message", "qq": "7891234"}),
        ),
        (
            "send_group_message",
            vec![("group_uid", "552603")],
            json!({"action": "send_group_message", "gnumber": "552603"}),
        ),
        (
            "send_group_message",
            vec![("group_id", &gid)],
            json!({"action": "send_group_message", "gnumber": "552603"}),
        ),
        (
            "send_group_message",
            vec![("uid", "661234")],
            json!({"action": "send_group_message", "gnumber": "661234"}),
        ),
        (
            "send_group_message",
            vec![("name", "吃瓜群")],
            json!({"action": "send_group_message", "gnumber": "661234"}),
        ),
        (
            "send_discuss_message",
            vec![("discuss_id", &did)],
            json!({"action": "send_discuss_message", "did": did}),
        ),
        (
            "send_discuss_message",
            vec![("name", "测试")],
            json!({"action": "send_discuss_message", "did": did}),
        ),
        (
            "send_sess_message",
            vec![("group_uid", "552603"), ("uid", "888888")],
            json!({"action": "send_sess_message", "gnumber": "552603", "qq": "888888"}),
        ),
        (
            "send_sess_message",
            vec![("group_id", &gid), ("qq", "999999")],
            json!({"action": "send_sess_message", "gnumber": "552603", "qq": "999999"}),
        ),
        (
            "send_sess_message",
            vec![("discuss_id", &did), ("uid", "78901")],
            json!({"action": "send_sess_message", "did": did, "qq": "78901"}),
        ),
    ];
    for (route, mut pairs, want) in sends {
        pairs.push(("content", "v2"));
        for v in three_ways(&gw, route, &pairs).await {
            sent_ok(&v);
        }
        let r = records(&gw, seq + n, 3).await;
        for rec in &r {
            for (k, v) in want.as_object().expect("object") {
                assert_eq!(rec[k], *v, "{route} {pairs:?}: {rec}");
            }
        }
        n += 3;
    }
    // Not found through aliases keeps the v1 codes.
    for v in three_ways(
        &gw,
        "send_friend_message",
        &[("uid", "42"), ("content", "x")],
    )
    .await
    {
        assert_eq!(v, send_err(100, "friend not found"));
    }
    for v in three_ways(
        &gw,
        "send_message",
        &[("displayname", "测试帐号2"), ("content", "x")],
    )
    .await
    {
        assert_eq!(
            v,
            send_err(100, "friend not found"),
            "the display name is the markname"
        );
    }
    for v in three_ways(
        &gw,
        "send_group_message",
        &[("group_uid", "42"), ("content", "x")],
    )
    .await
    {
        assert_eq!(v, send_err(101, "group not found"));
    }
    for v in three_ways(
        &gw,
        "send_discuss_message",
        &[("discuss_id", "42"), ("content", "x")],
    )
    .await
    {
        assert_eq!(v, send_err(102, "discuss not found"));
    }

    // Searches.
    for v in three_ways(&gw, "search_friend", &[("uid", "123456")]).await {
        assert_eq!(v, json!([a]));
    }
    for v in three_ways(&gw, "search_friend", &[("name", "测试帐号2")]).await {
        assert_eq!(v, json!([b]));
    }
    for v in three_ways(&gw, "search_friend", &[("displayname", "xxx")]).await {
        assert_eq!(v, json!([a]));
    }
    for v in three_ways(&gw, "search_group", &[("group_uid", "661234")]).await {
        assert_eq!(v, json!([melon]));
    }
    for v in three_ways(&gw, "search_group", &[("group_id", &gid)]).await {
        assert_eq!(v, json!([perl]));
    }
    for v in three_ways(&gw, "search_group", &[("name", "吃瓜群")]).await {
        assert_eq!(v, json!([melon]));
    }
    for v in three_ways(&gw, "search_group", &[("uid", "552603")]).await {
        assert_eq!(v, json!([perl]));
    }
    // Moderation with v2 group parameters.
    let seq = gw.last_seq().await;
    let v = gw
        .get("/openqq/shutup_group_member?group_uid=552603&member_qq=888888&time=60")
        .await;
    assert_eq!(v, status(0, "success"));
    let v = gw
        .get(&format!(
            "/openqq/shutup_group_member?group_id={gid}&member_uid=999999&time=60"
        ))
        .await;
    assert_eq!(v, status(0, "success"));
    let r = records(&gw, seq, 2).await;
    assert_eq!((s(&r[0], "qq"), s(&r[1], "qq")), ("888888", "999999"));
}

// ---------------------------------------------------------------- the binary

/// Kills and reaps the child when dropped, so a failing test never leaves a
/// gateway running.
struct ChildGuard(std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_the_api() {
    let port = free_port();
    let data = support::DataDir::fresh("binary");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_openqq"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("OPENQQ_DATA_DIR", &data.0)
        .env("RUST_LOG", "info")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the openqq binary");
    let mut guard = ChildGuard(child);
    // Its log, line by line, to see the SIGHUP handled.
    let log = {
        let out = guard.0.stdout.take().expect("stdout piped");
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in std::io::BufRead::lines(std::io::BufReader::new(out)) {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        rx
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("client");
    let url = format!("http://127.0.0.1:{port}/openqq/get_user_info");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let user: Value = loop {
        if let Some(status) = guard.0.try_wait().expect("try_wait") {
            panic!("the binary exited early: {status}");
        }
        if let Ok(res) = http.get(&url).send().await
            && res.status() == 200
        {
            assert_eq!(
                res.headers()["content-type"],
                "application/json;charset=UTF-8"
            );
            break res.json().await.expect("JSON");
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the binary did not answer within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(user["nick"], "小灰");
    assert_eq!(user["qq"], "1234567");
    assert_eq!(user["account"], "1234567");
    // And it sends.
    let v: Value = http
        .get(format!(
            "http://127.0.0.1:{port}/openqq/send_message?qq=123456&content=hi"
        ))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("JSON");
    sent_ok(&v);
    // SIGHUP with no scripts configured re-reads nothing: the gateway keeps
    // serving (SIGHUP's default action would end it with status 129).
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &guard.0.id().to_string()])
        .status()
        .expect("run kill");
    assert!(hup.success(), "kill -HUP: {hup}");
    // The handler ran (so the signal was caught, not fatal) once it logged.
    wait::poll("the SIGHUP handled in the log", WAIT, || {
        let seen = log
            .try_iter()
            .any(|l| l.contains("SIGHUP: no scripts are configured"));
        async move { seen.then_some(()) }
    })
    .await;
    if let Some(status) = guard.0.try_wait().expect("try_wait") {
        panic!("SIGHUP stopped the binary: {status}");
    }
    let res = http.get(&url).send().await.expect("answers after SIGHUP");
    assert_eq!(res.status(), 200);
    drop(guard);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_rejects_a_malformed_world_file() {
    let dir = std::env::temp_dir().join(format!("openqq-api-v1-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("bad-world.json");
    std::fs::write(
        &path,
        "{\n  \"user\": {\"qq\": 1},\n  \"friends\": [ oops ]\n}\n",
    )
    .expect("write world");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_openqq"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
            "--world",
        ])
        .arg(&path)
        .env(
            "OPENQQ_DATA_DIR",
            std::env::temp_dir().join(format!("openqq-e2e-bad-world-{}", std::process::id())),
        )
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the openqq binary");
    let mut guard = ChildGuard(child);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = guard.0.try_wait().expect("try_wait") {
            break status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the binary did not exit on a bad world file"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(
        &mut guard.0.stderr.take().expect("stderr piped"),
        &mut stderr,
    )
    .expect("read stderr");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!status.success(), "exit status {status}; stderr: {stderr}");
    assert!(
        stderr.contains(&path.display().to_string()),
        "stderr names the file: {stderr}"
    );
    assert!(stderr.contains("line 3"), "stderr names line 3: {stderr}");
}
