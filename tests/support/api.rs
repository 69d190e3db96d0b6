//! Helpers for speaking the Openqq API in tests: requests built three ways,
//! the answers' common shapes, look-ups in JSON lists.

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::TestGateway;

/// A route, its parameters, and the expected answer (or record).
pub type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Value);

/// A client that gives up on any request after `timeout`, so a hanging
/// route fails the test instead of hanging it.
pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .expect("reqwest client")
}

/// `application/x-www-form-urlencoded` text for `pairs` (UTF-8, space as `+`).
pub fn urlencode(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// `pairs` as a JSON object of strings.
pub fn json_object(pairs: &[(&str, &str)]) -> Value {
    let mut m = Map::new();
    for (k, v) in pairs {
        m.insert((*k).to_string(), Value::String((*v).to_string()));
    }
    Value::Object(m)
}

/// The same request three ways: GET with a query, POST form, POST JSON.
pub async fn three_ways(gw: &TestGateway, route: &str, pairs: &[(&str, &str)]) -> [Value; 3] {
    let path = format!("/openqq/{route}");
    let q = urlencode(pairs);
    let get = gw.get(&format!("{path}?{q}")).await;
    let form = gw.post_form(&path, &q).await;
    let json = gw.post_json(&path, &json_object(pairs)).await;
    [get, form, json]
}

/// Asserts a v1 send succeeded (code 0, `发送成功`) and returns the `msg_id`.
pub fn sent_ok(v: &Value) -> u64 {
    assert_eq!(v["code"], json!(0), "{v}");
    assert_eq!(v["status"], json!("发送成功"), "{v}");
    v["msg_id"]
        .as_u64()
        .unwrap_or_else(|| panic!("msg_id is a JSON number: {v}"))
}

/// The failure answer of a v1 send route.
pub fn send_err(code: i64, status: &str) -> Value {
    json!({"code": code, "msg_id": null, "status": status})
}

/// A `{code, status}` answer.
pub fn status(code: i64, status: &str) -> Value {
    json!({"code": code, "status": status})
}

/// `v` as an array, or a panic naming what it was.
pub fn array(v: &Value) -> &Vec<Value> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected a JSON array, got {v}"))
}

/// The item whose `field` is the string `value`.
pub fn by_field<'a>(items: &'a [Value], field: &str, value: &str) -> &'a Value {
    items
        .iter()
        .find(|i| i[field] == value)
        .unwrap_or_else(|| panic!("no item with {field}={value} in {items:#?}"))
}

/// The v1 `qq` of every member of group `gnumber`, in the listed order.
pub async fn member_qqs(gw: &TestGateway, gnumber: &str) -> Vec<String> {
    let g = gw.get("/openqq/get_group_info").await;
    let group = by_field(array(&g), "gnumber", gnumber);
    array(&group["member"])
        .iter()
        .map(|m| {
            m["qq"]
                .as_str()
                .unwrap_or_else(|| panic!("qq is a string in {m}"))
                .to_string()
        })
        .collect()
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local addr").port()
}

/// Mutes of the default world that the gateway refuses on every backend
/// (`gnumber`, `member_qq`, `time`): under 60 s, the owner, an admin, the
/// account itself, and a member of a group the account does not manage.
pub fn refused_mutes() -> Vec<Vec<(&'static str, &'static str)>> {
    [
        ("552603", "888888", "59"),
        ("552603", "123455", "60"),
        ("552603", "45678", "60"),
        ("552603", "1234567", "60"),
        ("661234", "888888", "60"),
    ]
    .into_iter()
    .map(|(g, q, t)| vec![("gnumber", g), ("member_qq", q), ("time", t)])
    .collect()
}
