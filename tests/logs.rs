//! `/admin/logs`: the recent log lines, paged and streamed (SSE), as a bot's
//! own log lines and output reach them.
//!
//! The ring is the process's (as a subscriber is): lines of other tests
//! running beside this one are in it too, so each test looks for lines
//! naming its own bot.

use std::time::Duration;

use openqq::config::{Config, ScriptEntry};
use serde_json::{Value, json};

use crate::support::sse::Events;
use crate::support::{self, DataDir, TestGateway, entry};

const WAIT: Duration = Duration::from_secs(20);

/// The hostile test bot under a name of this test's own: its `/flood N`
/// logs N lines through `host::log` and prints N to stdout.
fn flooder(name: &str) -> ScriptEntry {
    ScriptEntry {
        name: Some(name.into()),
        ..entry("hostile", "")
    }
}

async fn gateway(data: &DataDir, bot: &str) -> TestGateway {
    support::logs::capture();
    TestGateway::with_config(Config {
        ..support::config_with_store(data, vec![flooder(bot)])
    })
    .await
}

/// The lines logged after number `after` that name `bot`: page after page
/// (other tests log beside this one) until the last line there is.
async fn lines_since(gw: &TestGateway, after: u64, bot: &str) -> Vec<Value> {
    let mut cursor = after;
    let mut ours = Vec::new();
    loop {
        let page = gw
            .get(&format!("/admin/logs?after={cursor}&limit=1000"))
            .await;
        let lines = page["lines"].as_array().expect("lines");
        let Some(newest) = lines.last().and_then(|l| l["seq"].as_u64()) else {
            return ours;
        };
        cursor = newest;
        ours.extend(
            lines
                .iter()
                .filter(|l| l["text"].as_str().is_some_and(|t| t.contains(bot)))
                .cloned(),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bots_log_lines_are_in_the_ring_and_paged_after_a_number() {
    let bot = "logs-paged";
    let data = DataDir::fresh(bot);
    let gw = gateway(&data, bot).await;
    let before = gw.get("/admin/logs?limit=0").await["last"]
        .as_u64()
        .expect("last");
    let seq = gw.last_seq().await;
    gw.receive(json!({"type": "message", "sender_qq": 123456, "content": "/flood 2"}))
        .await;
    gw.sent_until(seq, WAIT, |s| !s.is_empty()).await;
    let lines = support::wait::poll("the bot's lines in /admin/logs", WAIT, || async {
        let lines = lines_since(&gw, before, bot).await;
        (lines.len() >= 4).then_some(lines)
    })
    .await;
    let texts: Vec<&str> = lines.iter().filter_map(|l| l["text"].as_str()).collect();
    let logged = format!("hostile: flood line 0 script={bot}");
    assert!(texts.iter().any(|t| t.starts_with(&logged)), "{texts:#?}");
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("hostile: flood stdout line 1")),
        "guest stdout goes to the log: {texts:#?}"
    );
    let line = &lines[0];
    assert_eq!(line["level"], "INFO");
    assert!(
        line["target"]
            .as_str()
            .is_some_and(|t| t.starts_with("openqq::")),
        "{line}"
    );
    assert!(
        line["at_ms"]
            .as_u64()
            .is_some_and(|ms| ms > 1_700_000_000_000)
    );
    let keys: Vec<&str> = line
        .as_object()
        .expect("object")
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(keys, ["at_ms", "level", "seq", "target", "text"]);

    // Paging: after a line's number comes the next line, oldest first.
    let first = line["seq"].as_u64().expect("seq");
    let next = gw.get(&format!("/admin/logs?after={first}&limit=1")).await;
    assert_eq!(next["lines"][0]["seq"], json!(first + 1), "{next}");
    assert!(next["last"].as_u64().expect("last") > first);
    // Without `after`: the newest lines, the last one `last`.
    let tail = gw.get("/admin/logs?limit=1").await;
    assert_eq!(tail["lines"][0]["seq"], tail["last"], "{tail}");
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_sends_lines_as_they_are_logged_and_resumes_after_a_number() {
    let bot = "logs-streamed";
    let data = DataDir::fresh(bot);
    let gw = gateway(&data, bot).await;
    let stream = |resume: &str| gw.http.get(gw.url(&format!("/admin/logs/stream{resume}")));
    let mut live = Events::open(stream("")).await;
    gw.receive(json!({"type": "message", "sender_qq": 123456, "content": "/flood 1"}))
        .await;
    let ours = |l: &Value| l["text"].as_str().is_some_and(|t| t.contains(bot));
    let line = live.until("log", WAIT, ours).await;
    let seq = line["seq"].as_u64().expect("seq");

    // A reader that comes back with the number it had gets what followed.
    let mut again = Events::open(stream(&format!("?after={}", seq - 1))).await;
    let replayed = again.until("log", WAIT, |_| true).await;
    assert_eq!(replayed, line, "the first line after {}", seq - 1);

    // One that comes back from before a restart (another run's id, or a
    // number this run has not reached) starts from the oldest line kept,
    // rather than hearing nothing until the numbers pass its own.
    let last = gw.get("/admin/logs?limit=0").await["last"]
        .as_u64()
        .expect("last");
    for id in ["1-99999999999", "99999999999"] {
        let mut after_restart = Events::open(stream("").header("last-event-id", id)).await;
        let first = after_restart.until("log", WAIT, |_| true).await;
        assert!(
            first["seq"].as_u64().is_some_and(|s| s <= last),
            "{id}: {first}"
        );
    }

    // Open streams do not hold the gateway's stop.
    tokio::time::timeout(WAIT, gw.gateway.stop())
        .await
        .expect("the gateway stops with streams open");
    drop((live, again));
}

/// A client that opens the stream and then reads nothing (its receive
/// buffer tiny, the server's writes soon blocked, so the stream is no
/// longer polled and cannot see the stop) does not hold the gateway's stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_nobody_reads_does_not_hold_the_stop() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let bot = "logs-unread";
    let data = DataDir::fresh(bot);
    let gw = gateway(&data, bot).await;
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket.set_recv_buffer_size(4096).expect("a small buffer");
    let mut conn = socket.connect(gw.gateway.addr).await.expect("connected");
    conn.write_all(b"GET /admin/logs/stream HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        .await
        .expect("the request");
    let mut head = [0u8; 12];
    conn.read_exact(&mut head).await.expect("the answer's head");
    assert_eq!(&head, b"HTTP/1.1 200");
    // Lines keep coming, more than the sockets' buffers hold: the server's
    // writes block, and the stream is not polled again.
    let pushing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let on = pushing.clone();
    let pusher = tokio::spawn(async move {
        let ring = openqq::logring::global();
        let text = "x".repeat(2000);
        // 2,000 lines (4 MB) a second: enough to fill the buffers soon,
        // few enough for the other tests' log streams (the ring is the
        // process's) to keep up with.
        while on.load(std::sync::atomic::Ordering::Relaxed) {
            for _ in 0..20 {
                ring.push("INFO", "e2e::unread", text.clone());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    // Time for the buffers to fill (there is nothing to observe on a socket
    // nobody reads); the stop below is bounded either way.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stopped = tokio::time::timeout(Duration::from_secs(15), gw.gateway.stop()).await;
    pushing.store(false, std::sync::atomic::Ordering::Relaxed);
    let _ = pusher.await;
    stopped.expect("the gateway stops with a stream nobody reads");
    drop(conn);
}
