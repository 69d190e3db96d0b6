//! The fleet bus end to end (issue 19): real gateways on the `sim`
//! backend, a real `nats-server` (JetStream, its own store, loopback, a free
//! port; `support::nats`), and the example worker (`workers/rust`) taking
//! the reports from a durable pull consumer and answering like the
//! benchmarks' post_api receiver (`v1:<content>`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use openqq::config::{BusSection, Config};
use openqq_worker::{Counts, Options};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::support::nats::NatsServer;
use crate::support::{TestGateway, test_config, wait, workspace};

const WAIT: Duration = Duration::from_secs(60);
/// The default world's account, and a second one.
const ACCOUNT_A: u64 = 1234567;
const ACCOUNT_B: u64 = 7654321;

/// The default world logged in as `qq`: a second simulated account.
fn world_as(qq: u64) -> PathBuf {
    let text = std::fs::read_to_string(workspace().join("host/src/backend/sim/default_world.json"))
        .expect("the default world");
    let mut world: Value = serde_json::from_str(&text).expect("world JSON");
    world["user"]["qq"] = json!(qq);
    world["user"]["account"] = json!(qq.to_string());
    let path =
        std::env::temp_dir().join(format!("openqq-bus-world-{qq}-{}.json", std::process::id()));
    std::fs::write(&path, world.to_string()).expect("write the world");
    path
}

fn bus_config(nats: &NatsServer, account: u64) -> Config {
    let mut c = test_config();
    c.bus = Some(BusSection {
        url: nats.url(),
        buffer: 10_000,
        ..BusSection::default()
    });
    if account != ACCOUNT_A {
        c.backend.world = Some(world_as(account));
    }
    c
}

/// A gateway on the bus, once connected (its subscriptions made).
async fn gateway(nats: &NatsServer, account: u64) -> TestGateway {
    let gw = TestGateway::with_config(bus_config(nats, account)).await;
    let bus = gw.gateway.bus.clone().expect("bus configured");
    tokio::time::timeout(WAIT, bus.ready())
        .await
        .expect("the gateway connects to NATS");
    gw
}

/// (published, dropped, retried, acted, ignored, duplicate, unknown, api_calls)
fn stats(gw: &TestGateway) -> [u64; 8] {
    gw.gateway
        .bus
        .as_ref()
        .expect("bus configured")
        .stats()
        .snapshot()
}

async fn stats_until(gw: &TestGateway, what: &str, done: impl Fn([u64; 8]) -> bool) -> [u64; 8] {
    let bus = gw.gateway.bus.as_ref().expect("bus configured").stats();
    wait::poll(what, WAIT, || {
        let s = bus.snapshot();
        let met = done(s).then_some(s);
        async move { met }
    })
    .await
}

/// A worker running in this process: stopped or killed by the test.
struct Worker {
    task: JoinHandle<()>,
    stop: Option<oneshot::Sender<()>>,
    counts: Arc<Counts>,
}

impl Worker {
    fn start(nats: &NatsServer, work: Duration, concurrency: usize) -> Worker {
        let opts = Options {
            url: nats.url(),
            ack_wait: Duration::from_secs(2),
            concurrency,
            work,
            ..Options::default()
        };
        let counts = Arc::new(Counts::default());
        let (tx, rx) = oneshot::channel();
        let c = counts.clone();
        let task = tokio::spawn(async move {
            let stop = async {
                let _ = rx.await;
            };
            openqq_worker::run(opts, openqq_worker::echo_v1(), c, stop)
                .await
                .expect("the worker runs");
        });
        Worker {
            task,
            stop: Some(tx),
            counts,
        }
    }

    fn answered(&self) -> u64 {
        self.counts
            .answered
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Ends it as a crash would: the reports in hand are never acked.
    fn kill(self) {
        self.task.abort();
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = self.task.await;
    }
}

/// Injects group messages `<tag><i>` for i in `range`.
async fn inject(gw: &TestGateway, tag: &str, range: std::ops::Range<usize>) {
    for i in range {
        gw.receive(json!({"type": "group_message", "sender_qq": 888888, "gnumber": 552603, "content": format!("{tag}{i}")}))
            .await;
    }
}

/// The worker's replies the gateway sent after `seq`, counted by text.
async fn replies(gw: &TestGateway, seq: u64) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for r in gw.sent(seq).await {
        if let Some(c) = r["content"].as_str().filter(|c| c.starts_with("v1:")) {
            *seen.entry(c.to_string()).or_default() += 1;
        }
    }
    seen
}

/// Waits for `n` distinct replies after `seq`; then checks none came twice.
async fn all_answered_once(gw: &TestGateway, seq: u64, n: usize) -> HashMap<String, usize> {
    let seen = wait::poll(&format!("{n} replies"), WAIT, || async {
        let seen = replies(gw, seq).await;
        (seen.len() >= n).then_some(seen)
    })
    .await;
    assert_eq!(seen.len(), n, "exactly the messages injected were answered");
    let twice: Vec<_> = seen.iter().filter(|(_, c)| **c > 1).collect();
    assert!(twice.is_empty(), "answered twice: {twice:?}");
    seen
}

macro_rules! nats_or_skip {
    ($name:expr) => {
        match NatsServer::start($name) {
            Some(n) => n,
            None => return,
        }
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_one_worker_each_answer_goes_out_through_its_own_gateway() {
    let nats = nats_or_skip!("two-gateways");
    let a = gateway(&nats, ACCOUNT_A).await;
    let b = gateway(&nats, ACCOUNT_B).await;
    let (seq_a, seq_b) = (a.last_seq().await, b.last_seq().await);
    let worker = Worker::start(&nats, Duration::ZERO, 8);
    inject(&a, "from-a-", 0..5).await;
    inject(&b, "from-b-", 0..5).await;
    let got_a = all_answered_once(&a, seq_a, 5).await;
    let got_b = all_answered_once(&b, seq_b, 5).await;
    assert!(
        got_a.keys().all(|c| c.starts_with("v1:from-a-")),
        "{got_a:?}"
    );
    assert!(
        got_b.keys().all(|c| c.starts_with("v1:from-b-")),
        "{got_b:?}"
    );
    // Counted once acked, after the gateway's reply.
    wait::poll("the worker's ten acks", WAIT, || async {
        (worker.answered() >= 10).then_some(())
    })
    .await;
    assert_eq!(worker.answered(), 10);
    assert_eq!(stats(&a)[3], 5, "A acted on its five");
    assert_eq!(stats(&b)[3], 5, "B acted on its five");
    worker.stop().await;
    a.gateway.stop().await;
    b.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_call_over_the_bus_goes_through_the_right_gateway() {
    let nats = nats_or_skip!("api");
    let a = gateway(&nats, ACCOUNT_A).await;
    let b = gateway(&nats, ACCOUNT_B).await;
    let (seq_a, seq_b) = (a.last_seq().await, b.last_seq().await);
    let client = async_nats::connect(nats.url()).await.expect("connect");
    let call = |account: u64, body: Value| {
        let client = client.clone();
        async move {
            let m = client
                .request(
                    format!("openqq.{account}.api"),
                    serde_json::to_vec(&body).expect("JSON").into(),
                )
                .await
                .expect("the gateway answers");
            let status = m
                .headers
                .as_ref()
                .and_then(|h| h.get(openqq::bus::STATUS))
                .map(|v| v.as_str().to_string());
            let body = serde_json::from_slice::<Value>(&m.payload).unwrap_or(Value::Null);
            (status, body, m.payload)
        }
    };
    let (status, sent, _) = call(
        ACCOUNT_B,
        json!({"path": "/openqq/send_group_message", "params": {"gnumber": 552603, "content": "via the bus"}}),
    )
    .await;
    assert_eq!(status.as_deref(), Some("200"));
    assert_eq!(sent["code"], 0, "{sent}");
    let out = b.sent_until(seq_b, WAIT, |s| !s.is_empty()).await;
    assert_eq!(out[0]["content"], "via the bus");
    assert!(
        a.sent(seq_a).await.is_empty(),
        "the other gateway sent nothing"
    );
    // The same answer as HTTP, byte for byte.
    let (_, user, raw) = call(ACCOUNT_B, json!({"path": "/openqq/get_user_info"})).await;
    let http = b
        .http
        .get(b.url("/openqq/get_user_info"))
        .send()
        .await
        .expect("GET")
        .bytes()
        .await
        .expect("body");
    assert_eq!(raw, http, "{user}");
    assert_eq!(user["qq"], ACCOUNT_B.to_string(), "{user}");
    let (status, _, _) = call(ACCOUNT_A, json!({"path": "/openqq/no_such_route"})).await;
    assert_eq!(
        status.as_deref(),
        Some("403"),
        "unknown paths answer as HTTP does"
    );
    let (status, bad, _) = call(ACCOUNT_A, json!({"nopath": 1})).await;
    assert_eq!(
        (status.as_deref(), &bad["code"]),
        (Some("400"), &json!(400)),
        "{bad}"
    );
    assert_eq!(stats(&b)[7], 2, "B took two calls");
    a.gateway.stop().await;
    b.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_wait_for_a_stopped_worker_and_are_all_answered_once() {
    let nats = nats_or_skip!("thousand");
    let gw = gateway(&nats, ACCOUNT_A).await;
    let seq = gw.last_seq().await;
    inject(&gw, "wait-", 0..1000).await;
    stats_until(&gw, "1,000 reports in the stream", |s| s[0] >= 1000).await;
    // In the stream, waiting: nobody has taken them.
    let js = async_nats::jetstream::new(async_nats::connect(nats.url()).await.expect("connect"));
    let mut stream = js
        .get_stream("OPENQQ")
        .await
        .expect("the gateway made the stream");
    assert_eq!(stream.info().await.expect("info").state.messages, 1000);
    assert!(replies(&gw, seq).await.is_empty());
    let worker = Worker::start(&nats, Duration::ZERO, 64);
    all_answered_once(&gw, seq, 1000).await;
    let s = stats_until(&gw, "1,000 acted", |s| s[3] >= 1000).await;
    assert_eq!(s[3], 1000, "each acted on once: {s:?}");
    worker.stop().await;
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_share_the_load_and_none_is_answered_twice() {
    let nats = nats_or_skip!("share");
    let gw = gateway(&nats, ACCOUNT_A).await;
    let seq = gw.last_seq().await;
    let w1 = Worker::start(&nats, Duration::from_millis(5), 4);
    let w2 = Worker::start(&nats, Duration::from_millis(5), 4);
    inject(&gw, "share-", 0..1000).await;
    all_answered_once(&gw, seq, 1000).await;
    let (n1, n2) = (w1.answered(), w2.answered());
    assert!(n1 > 0 && n2 > 0, "both workers took reports: {n1} and {n2}");
    let s = stats_until(&gw, "1,000 acted", |s| s[3] >= 1000).await;
    assert_eq!(s[3], 1000, "{s:?}");
    w1.stop().await;
    w2.stop().await;
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_batch_loses_nothing() {
    let nats = nats_or_skip!("kill");
    let gw = gateway(&nats, ACCOUNT_A).await;
    let seq = gw.last_seq().await;
    // Slow: 8 reports in hand at a time, 50 ms each.
    let slow = Worker::start(&nats, Duration::from_millis(50), 8);
    inject(&gw, "kill-", 0..300).await;
    wait::poll("the slow worker under way", WAIT, || async {
        (slow.answered() >= 20).then_some(())
    })
    .await;
    let before = slow.answered();
    slow.kill();
    assert!(before < 300, "killed mid-batch ({before} answered)");
    // Its unacked reports come again to the next worker, after ack_wait.
    let next = Worker::start(&nats, Duration::ZERO, 64);
    all_answered_once(&gw, seq, 300).await;
    let s = stats_until(&gw, "300 acted", |s| s[3] >= 300).await;
    assert_eq!(s[3], 300, "{s:?}");
    next.stop().await;
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarting_nats_loses_no_report_within_the_buffer() {
    let mut nats = nats_or_skip!("restart");
    let gw = gateway(&nats, ACCOUNT_A).await;
    let seq = gw.last_seq().await;
    let worker = Worker::start(&nats, Duration::ZERO, 64);
    inject(&gw, "before-", 0..50).await;
    all_answered_once(&gw, seq, 50).await;
    nats.kill();
    // The gateway serves on: messages come in and wait in the buffer.
    inject(&gw, "during-", 0..200).await;
    let bus = gw.gateway.bus.as_ref().expect("bus").stats();
    assert!(
        bus.buffered.load(std::sync::atomic::Ordering::Relaxed) > 0,
        "reports wait while NATS is down"
    );
    nats.restart();
    inject(&gw, "after-", 0..50).await;
    all_answered_once(&gw, seq, 300).await;
    let s = stats_until(&gw, "300 acted", |s| s[3] >= 300).await;
    assert_eq!(s[1], 0, "none dropped: {s:?}");
    assert_eq!(s[3], 300, "{s:?}");
    worker.stop().await;
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_answer_to_one_report_is_not_carried_out() {
    let nats = nats_or_skip!("twice");
    let gw = gateway(&nats, ACCOUNT_A).await;
    let seq = gw.last_seq().await;
    // JetStream's subjects are NATS subjects: a plain subscriber sees them.
    let client = async_nats::connect(nats.url()).await.expect("connect");
    let mut reports = client
        .subscribe(format!("openqq.{ACCOUNT_A}.message.>"))
        .await
        .expect("subscribe");
    client.flush().await.expect("flush");
    inject(&gw, "twice-", 0..1).await;
    let m = tokio::time::timeout(WAIT, futures_util::StreamExt::next(&mut reports))
        .await
        .expect("a report")
        .expect("the subscription");
    assert_eq!(
        m.subject.as_str(),
        format!("openqq.{ACCOUNT_A}.message.group")
    );
    let header = |n: &str| {
        m.headers
            .as_ref()
            .and_then(|h| h.get(n))
            .map(|v| v.as_str().to_string())
    };
    let report: Value = serde_json::from_slice(&m.payload).expect("JSON");
    assert_eq!(
        report["content"], "twice-0",
        "the post_api report: {report}"
    );
    assert_eq!(report["gnumber"], 552603);
    assert_eq!(header("Nats-Msg-Id"), header(openqq::bus::REPORT));
    let answer_to = header(openqq::bus::ANSWER).expect("a message takes an answer");
    assert_eq!(answer_to, format!("openqq.{ACCOUNT_A}.answer"));
    let answer = json!({"report": header(openqq::bus::REPORT), "reply": "once"});
    let mut verdicts = Vec::new();
    for _ in 0..2 {
        let r = client
            .request(answer_to.clone(), answer.to_string().into())
            .await
            .expect("the gateway replies");
        verdicts.push(serde_json::from_slice::<Value>(&r.payload).expect("JSON"));
    }
    assert_eq!(verdicts[0]["status"], "acted", "{verdicts:?}");
    assert_eq!(verdicts[1]["status"], "already answered", "{verdicts:?}");
    let unknown = client
        .request(
            answer_to.clone(),
            json!({"report": "nope", "reply": "x"}).to_string().into(),
        )
        .await
        .expect("reply");
    assert_eq!(
        serde_json::from_slice::<Value>(&unknown.payload).expect("JSON")["code"],
        2
    );
    let sent = gw.sent_until(seq, WAIT, |s| !s.is_empty()).await;
    // A later marker on the same chat proves the second answer sent nothing.
    gw.post_form(
        "/openqq/send_group_message",
        "gnumber=552603&content=marker",
    )
    .await;
    let sent_after = gw
        .sent_until(seq, WAIT, |s| s.iter().any(|r| r["content"] == "marker"))
        .await;
    let onces = sent_after.iter().filter(|r| r["content"] == "once").count();
    assert_eq!((sent[0]["content"].as_str(), onces), (Some("once"), 1));
    let s = stats(&gw);
    assert_eq!(
        (s[3], s[5], s[6]),
        (1, 1, 1),
        "acted, duplicate, unknown: {s:?}"
    );
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_buffer_reports_are_dropped_and_counted_the_rest_arrive() {
    let mut nats = nats_or_skip!("bound");
    let mut config = bus_config(&nats, ACCOUNT_A);
    if let Some(b) = &mut config.bus {
        b.buffer = 100;
    }
    let gw = TestGateway::with_config(config).await;
    let bus = gw.gateway.bus.clone().expect("bus");
    tokio::time::timeout(WAIT, bus.ready())
        .await
        .expect("connected");
    let seq = gw.last_seq().await;
    nats.kill();
    inject(&gw, "bound-", 0..150).await;
    let s = stats_until(&gw, "50 dropped", |s| s[1] >= 50).await;
    assert_eq!(s[1], 50, "{s:?}");
    let metrics = gw
        .http
        .get(gw.url("/metrics"))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("openqq_bus_reports_total{outcome=\"dropped\"} 50"),
        "{metrics}"
    );
    nats.restart();
    let worker = Worker::start(&nats, Duration::ZERO, 64);
    let seen = all_answered_once(&gw, seq, 100).await;
    assert!(
        seen.contains_key("v1:bound-0") && seen.contains_key("v1:bound-99"),
        "the first 100 kept, in order"
    );
    worker.stop().await;
    gw.gateway.stop().await;
}

/// The bots' tools venv, which `scripts/toolchains.sh nats` gives nats-py.
fn python_with_nats() -> Option<PathBuf> {
    let venv = std::env::var_os("OPENQQ_BOT_TOOLS")
        .map_or_else(|| workspace().join(".venv-bots"), PathBuf::from);
    let py = venv.join("bin/python");
    let ok = std::process::Command::new(&py)
        .args(["-c", "import nats"])
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then_some(py)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_worker_answers_like_the_rust_one() {
    let nats = nats_or_skip!("python");
    let Some(python) = python_with_nats() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("nats-py is not installed (scripts/toolchains.sh nats), and CI=true");
        }
        eprintln!(
            "\n*** SKIPPED the Python worker: no nats-py (run `scripts/toolchains.sh nats`) ***\n"
        );
        return;
    };
    let a = gateway(&nats, ACCOUNT_A).await;
    let b = gateway(&nats, ACCOUNT_B).await;
    let (seq_a, seq_b) = (a.last_seq().await, b.last_seq().await);
    inject(&a, "py-a-", 0..20).await;
    inject(&b, "py-b-", 0..20).await;
    let mut child = tokio::process::Command::new(python)
        .arg(workspace().join("workers/python/worker.py"))
        .args(["--url", &nats.url(), "--ack-wait", "2", "--count", "40"])
        .kill_on_drop(true)
        .spawn()
        .expect("python starts");
    let got_a = all_answered_once(&a, seq_a, 20).await;
    let got_b = all_answered_once(&b, seq_b, 20).await;
    assert!(got_a.keys().all(|c| c.starts_with("v1:py-a-")), "{got_a:?}");
    assert!(got_b.keys().all(|c| c.starts_with("v1:py-b-")), "{got_b:?}");
    let status = tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("the worker ends after 40")
        .expect("status");
    assert!(status.success(), "{status}");
    a.gateway.stop().await;
    b.gateway.stop().await;
}

/// A native bot that takes messages starting with `bot`.
struct TakesBot;

#[async_trait::async_trait]
impl openqq::pipeline::Handler for TakesBot {
    async fn handle(
        &self,
        msg: &openqq::model::InboundMessage,
        _: &mut openqq::pipeline::Effects,
    ) -> Option<openqq::model::Decided> {
        msg.content
            .starts_with("bot")
            .then(|| openqq::model::Decided {
                by: openqq::model::DecidedBy::Native("takes-bot"),
                decision: openqq::model::Decision {
                    reply: Some(format!("bot:{}", msg.content)),
                    shutup: None,
                },
            })
    }
}

/// The next message on `sub`'s subjects: (subject, has an answer subject, body).
async fn next_report(sub: &mut async_nats::Subscriber) -> (String, bool, Value) {
    let m = tokio::time::timeout(WAIT, futures_util::StreamExt::next(sub))
        .await
        .expect("a report")
        .expect("the subscription");
    let answerable = m
        .headers
        .as_ref()
        .is_some_and(|h| h.get(openqq::bus::ANSWER).is_some());
    let body = serde_json::from_slice(&m.payload).expect("JSON");
    (m.subject.to_string(), answerable, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_goes_on_the_bus_follows_messages_and_the_dialect() {
    let nats = nats_or_skip!("what");
    let client = async_nats::connect(nats.url()).await.expect("connect");
    let mut sub = client
        .subscribe(format!("openqq.{ACCOUNT_A}.>"))
        .await
        .expect("subscribe");
    client.flush().await.expect("flush");
    for (all, v2) in [(false, false), (true, true)] {
        let mut config = bus_config(&nats, ACCOUNT_A);
        if let Some(b) = &mut config.bus {
            b.messages = if all {
                openqq::config::BusMessages::All
            } else {
                openqq::config::BusMessages::Unanswered
            };
        }
        if v2 {
            config.api_version = openqq::render::Dialect::V2;
        }
        let gateway = openqq::Gateway::start_with_handlers(config, vec![Arc::new(TakesBot)])
            .await
            .expect("gateway starts");
        let gw = TestGateway {
            base: format!("http://{}", gateway.addr),
            gateway,
            http: reqwest::Client::new(),
        };
        let bus = gw.gateway.bus.clone().expect("bus");
        tokio::time::timeout(WAIT, bus.ready())
            .await
            .expect("connected");
        // A dry run reaches nobody, the bus included: were it published it
        // would be the first message report below.
        let dry = gw
            .post_json(
                "/admin/dry-run",
                &json!({"kind": "group", "chat": 552603, "sender": 888888, "content": "dry-0"}),
            )
            .await;
        assert_eq!(dry["fallback"]["bus"], true, "{dry}");
        inject(&gw, "bot-", 0..1).await;
        inject(&gw, "nobody-", 0..1).await;
        let mut messages = Vec::new();
        while messages.len() < if all { 2 } else { 1 } {
            let (subject, answerable, body) = next_report(&mut sub).await;
            if subject.contains(".message.") {
                assert!(answerable, "a message report takes an answer");
                messages.push(body);
            }
        }
        let contents: Vec<_> = messages.iter().map(|m| m["content"].clone()).collect();
        if all {
            assert_eq!(
                contents,
                [json!("bot-0"), json!("nobody-0")],
                "every message"
            );
            assert_eq!(messages[0]["post_type"], "receive_message", "v2's report");
            // v2 reports the account's own sends, with no answer subject.
            gw.post_form("/openqq/send_group_message", "gnumber=552603&content=own")
                .await;
            loop {
                let (subject, answerable, body) = next_report(&mut sub).await;
                if subject == format!("openqq.{ACCOUNT_A}.sent.group") && body["content"] == "own" {
                    assert!(!answerable, "a send report takes no answer");
                    assert_eq!(body["post_type"], "send_message");
                    break;
                }
            }
        } else {
            assert_eq!(contents, [json!("nobody-0")], "only what no bot took");
            assert_eq!(messages[0]["msg_class"], "recv", "v1's report");
        }
        gw.gateway.stop().await;
    }
}
