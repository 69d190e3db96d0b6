//! The bot as a whole, against the SDK's mock host: canned completions,
//! the history in the mock's KV store, the mock's clock for the cooldown.

use openqq_bot::http::ErrorCode;
use openqq_bot::testing::{self, Grants, MockHost};
use openqq_bot::{Decision, kv};
use serde_json::{Value, json};

use super::*;

const BASE: &str = "https://llm.example";
const URL: &str = "https://llm.example/v1/chat/completions";
const G: u64 = 552603;

fn completion(text: &str) -> Value {
    json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]})
}

/// A bot asking `BASE`, with `extra` config, no cooldown unless set.
fn bot(extra: &[(&str, &str)]) -> SmartReply {
    // The first of a key wins: `extra` goes first.
    let mut pairs = extra.to_vec();
    pairs.extend([
        ("base_url", BASE),
        ("model", "m1"),
        ("cooldown_seconds", "0"),
    ]);
    SmartReply::init(&pairs.into_iter().collect()).unwrap()
}

fn host_answering(text: &str) -> MockHost {
    let host = MockHost::new();
    host.http_respond(URL, testing::http_json(200, &completion(text)));
    host
}

fn say(b: &mut SmartReply, qq: u64, text: &str) -> Option<Decision> {
    b.on_message(&testing::group_message(G, qq, "Bob", text))
}

fn reply(b: &mut SmartReply, qq: u64, text: &str) -> Option<String> {
    say(b, qq, text).and_then(|d| d.reply)
}

/// The `messages` of the `i`-th request sent.
fn messages(host: &MockHost, i: usize) -> Vec<(String, String)> {
    let body: Value = serde_json::from_slice(&host.http_requests()[i].body).unwrap();
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap().to_owned(),
                m["content"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(r, c)| ((*r).to_owned(), (*c).to_owned()))
        .collect()
}

#[test]
fn a_prefixed_or_mentioning_message_gets_the_models_answer() {
    let host = host_answering("你好，我是小灰。");
    let mut b = bot(&[("api_key", "sk-1"), ("system_prompt", "be brief")]);
    assert_eq!(
        reply(&mut b, 1, "/ai 你好"),
        Some("你好，我是小灰。".into())
    );
    let sent = &host.http_requests()[0];
    assert_eq!(sent.url, URL);
    assert_eq!(sent.headers.get("authorization"), Some("Bearer sk-1"));
    let body: Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(body["model"], "m1");
    assert_eq!(
        messages(&host, 0),
        pairs(&[("system", "be brief"), ("user", "Bob: 你好")])
    );

    // A friend's question goes without a name; a mention asks too.
    let friend = testing::friend_message(7, "Alice", "@小灰 在吗");
    assert!(b.on_message(&friend).is_some());
    assert_eq!(messages(&host, 1)[1], ("user".into(), "在吗".into()));
}

#[test]
fn other_messages_pass_without_a_request() {
    let host = host_answering("x");
    let mut b = bot(&[]);
    for text in ["hello", "/aisle", "/ai", "@someone else hi"] {
        assert_eq!(say(&mut b, 1, text), None, "{text}");
    }
    assert!(host.http_requests().is_empty());
    assert!(host.kv_entries().is_empty());
}

#[test]
fn the_history_is_sent_kept_per_chat_and_trimmed() {
    let host = host_answering("answer");
    let mut b = bot(&[("max_history", "2")]);
    for q in ["one", "two", "three"] {
        reply(&mut b, 1, &format!("/ai {q}")).unwrap();
    }
    let third = messages(&host, 2);
    assert_eq!(
        third[1..],
        pairs(&[
            ("user", "Bob: one"),
            ("assistant", "answer"),
            ("user", "Bob: two"),
            ("assistant", "answer"),
            ("user", "Bob: three"),
        ])
    );
    // Two exchanges kept: "one" is gone.
    let kept = history::load("h/group:552603").unwrap();
    assert_eq!(kept.len(), 4);
    assert_eq!(kept[0], Turn::new(Role::User, "Bob: two"));

    // Another chat starts with no history; a new instance (a swap) reads on.
    let other = testing::group_message(G + 1, 1, "Bob", "/ai elsewhere");
    b.on_message(&other).unwrap();
    assert_eq!(messages(&host, 3).len(), 2);
    let mut swapped = bot(&[("max_history", "2")]);
    reply(&mut swapped, 1, "/ai four").unwrap();
    assert_eq!(messages(&host, 4).len(), 6);

    // max_history = 0 sends and keeps none.
    let mut forgetful = bot(&[("max_history", "0")]);
    reply(&mut forgetful, 1, "/ai five").unwrap();
    assert_eq!(messages(&host, 5).len(), 2);
    assert_eq!(history::load("h/group:552603").unwrap().len(), 4);
}

#[test]
fn store_trouble_is_logged_and_the_answer_still_goes() {
    let host = host_answering("answer");
    let mut b = bot(&[]);
    host.kv_quota(10, 1 << 20);
    assert_eq!(reply(&mut b, 1, "/ai hi"), Some("answer".into()));
    assert!(host.logged(
        Level::Warn,
        "history `h/group:552603` not kept: over quota: value is"
    ));
    host.kv_fail(Some(kv::Error::Store("disk full".into())));
    host.advance(std::time::Duration::from_secs(60));
    assert_eq!(reply(&mut b, 1, "/ai again"), Some("answer".into()));
    assert!(host.logged(
        Level::Warn,
        "history `h/group:552603` not read: store failed: disk full"
    ));
}

#[test]
fn each_asker_waits_out_the_cooldown_and_hears_it_once() {
    let host = host_answering("answer");
    let mut b = bot(&[("cooldown_seconds", "10")]);
    assert_eq!(reply(&mut b, 1, "/ai a"), Some("answer".into()));
    assert_eq!(
        reply(&mut b, 1, "/ai b"),
        Some("请 10 秒后再问 / please wait 10 s".into())
    );
    assert_eq!(
        say(&mut b, 1, "/ai c"),
        Some(Decision::default()),
        "taken silently"
    );
    assert_eq!(
        reply(&mut b, 2, "/ai d"),
        Some("answer".into()),
        "others may ask"
    );
    host.advance(std::time::Duration::from_secs(10));
    assert_eq!(reply(&mut b, 1, "/ai e"), Some("answer".into()));
    assert_eq!(host.http_requests().len(), 3);
}

#[test]
fn no_answer_is_an_apology_or_a_pass_and_keeps_no_history() {
    let host = MockHost::new();
    host.http_fail(URL, ErrorCode::ConnectionTimeout);
    let mut b = bot(&[]);
    assert_eq!(reply(&mut b, 1, "/ai hi"), Some(DEFAULT_APOLOGY.into()));
    assert!(host.logged(
        Level::Warn,
        "smart-reply: no answer for message test-1: HTTP request failed: ConnectionTimeout"
    ));
    host.http_respond(
        URL,
        testing::http_json(500, &json!({"error": "overloaded"})),
    );
    let mut quiet = bot(&[("apology", "")]);
    assert_eq!(say(&mut quiet, 1, "/ai hi"), None, "passed on");
    assert!(host.kv_entries().is_empty());
}

#[test]
fn without_the_http_grant_the_request_is_denied() {
    let host = host_answering("answer");
    let mut b = bot(&[]);
    let msg = testing::group_message(G, 1, "Bob", "/ai hi");
    host.enforce_grants(Grants::least());
    let answer = host.on_message(&mut b, &msg).and_then(|d| d.reply);
    assert_eq!(answer, Some(DEFAULT_APOLOGY.into()));
    assert!(host.logged(Level::Warn, "no answer for message test-1: denied: "));
    assert_eq!(
        host.denials(),
        ["denied: http to https://llm.example: not in http"]
    );
    host.enforce_grants(Grants::least().http(BASE));
    let answer = host.on_message(&mut b, &msg).and_then(|d| d.reply);
    assert_eq!(answer, Some("answer".into()));
}

#[test]
fn long_answers_are_cut() {
    let _host = host_answering(&"长".repeat(50));
    let mut b = bot(&[("max_reply_chars", "10")]);
    assert_eq!(
        reply(&mut b, 1, "/ai x"),
        Some(format!("{}…", "长".repeat(9)))
    );
    assert_eq!(cut("abc", 3), "abc");
}

#[test]
fn bad_config_fails_init() {
    let _host = MockHost::new();
    let cases: [(&[(&str, &str)], &str); 6] = [
        (&[("model", "m")], "base_url"),
        (&[("base_url", "llm.example"), ("model", "m")], "base_url"),
        (&[("base_url", BASE)], "model"),
        (
            &[("base_url", BASE), ("model", "m"), ("max_history", "51")],
            "max_history",
        ),
        (
            &[
                ("base_url", BASE),
                ("model", "m"),
                ("cooldown_seconds", "-1"),
            ],
            "cooldown_seconds",
        ),
        (
            &[("base_url", BASE), ("model", "m"), ("max_reply_chars", "0")],
            "max_reply_chars",
        ),
    ];
    for (config, key) in cases {
        let err = SmartReply::init(&config.iter().copied().collect()).unwrap_err();
        assert!(err.contains(key), "{err}");
    }
}
