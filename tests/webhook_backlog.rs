//! End-to-end: a receiver that falls behind delays reports, it does not
//! lose them — up to the backlog's bounds, past which drops are counted and
//! shown in `/admin/webhook` — and each chat's reports reach it in order,
//! one at a time.

use crate::support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{Value, json};
use support::{TestGateway, eight_chats, inject_side_by_side, test_config};
use tokio::sync::watch;

/// A receiver that holds every post until it is opened, then answers each
/// after `delay`; it records each report's content and how many posts of
/// one chat (the content's `c` in `c:i`) it ever held at once.
#[derive(Clone)]
struct Gated {
    open: watch::Sender<bool>,
    seen: Arc<Mutex<Seen>>,
    delay: Duration,
}

#[derive(Default)]
struct Seen {
    contents: Vec<String>,
    in_flight: HashMap<String, usize>,
    most_in_flight: usize,
}

impl Gated {
    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn count(&self) -> usize {
        self.seen().contents.len()
    }

    /// Waits until `n` reports came, or panics after `limit`.
    async fn until(&self, n: usize, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while self.count() < n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} of {n} reports came within {limit:?}",
                self.count()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn gated_hook(State(g): State<Gated>, body: Bytes) -> impl IntoResponse {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let content = body["content"].as_str().unwrap_or("").to_string();
    let chat = content.split(':').next().unwrap_or("").to_string();
    {
        let mut s = g.seen();
        s.contents.push(content);
        let n = s.in_flight.entry(chat.clone()).or_default();
        *n += 1;
        let n = *n;
        s.most_in_flight = s.most_in_flight.max(n);
    }
    let mut open = g.open.subscribe();
    let _ = open.wait_for(|o| *o).await;
    tokio::time::sleep(g.delay).await;
    if let Some(n) = g.seen().in_flight.get_mut(&chat) {
        *n -= 1;
    }
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"code":0}"#,
    )
}

/// Starts a closed receiver; returns it and its URL.
async fn gated(delay: Duration) -> (Gated, String) {
    let g = Gated {
        open: watch::channel(false).0,
        seen: Arc::default(),
        delay,
    };
    let app = axum::Router::new()
        .route("/post_api", axum::routing::post(gated_hook))
        .with_state(g.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind receiver");
    let url = format!("http://{}/post_api", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (g, url)
}

/// Waits until every report queued so far was posted and answered.
async fn drained(gw: &TestGateway) {
    gw.gateway
        .webhook
        .as_ref()
        .expect("webhook")
        .drained()
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_past_the_queue_is_delayed_not_lost_and_each_chat_keeps_its_order() {
    let (rx, url) = gated(Duration::from_millis(1)).await;
    let mut config = test_config();
    config.post_api = Some(url);
    config.webhook.queue = 100;
    let gw = Arc::new(TestGateway::with_config(config).await);
    const CHATS: usize = 4;
    const PER_CHAT: usize = 500;
    inject_side_by_side(&gw, eight_chats().into_iter().take(CHATS), PER_CHAT).await;
    // The receiver holds the first report of each chat; everything else
    // waits in the gateway (once the pipeline has handed it on): twenty
    // times the queue.
    let held = (CHATS * PER_CHAT - CHATS) as u64;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let admin = gw.get("/admin/webhook").await;
        assert_eq!(admin["dropped"], 0, "{admin}");
        if admin["waiting"] == held {
            assert_eq!(admin["peak_waiting"], held, "{admin}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{admin}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    rx.open.send_replace(true);
    rx.until(CHATS * PER_CHAT, Duration::from_secs(60)).await;

    let (contents, most_in_flight) = {
        let seen = rx.seen();
        (seen.contents.clone(), seen.most_in_flight)
    };
    let mut per_chat: HashMap<usize, Vec<usize>> = HashMap::new();
    for content in &contents {
        let (c, i) = content.split_once(':').expect("c:i");
        per_chat
            .entry(c.parse().expect("c"))
            .or_default()
            .push(i.parse().expect("i"));
    }
    for c in 0..CHATS {
        assert_eq!(
            per_chat.get(&c).map(Vec::as_slice),
            Some(&(0..PER_CHAT).collect::<Vec<_>>()[..]),
            "chat {c}: every report once, in order"
        );
    }
    assert_eq!(contents.len(), CHATS * PER_CHAT, "none twice");
    assert_eq!(most_in_flight, 1, "one report per chat at a time");
    // The last answers may still be on their way back.
    drained(&gw).await;
    let admin = gw.get("/admin/webhook").await;
    assert_eq!(
        (&admin["answered"], &admin["dropped"], &admin["waiting"]),
        (&json!(CHATS * PER_CHAT), &json!(0), &json!(0)),
        "{admin}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_byte_bound_reports_are_dropped_counted_and_shown_in_admin() {
    support::logs::capture();
    let (rx, url) = gated(Duration::ZERO).await;
    let mut config = test_config();
    config.post_api = Some(url);
    config.webhook.backlog_mb = 1;
    let gw = TestGateway::with_config(config).await;
    let chat = json!({"type": "message", "sender_qq": 123456});
    let big = "x".repeat(100 * 1024);
    let send = |i: usize| {
        let mut m = chat.clone();
        m["content"] = json!(format!("0:{i}:{big}"));
        gw.receive(m)
    };
    // The first is held by the receiver; the rest wait behind it.
    send(0).await;
    rx.until(1, Duration::from_secs(10)).await;
    const N: usize = 15;
    for i in 1..N {
        send(i).await;
    }
    // Once the pipeline has handed them all on, each waits or was dropped.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let (admin, waiting, dropped) = loop {
        let admin = gw.get("/admin/webhook").await;
        let waiting = admin["waiting"].as_u64().expect("waiting") as usize;
        let dropped = admin["dropped"].as_u64().expect("dropped") as usize;
        if waiting + dropped == N - 1 {
            break (admin, waiting, dropped);
        }
        assert!(tokio::time::Instant::now() < deadline, "{admin}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    // 100 KiB each: about ten fit in 1 MiB.
    assert!((9..=10).contains(&waiting), "{admin}");
    assert!(
        admin["waiting_bytes"]
            .as_u64()
            .is_some_and(|b| b <= 1 << 20 && b > 9 * 100 * 1024),
        "{admin}"
    );
    assert_eq!(admin["max_waiting_bytes"], 1 << 20, "{admin}");
    support::logs::wait_for("webhook backlog full: report dropped").await;

    // What waited is delivered, in order: the first `waiting` after the one
    // held; the drops are the newest.
    rx.open.send_replace(true);
    rx.until(1 + waiting, Duration::from_secs(10)).await;
    drained(&gw).await;
    let order: Vec<usize> = rx
        .seen()
        .contents
        .iter()
        .map(|c| c.split(':').nth(1).and_then(|i| i.parse().ok()).expect("i"))
        .collect();
    assert_eq!(order, (0..=waiting).collect::<Vec<_>>());
    let admin = gw.get("/admin/webhook").await;
    assert_eq!(
        (&admin["dropped"], &admin["waiting"], &admin["answered"]),
        (&json!(dropped), &json!(0), &json!(1 + waiting)),
        "{admin}"
    );
}
