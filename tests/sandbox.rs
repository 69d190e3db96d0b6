//! End-to-end: the sandbox's limits against a hostile bot built straight
//! from `wit/bot.wit` (`tests/bots/hostile`, no SDK guards). Each test shows
//! the limit fire within its stated bound, the message reach the webhook,
//! other chats keep being answered, and the log name the limit.

use crate::support;

use std::time::Duration;

use openqq::config::{Config, ScriptEntry};
use serde_json::{Value, json};
use support::receiver::Receiver;
use support::{TestGateway, logs, test_config};
use tokio::time::Instant;

const WAIT: Duration = Duration::from_secs(20);

/// Slack for a loaded 2-core CI machine on top of a stated bound.
const SLACK: Duration = Duration::from_millis(1500);

/// The hostile bot under `name` (the log and `/admin/scripts` name it).
fn hostile(name: &str, config: &str) -> ScriptEntry {
    ScriptEntry {
        name: Some(name.into()),
        ..support::entry("hostile", config)
    }
}

fn config_with(scripts: Vec<ScriptEntry>, post_api: &str) -> Config {
    Config {
        scripts,
        post_api: Some(post_api.to_string()),
        cache_dir: Some(support::workspace().join("target/test-cwasm-cache")),
        ..test_config()
    }
}

fn friend(qq: u64, content: &str) -> Value {
    json!({"type": "message", "sender_qq": qq, "content": content})
}

fn group(content: &str) -> Value {
    json!({"type": "group_message", "sender_qq": 888888, "gnumber": 552603, "content": content})
}

/// `/admin/scripts`' entry for `name`.
async fn admin(gw: &TestGateway, name: &str) -> Value {
    support::script(&gw.admin_scripts().await, name).clone()
}

/// A bot that sleeps (a WASI poll: waiting, not running) escapes the CPU
/// deadline; the wall-clock limit stops it, and other chats — and its own
/// chat's next message — wait no longer than that limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sleeping_bot_is_stopped_at_its_wall_clock_limit() {
    logs::capture();
    let wall = Duration::from_millis(500);
    let mut entry = hostile("sleeper", "");
    entry.timeout_ms = Some(100);
    entry.wall_ms = Some(wall.as_millis() as u64);
    let mut rx = Receiver::start().await;
    let gw = TestGateway::with_config(config_with(vec![entry], &rx.url)).await;
    let seq = gw.last_seq().await;

    let started = Instant::now();
    gw.receive(friend(123456, "/sleep 600000")).await;
    // Other chats, and the sleeper's own chat, right behind it.
    gw.receive(friend(7891234, "/ok")).await;
    gw.receive(group("/ok")).await;
    gw.receive(friend(123456, "/ok")).await;

    let report = rx.next_with("/sleep 600000").await;
    let stopped_after = report.at - started;
    assert!(
        stopped_after >= wall && stopped_after < wall + SLACK,
        "stopped after {stopped_after:?}, the limit is {wall:?}"
    );
    let sent = gw
        .sent_until(seq, WAIT, |s| {
            s.iter().filter(|r| r["content"] == "ok").count() >= 3
        })
        .await;
    let answered_after = started.elapsed();
    assert!(
        answered_after < 2 * wall + SLACK,
        "the other chats waited {answered_after:?}"
    );
    assert_eq!(sent.len(), 3, "only the three /ok were answered: {sent:?}");
    logs::wait_for("sleeper: ran past its 500 ms wall-clock limit").await;
    let a = admin(&gw, "sleeper").await;
    assert_eq!(
        (a["wall_clock"].as_u64(), a["timeouts"].as_u64()),
        (Some(1), Some(0)),
        "{a}"
    );
    gw.gateway.stop().await;
}

/// `init` is bounded the same way: a sleeping `init` is refused at its
/// wall-clock limit and the gateway starts without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sleeping_init_is_refused_at_its_wall_clock_limit() {
    logs::capture();
    let mut entry = hostile("init-sleeper", "init_sleep_ms = \"600000\"");
    entry.timeout_ms = Some(100);
    entry.wall_ms = Some(300);
    let mut rx = Receiver::start().await;
    let started = Instant::now();
    // The init's limits: ten deadlines (at least 1 s) of CPU, and as long of wall clock.
    let gw = TestGateway::with_config(config_with(vec![entry], &rx.url)).await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1) + SLACK, "start took {took:?}");
    let a = gw.get("/admin/scripts").await;
    let reason = a["rejected"][0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("init ran past its 1000 ms wall-clock limit"),
        "{a}"
    );
    gw.receive(friend(123456, "/ok")).await;
    assert_eq!(rx.next().await.body["content"], "/ok");
    gw.gateway.stop().await;
}

/// A looping `init` is stopped at its CPU deadline, and the reason says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_looping_init_is_refused_at_its_deadline() {
    logs::capture();
    let mut rx = Receiver::start().await;
    let gw = TestGateway::with_config(config_with(
        vec![hostile("init-spinner", "init_spin = \"true\"")],
        &rx.url,
    ))
    .await;
    let a = gw.get("/admin/scripts").await;
    let reason = a["rejected"][0]["reason"].as_str().unwrap_or_default();
    assert_eq!(
        reason,
        "init-spinner: cannot load (init): init ran past its 1000 ms deadline and was stopped",
        "{a}"
    );
    gw.receive(friend(123456, "/ok")).await;
    assert_eq!(rx.next().await.body["content"], "/ok");
    gw.gateway.stop().await;
}

/// A bot whose rebuilds keep failing is paused, with a doubling pause:
/// messages meanwhile pass on at once, counted as skipped; `/admin/scripts`
/// shows the streak, the pause and the reasons; a reload ends the pause.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_that_keeps_failing_is_paused_not_retried_per_message() {
    logs::capture();
    let entry = hostile("flaky", "fail_init_if_friend = \"555000\"");
    let mut rx = Receiver::start().await;
    let mut config = config_with(vec![entry], &rx.url);
    config.limits.backoff_ms = 60_000;
    config.limits.backoff_max_ms = 60_000;
    let gw = TestGateway::with_config(config).await;
    // From now on every `init` fails.
    let added = gw
        .post_json("/sim/friend", &json!({"action": "add", "qq": 555000}))
        .await;
    assert_eq!(added["code"], 0, "{added}");
    let known = |v: &Value| {
        v.as_array()
            .is_some_and(|l| l.iter().any(|f| f["qq"] == "555000"))
    };
    let deadline = Instant::now() + WAIT;
    while !known(&gw.get("/openqq/get_friend_info").await) {
        assert!(Instant::now() < deadline, "friend 555000 never appeared");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    gw.receive(friend(123456, "/trap")).await;
    assert_eq!(rx.next().await.body["content"], "/trap");
    logs::wait_for("flaky: trapped").await;
    // The rebuild fails (2 in a row: paused); the rest are skipped at once.
    let started = Instant::now();
    for i in 0..10 {
        gw.receive(friend(123456, &format!("/ok {i}"))).await;
    }
    for i in 0..10 {
        assert_eq!(rx.next().await.body["content"], format!("/ok {i}"));
    }
    let took = started.elapsed();
    assert!(took < SLACK, "10 messages took {took:?}");
    let a = admin(&gw, "flaky").await;
    assert_eq!(a["skipped"].as_u64(), Some(9), "{a}");
    assert_eq!(a["recent_failures"].as_u64(), Some(2), "{a}");
    assert!(a["paused_until"].as_u64().is_some(), "{a}");
    let reasons = a["last_failures"].to_string();
    assert!(
        reasons.contains("trapped") && reasons.contains("init refused while 555000 is a friend"),
        "{a}"
    );
    logs::wait_for("2 failures within a minute: not rebuilt for 60000 ms").await;

    // A reload ends the pause: the next message tries the bot again.
    let r = gw.post_json("/admin/scripts/reload", &json!({})).await;
    assert_eq!(r["code"], 0, "{r}");
    let a = admin(&gw, "flaky").await;
    assert_eq!(
        (a["recent_failures"].as_u64(), &a["paused_until"]),
        (Some(0), &Value::Null),
        "{a}"
    );
    gw.receive(friend(123456, "/ok again")).await;
    assert_eq!(rx.next().await.body["content"], "/ok again");
    let a = admin(&gw, "flaky").await;
    assert_eq!(a["skipped"].as_u64(), Some(9), "tried, not skipped: {a}");
    assert_eq!(a["recent_failures"].as_u64(), Some(1), "{a}");
    gw.gateway.stop().await;
}

/// One call's log lines are capped, and the rest counted in one line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_flood_is_held_to_the_budget() {
    logs::capture();
    let mut rx = Receiver::start().await;
    let mut flooder = hostile("flooder", "");
    // Thousands of host calls in a debug build: room to finish.
    flooder.timeout_ms = Some(2000);
    let mut config = config_with(vec![flooder], &rx.url);
    config.limits.log_lines_per_call = 50;
    let gw = TestGateway::with_config(config).await;
    let seq = gw.last_seq().await;
    gw.receive(friend(123456, "/flood 2000")).await;
    let sent = gw.sent_until(seq, WAIT, |s| !s.is_empty()).await;
    assert_eq!(sent[0]["content"], "flooded");
    let log = logs::wait_for("log lines over the script's budget were dropped").await;
    let lines = log
        .lines()
        .filter(|l| l.contains("script=flooder") && l.contains("hostile: flood"))
        .count();
    assert_eq!(lines, 50, "lines written");
    assert!(
        log.lines().any(|l| l.contains("script=flooder")
            && l.contains("held_back=3950")
            && l.contains("log_lines_per_call = 50")),
        "the held-back count is logged"
    );
    // The bot is not punished for it: the next message is answered.
    gw.receive(friend(7891234, "/ok")).await;
    gw.sent_until(seq, WAIT, |s| s.iter().any(|r| r["content"] == "ok"))
        .await;
    assert!(rx.drain().is_empty(), "nothing passed on");
    gw.gateway.stop().await;
}

/// Host-side resources (WASI pollables) are capped per instance: a hoarder
/// is stopped, its message passes on, the instance is rebuilt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_hoarder_is_stopped_at_its_cap() {
    logs::capture();
    let mut rx = Receiver::start().await;
    let mut config = config_with(vec![hostile("hoarder", "")], &rx.url);
    config.limits.max_resources = 200;
    let gw = TestGateway::with_config(config).await;
    let seq = gw.last_seq().await;
    gw.receive(friend(123456, "/hoard 100000")).await;
    assert_eq!(rx.next().await.body["content"], "/hoard 100000");
    logs::wait_for("hoarder: held more than 200 WASI resources ([limits] max_resources)").await;
    // Under the cap is fine, and the rebuilt instance answers.
    gw.receive(friend(123456, "/hoard 100")).await;
    let sent = gw.sent_until(seq, WAIT, |s| !s.is_empty()).await;
    assert_eq!(sent[0]["content"], "hoarded");
    let a = admin(&gw, "hoarder").await;
    assert_eq!(a["traps"].as_u64(), Some(1), "{a}");
    gw.gateway.stop().await;
}

/// A reply or a send over QQ's length limit is refused, never sent; a reply
/// refused whole passes the message on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_reply_is_refused_and_the_message_passed_on() {
    logs::capture();
    let mut rx = Receiver::start().await;
    let gw = TestGateway::with_config(config_with(vec![hostile("huge", "")], &rx.url)).await;
    let seq = gw.last_seq().await;
    gw.receive(friend(123456, "/huge 1000000")).await;
    assert_eq!(rx.next().await.body["content"], "/huge 1000000");
    logs::wait_for("reply refused: 1000000 characters, over [limits] max_reply_chars = 4500").await;
    gw.receive(friend(123456, "/send-huge 4501")).await;
    gw.receive(friend(123456, "/huge 4500")).await;
    let sent = gw.sent_until(seq, WAIT, |s| s.len() >= 2).await;
    assert_eq!(
        sent[0]["content"],
        "send failed: content too long: 4501 characters, at most 4500"
    );
    assert_eq!(
        sent[1]["content"].as_str().map(|c| c.chars().count()),
        Some(4500)
    );
    assert_eq!(sent.len(), 2, "nothing else was sent");
    let a = admin(&gw, "huge").await;
    assert_eq!(a["refused"].as_u64(), Some(1), "{a}");
    gw.gateway.stop().await;
}

/// A mute outside QQ's 60 s–30 days is refused; the reply still goes, and a
/// decision left with nothing to do passes the message on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absurd_mute_is_refused_and_the_reply_still_goes() {
    logs::capture();
    let mut rx = Receiver::start().await;
    let gw = TestGateway::with_config(config_with(vec![hostile("muter", "")], &rx.url)).await;
    let seq = gw.last_seq().await;
    gw.receive(group("/mute 4294967295")).await;
    let sent = gw.sent_until(seq, WAIT, |s| !s.is_empty()).await;
    assert_eq!(sent[0]["content"], "muted");
    logs::wait_for("mute refused: 4294967295 s is outside QQ's 60 s to 2592000 s").await;
    gw.receive(group("/mute-only 2592001")).await;
    assert_eq!(rx.next().await.body["content"], "/mute-only 2592001");
    // In range, both go.
    gw.receive(group("/mute 600")).await;
    let sent = gw
        .sent_until(seq, WAIT, |s| s.iter().any(|r| r["action"] == "shutup"))
        .await;
    let actions: Vec<(&str, Option<u64>)> = sent
        .iter()
        .map(|r| (r["action"].as_str().unwrap_or(""), r["time"].as_u64()))
        .collect();
    assert_eq!(
        actions,
        [
            ("send_group_message", None),
            ("send_group_message", None),
            ("shutup", Some(600))
        ]
    );
    gw.gateway.stop().await;
}

/// `host::send` never holds the instance: sends are carried out after the
/// call, so while one chat's ten sends are being spaced out, other chats'
/// messages are already through the bot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_are_carried_out_after_the_call_and_do_not_hold_the_instance() {
    let mut rx = Receiver::start().await;
    let mut config = config_with(vec![hostile("sender", "")], &rx.url);
    config.outbox.spacing_ms = 200;
    let gw = TestGateway::with_config(config).await;
    let seq = gw.last_seq().await;
    gw.receive(friend(123456, "/send-many 10")).await;
    // Other chats pass the bot on to the webhook (no outbox involved). Some
    // share the first chat's pipeline lane and wait for its sends; the
    // others must not.
    let others = support::eight_chats();
    for (i, chat) in others.iter().enumerate() {
        let mut m = chat.clone();
        m["content"] = json!(format!("pass {i}"));
        gw.receive(m).await;
    }
    let first_other = loop {
        let r = rx.next().await;
        if r.body["content"]
            .as_str()
            .is_some_and(|c| c.starts_with("pass"))
        {
            break r.at;
        }
    };
    let sent = gw.sent_until(seq, WAIT, |s| s.len() >= 10).await;
    let contents: Vec<&str> = sent.iter().filter_map(|r| r["content"].as_str()).collect();
    let expected: Vec<String> = (1..=10).map(|i| format!("m{i}")).collect();
    assert_eq!(contents, expected, "in order");
    // Ten sends 200 ms apart take ~1.8 s; another chat was through at once.
    let last_send = Instant::now();
    assert!(
        last_send - first_other > Duration::from_millis(1000),
        "another chat waited for the sends"
    );
    gw.gateway.stop().await;
}
