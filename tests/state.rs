//! Bots that remember and keep time (`openqq:bot@0.2.0`): the KV store
//! survives traps, swaps, restarts and `kill -9`; quotas refuse with the bot
//! seeing why; timers fire on the moved clock, survive restarts, and stop
//! with their bot. Driven through `keeper`, a fixture that turns chat
//! commands into KV and timer calls and replies with what the host said.

use std::sync::Arc;
use std::time::Duration;

use openqq::config::{Config, ReloadSource, ScriptEntry};
use serde_json::{Value, json};

use crate::support::{self, DataDir, TestGateway, bot, entry};

const WAIT: Duration = Duration::from_secs(20);

fn config(data: &DataDir, scripts: Vec<ScriptEntry>) -> Config {
    support::config_with_store(data, scripts)
}

/// Makes `cfg` re-read as whatever is put in the returned slot (the
/// initial load reads it too, so it starts as `cfg` itself).
fn reloadable(cfg: &mut Config) -> Arc<std::sync::Mutex<Config>> {
    let slot = Arc::new(std::sync::Mutex::new(cfg.clone()));
    let read = slot.clone();
    cfg.reload = Some(ReloadSource(Arc::new(move || {
        Ok(read.lock().expect("config slot").clone())
    })));
    slot
}

fn friend(content: &str) -> Value {
    json!({"type": "message", "sender_qq": 123456, "content": content})
}

/// Sends `content` from the friend and returns the account's answer.
async fn ask(gw: &TestGateway, content: &str) -> String {
    let seq = gw.last_seq().await;
    gw.receive(friend(content)).await;
    let sent = gw.sent_until(seq, WAIT, |s| !s.is_empty()).await;
    sent[0]["content"].as_str().unwrap_or_default().to_string()
}

/// `DELETE path` on the admin API; its JSON answer.
async fn admin_delete(gw: &TestGateway, path: &str) -> Value {
    let res = gw.http.delete(gw.url(path)).send().await.expect("delete");
    res.json().await.expect("JSON answer")
}

/// Waits for the account to send `content`, after `seq`.
async fn sent_text(gw: &TestGateway, seq: u64, content: &str) -> Value {
    let sent = gw
        .sent_until(seq, WAIT, |s| s.iter().any(|r| r["content"] == content))
        .await;
    sent.into_iter()
        .find(|r| r["content"] == content)
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_values_survive_a_trap_a_swap_and_a_restart() {
    let data = DataDir::fresh("survive");
    let mut cfg = config(&data, vec![entry("keeper", "")]);
    let next = reloadable(&mut cfg);
    let gw = TestGateway::with_config(cfg.clone()).await;
    assert_eq!(ask(&gw, "kv set greeting 你好").await, "ok");
    assert_eq!(ask(&gw, "kv incr hits 2").await, "2");

    // A trap drops the instance; the rebuilt one reads the same store.
    let seq = gw.last_seq().await;
    gw.receive(friend("trap")).await;
    assert_eq!(ask(&gw, "kv get greeting").await, "你好");
    assert!(
        gw.sent(seq)
            .await
            .iter()
            .all(|r| r["content"] != "asked to trap")
    );
    let keeper = gw.gateway.scripts.get("keeper").expect("keeper loaded");
    assert_eq!(openqq::scripts::ScriptStats::get(&keeper.stats.traps), 1);

    // A reload with another config makes a new version: a swap.
    *next.lock().expect("config slot") =
        config(&data, vec![posting(entry("keeper", "group = 552603"))]);
    let report = gw.reload_scripts().await;
    assert_eq!(report["swapped"], json!(["keeper"]), "{report}");
    assert_eq!(ask(&gw, "kv get greeting").await, "你好");
    assert_eq!(ask(&gw, "kv incr hits 1").await, "3");
    gw.gateway.stop().await;

    let gw = TestGateway::with_config(cfg).await;
    assert_eq!(ask(&gw, "kv get greeting").await, "你好");
    assert_eq!(ask(&gw, "kv keys").await, "greeting,hits");
    // Writes per call are capped: the 65th is refused, the 64 before stay.
    let many = ask(&gw, "kv many 70").await;
    assert!(
        many.starts_with("error at 64:")
            && many.ends_with("too many writes in one call (at most 64)"),
        "{many}"
    );
    assert_eq!(ask(&gw, "kv get m63").await, "1");
    for i in 0..64 {
        assert_eq!(ask(&gw, &format!("kv del m{i}")).await, "true");
    }

    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_refuse_with_the_bot_seeing_why_and_admin_shows_the_store() {
    let data = DataDir::fresh("quota");
    let mut cfg = config(&data, vec![entry("keeper", "")]);
    cfg.limits.kv_max_value_bytes = 100;
    cfg.limits.kv_max_total_bytes = 300;
    cfg.limits.kv_max_key_bytes = 8;
    let gw = TestGateway::with_config(cfg).await;
    let refused = ask(&gw, "kv fill a 101").await;
    assert!(
        refused.ends_with("value is 101 bytes, over kv_max_value_bytes = 100"),
        "{refused}"
    );
    let refused = ask(&gw, "kv set longerkey1 v").await;
    assert!(
        refused.ends_with("key is 10 bytes, over kv_max_key_bytes = 8"),
        "{refused}"
    );
    assert_eq!(ask(&gw, "kv fill a 100").await, "ok");
    assert_eq!(ask(&gw, "kv fill b 100").await, "ok");
    let refused = ask(&gw, "kv fill c 100").await;
    assert!(
        refused.ends_with("the bot's store would hold 399 bytes, over kv_max_total_bytes = 300"),
        "{refused}"
    );
    assert_eq!(ask(&gw, "kv get c").await, "none");
    let nan = ask(&gw, "kv incr a 1").await;
    assert!(
        nan.contains("`a` holds 100 bytes that are not a decimal integer"),
        "{nan}"
    );

    let listed = gw.get("/admin/kv/keeper").await;
    // Each entry costs its key, its value and 32 bytes of bookkeeping.
    assert_eq!(listed["total_bytes"], 266, "{listed}");
    assert_eq!(
        listed["keys"],
        json!([{"key": "a", "bytes": 100}, {"key": "b", "bytes": 100}])
    );
    let only_b = gw.get("/admin/kv/keeper?prefix=b").await;
    assert_eq!(only_b["keys"], json!([{"key": "b", "bytes": 100}]));
    // The operator clears a key: there is room again.
    let deleted: Value = admin_delete(&gw, "/admin/kv/keeper/a").await;
    assert_eq!(deleted["code"], 0, "{deleted}");
    assert_eq!(ask(&gw, "kv fill c 100").await, "ok");
    // And clears a retired bot's whole store and pending timers.
    assert_eq!(ask(&gw, "remind 60000 later").await, "set");
    let cleared: Value = admin_delete(&gw, "/admin/kv/keeper").await;
    assert_eq!(
        (&cleared["code"], &cleared["keys"], &cleared["timers"]),
        (&json!(0), &json!(2), &json!(1)),
        "{cleared}"
    );
    let listed = gw.get("/admin/kv/keeper").await;
    assert_eq!(
        (&listed["total_bytes"], &listed["keys"]),
        (&json!(0), &json!([]))
    );
    gw.gateway.stop().await;
}

/// A gateway running `bot` alone, its timers in Shanghai time.
fn in_shanghai(data: &DataDir, bot: &str, bot_config: &str) -> Config {
    Config {
        timezone: Some("Asia/Shanghai".into()),
        ..config(data, vec![posting(entry(bot, bot_config))])
    }
}

/// `entry` granted to send to group 552603 from its timer calls (which
/// handle no chat).
fn posting(entry: ScriptEntry) -> ScriptEntry {
    ScriptEntry {
        send_to: vec!["group:552603".into()],
        ..entry
    }
}

/// The next 08:00 in Shanghai (00:00 UTC; no daylight saving there).
fn next_shanghai_eight(now_ms: u64) -> u64 {
    const DAY: u64 = 86_400_000;
    (now_ms / DAY + 1) * DAY
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cron_timer_fires_on_the_moved_clock_without_waiting() {
    let data = DataDir::fresh("cron");
    let cfg = in_shanghai(
        &data,
        "keeper",
        "cron = \"0 0 8 * * *\"\nevery_ms = 3600000\ngroup = 552603",
    );
    let gw = TestGateway::with_config(cfg).await;
    let admin = gw.admin_scripts().await;
    let timers = &support::script(&admin, "keeper")["timers"]["declared"];
    assert_eq!(
        timers,
        &json!([
            {"name": "every", "schedule": "every 3600000 ms"},
            {"name": "cron", "schedule": "cron \"0 0 8 * * *\""}
        ])
    );
    let clock = gw.get("/admin/clock").await;
    assert_eq!(clock["timezone"], "Asia/Shanghai");
    let now = clock["now_ms"].as_u64().expect("now_ms");
    // Half a second before 08:00: the cron timer fires in half a second.
    let seq = gw.last_seq().await;
    let moved = gw
        .post_json(
            "/admin/clock",
            &json!({"to_ms": next_shanghai_eight(now) - 500}),
        )
        .await;
    assert_eq!(moved["code"], 0, "{moved}");
    let tick = sent_text(&gw, seq, "tick:cron").await;
    assert_eq!(tick["action"], "send_group_message");
    assert_eq!(tick["gnumber"], "552603");
    // An hour on, the interval fires too.
    let seq = gw.last_seq().await;
    gw.post_json("/admin/clock", &json!({"advance_ms": 3_600_000}))
        .await;
    sent_text(&gw, seq, "tick:every").await;
    let back = gw.post_json("/admin/clock", &json!({"to_ms": 0})).await;
    assert_eq!(back["code"], 400, "the clock never goes back: {back}");
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_shot_timer_set_before_a_restart_fires_after_it() {
    let data = DataDir::fresh("oneshot");
    let cfg = config(&data, vec![entry("keeper", "")]);
    let gw = TestGateway::with_config(cfg.clone()).await;
    assert_eq!(ask(&gw, "remind 3600000 该喝水了").await, "set");
    let admin = gw.admin_scripts().await;
    let pending = &support::script(&admin, "keeper")["timers"]["pending"];
    assert_eq!(pending.as_array().map(Vec::len), Some(1), "{admin}");
    gw.gateway.stop().await;

    let gw = TestGateway::with_config(cfg).await;
    let seq = gw.last_seq().await;
    gw.post_json("/admin/clock", &json!({"advance_ms": 3_600_000}))
        .await;
    let reminder = sent_text(&gw, seq, "该喝水了").await;
    assert_eq!(
        (reminder["action"].as_str(), reminder["qq"].as_str()),
        (Some("send_message"), Some("123456"))
    );
    // Used up: nothing pending once it has fired.
    support::wait::poll("the fired timer to be removed", WAIT, || async {
        let admin = gw.admin_scripts().await;
        let pending = support::script(&admin, "keeper")["timers"]["pending"].clone();
        (pending == json!([])).then_some(())
    })
    .await;
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unloaded_bots_timers_stop() {
    let data = DataDir::fresh("unload");
    let mut cfg = config(
        &data,
        vec![
            posting(entry("keeper", "every_ms = 1000\ngroup = 552603")),
            entry("echo", ""),
        ],
    );
    let next = reloadable(&mut cfg);
    let gw = TestGateway::with_config(cfg).await;
    let seq = gw.last_seq().await;
    sent_text(&gw, seq, "tick:every").await;
    *next.lock().expect("config slot") = config(&data, vec![entry("echo", "")]);
    let report = gw.reload_scripts().await;
    assert_eq!(report["unloaded"], json!(["keeper"]), "{report}");
    let seq = gw.last_seq().await;
    // Ten intervals pass at once; then a message answered by echo marks
    // the point by which a tick would have been sent.
    gw.post_json("/admin/clock", &json!({"advance_ms": 10_000}))
        .await;
    gw.receive(friend("ping")).await;
    let sent = sent_text(&gw, seq, "pong").await;
    assert_eq!(sent["action"], "send_message");
    let after = gw.sent(seq).await;
    assert!(
        after.iter().all(|r| r["content"] != "tick:every"),
        "an unloaded bot's timer fired: {after:#?}"
    );
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kv_write_before_kill_9_is_there_after() {
    let data = DataDir::fresh("kill9");
    let conf = data.0.join("openqq.toml");
    std::fs::create_dir_all(&data.0).expect("data dir");
    let keeper = bot("keeper");
    let start = || {
        let port = support::api::free_port();
        std::fs::write(
            &conf,
            format!(
                "listen = \"127.0.0.1:{port}\"\ndata_dir = {:?}\n[[scripts]]\npath = {:?}\n",
                data.0.join("db").display().to_string(),
                keeper.display().to_string()
            ),
        )
        .expect("write config");
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_openqq"))
            .args(["serve", "--config"])
            .arg(&conf)
            .env("RUST_LOG", "warn")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start the openqq binary");
        (child, format!("http://127.0.0.1:{port}"))
    };
    let http = reqwest::Client::new();
    let say = |base: String, content: &'static str| {
        let http = http.clone();
        async move {
            let after = support::wait::poll("the gateway to answer", WAIT, || async {
                let r = http
                    .get(format!("{base}/sim/sent?after=0"))
                    .send()
                    .await
                    .ok()?;
                let v: Value = r.json().await.ok()?;
                Some(v.as_array().map_or(0, Vec::len))
            })
            .await;
            let r: Value = http
                .post(format!("{base}/sim/receive"))
                .json(&friend(content))
                .send()
                .await
                .expect("receive")
                .json()
                .await
                .expect("JSON");
            assert_eq!(r["code"], 0, "{r}");
            support::wait::poll("the bot's answer", WAIT, || async {
                let r = http
                    .get(format!("{base}/sim/sent?after=0"))
                    .send()
                    .await
                    .ok()?;
                let v: Value = r.json().await.ok()?;
                let sent = v.as_array()?.clone();
                (sent.len() > after)
                    .then(|| sent[after]["content"].as_str().unwrap_or("").to_string())
            })
            .await
        }
    };
    let (mut child, base) = start();
    assert_eq!(say(base.clone(), "kv set k 持久").await, "ok");
    // SIGKILL: no shutdown code runs.
    child.kill().expect("kill -9");
    let _ = child.wait();
    let (mut child, base) = start();
    let got = say(base, "kv get k").await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(got, "持久");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_prints_the_world_version_and_capabilities() {
    let run = |name: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_openqq"))
            .arg("check")
            .arg(bot(name))
            .output()
            .expect("run openqq check");
        assert!(out.status.success(), "{name}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let keeper = run("keeper");
    assert!(keeper.contains("version:  0.2.0"), "{keeper}");
    assert!(
        keeper.contains("  - kv: a durable key-value store"),
        "{keeper}"
    );
    assert!(keeper.contains("  - timers: declared"), "{keeper}");
    // A 0.1.0 component still loads: the hostile fixture is built from
    // wit/0.1.0 straight, without the SDK.
    let old = run("hostile");
    assert!(old.contains("version:  0.1.0"), "{old}");
    assert!(!old.contains("kv:"), "{old}");
}

fn group(sender: u64, content: &str) -> Value {
    json!({"type": "group_message", "sender_qq": sender, "gnumber": 552603, "content": content})
}

/// Says `content` in group 552603 as `sender`; the account's answer.
async fn say_in_group(gw: &TestGateway, sender: u64, content: &str) -> String {
    let seq = gw.last_seq().await;
    gw.receive(group(sender, content)).await;
    let sent = gw.sent_until(seq, WAIT, |s| !s.is_empty()).await;
    sent[0]["content"].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learned_answer_survives_a_swap_and_a_restart() {
    let data = DataDir::fresh("knowledge");
    let mut cfg = config(&data, vec![entry("knowledge-base", "operators = [123456]")]);
    let next = reloadable(&mut cfg);
    let gw = TestGateway::with_config(cfg.clone()).await;
    let learned = say_in_group(&gw, 123456, "learn 群规=不许刷屏").await;
    assert!(learned.contains("群规"), "{learned}");
    // Anyone in the group gets the answer.
    assert_eq!(say_in_group(&gw, 888888, "群规").await, "不许刷屏");
    *next.lock().expect("config slot") = config(
        &data,
        vec![entry("knowledge-base", "operators = [123456, 10001]")],
    );
    let report = gw.reload_scripts().await;
    assert_eq!(report["swapped"], json!(["knowledge-base"]), "{report}");
    assert_eq!(say_in_group(&gw, 888888, "群规").await, "不许刷屏");
    gw.gateway.stop().await;

    let gw = TestGateway::with_config(cfg).await;
    assert_eq!(say_in_group(&gw, 888888, "群规").await, "不许刷屏");
    let listed = gw.get("/admin/kv/knowledge-base?prefix=g/552603/").await;
    assert_eq!(listed["keys"][0]["key"], "g/552603/群规", "{listed}");
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daily_checkin_posts_at_its_hour_and_counts_streaks() {
    let data = DataDir::fresh("checkin");
    let cfg = in_shanghai(
        &data,
        "daily-checkin",
        "groups = [552603]\ntext = \"早上好\"",
    );
    let gw = TestGateway::with_config(cfg).await;
    let now = gw.get("/admin/clock").await["now_ms"]
        .as_u64()
        .expect("now_ms");
    let seq = gw.last_seq().await;
    gw.post_json(
        "/admin/clock",
        &json!({"to_ms": next_shanghai_eight(now) - 300}),
    )
    .await;
    let post = sent_text(&gw, seq, "早上好").await;
    assert_eq!(post["gnumber"], "552603");
    // The answers to 签到, past any morning post (the next day's comes
    // when the clock is moved a day below).
    let check_in = || async {
        let seq = gw.last_seq().await;
        gw.receive(group(888888, "签到")).await;
        let sent = gw
            .sent_until(seq, WAIT, |s| s.iter().any(|r| r["content"] != "早上好"))
            .await;
        let answer = sent.iter().find(|r| r["content"] != "早上好");
        answer
            .and_then(|r| r["content"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    let first = check_in().await;
    assert!(first.contains("连续 1 天"), "{first}");
    let again = check_in().await;
    assert!(again.contains("已经签到过了"), "{again}");
    // The next day (by the gateway's clock) the streak goes on.
    gw.post_json("/admin/clock", &json!({"advance_ms": 86_400_000}))
        .await;
    let second = check_in().await;
    assert!(second.contains("连续 2 天"), "{second}");
    gw.gateway.stop().await;
}
