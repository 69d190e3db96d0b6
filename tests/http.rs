//! Bots' outbound HTTP (`wasi:http/outgoing-handler`, `openqq:bot@0.2.0`)
//! against a server this test starts on 127.0.0.1: a granted origin is
//! reached and the bot gets the body; anything else is refused before a
//! connection is made, the bot sees `HTTP-request-denied`, `/admin/scripts`
//! counts it and the log says it once; bodies, requests per call and time
//! are capped; a connection ends by its request's deadline though the bot
//! never reads the body; and a bot waiting on a slow server is off its CPU
//! deadline and holds up no other chat. Driven through `fetcher`
//! (`tests/bots/fetcher`), which turns chat commands into requests and
//! replies with what came back.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use openqq::config::{Config, ScriptEntry};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::support::{self, TestGateway, bot, entry, logs, test_config};

const WAIT: Duration = Duration::from_secs(20);

/// What `/hello` answers.
const HELLO: &str = "hello from the test server";

/// The caps the tests set (bytes).
const CAP: u64 = 1000;

/// The test's HTTP server: what it serves, and what reached it.
struct Server {
    port: u16,
    /// Requests that reached a handler, by what they asked.
    hits: Arc<Hits>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct Hits {
    hello: AtomicUsize,
    upload: AtomicUsize,
    /// `/slow` requests that arrived (and wait for `release`).
    slow: AtomicUsize,
    release: Notify,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    async fn start() -> Server {
        let hits = Arc::new(Hits::default());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let big = "b".repeat(2 * CAP as usize);
        let app = Router::new()
            .route(
                "/hello",
                get(|State(h): State<Arc<Hits>>| async move {
                    h.hello.fetch_add(1, Ordering::SeqCst);
                    HELLO
                }),
            )
            // Over the response cap, and says so in `Content-Length`.
            .route(
                "/big",
                get(move || {
                    let big = big.clone();
                    async move { big }
                }),
            )
            // Over the response cap in chunks, with no `Content-Length`.
            .route(
                "/stream-big",
                get(|| async {
                    let chunks =
                        (0..10).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b's'; 200])));
                    Body::from_stream(futures_util::stream::iter(chunks))
                }),
            )
            .route(
                "/upload",
                post(|State(h): State<Arc<Hits>>, body: Bytes| async move {
                    h.upload.fetch_add(1, Ordering::SeqCst);
                    body.len().to_string()
                }),
            )
            .route("/hang", get(std::future::pending::<()>))
            .route(
                "/slow",
                get(|State(h): State<Arc<Hits>>| async move {
                    let released = h.release.notified();
                    h.slow.fetch_add(1, Ordering::SeqCst);
                    released.await;
                    "finally"
                }),
            )
            .with_state(hits.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Server { port, hits, task }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// A listener that only counts the connections made to it.
struct Elsewhere {
    port: u16,
    connections: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Elsewhere {
    async fn start() -> Elsewhere {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                drop(socket);
            }
        });
        Elsewhere {
            port,
            connections,
            task,
        }
    }
}

impl Drop for Elsewhere {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The fetcher, granted `origins`.
fn fetcher(origins: &[&str]) -> ScriptEntry {
    ScriptEntry {
        http: origins.iter().map(ToString::to_string).collect(),
        ..entry("fetcher", "")
    }
}

fn config(scripts: Vec<ScriptEntry>) -> Config {
    Config {
        scripts,
        cache_dir: Some(support::workspace().join("target/test-cwasm-cache")),
        ..test_config()
    }
}

fn friend(content: &str) -> Value {
    json!({"type": "message", "sender_qq": 123456, "content": content})
}

fn group(gnumber: u64, content: &str) -> Value {
    json!({"type": "group_message", "sender_qq": 888888, "gnumber": gnumber, "content": content})
}

/// Sends `content` from the friend and returns the bot's answer.
async fn ask(gw: &TestGateway, content: &str) -> String {
    let seq = gw.last_seq().await;
    gw.receive(friend(content)).await;
    let sent = gw.sent_until(seq, WAIT, |s| !s.is_empty()).await;
    sent[0]["content"].as_str().unwrap_or_default().to_string()
}

async fn admin(gw: &TestGateway) -> Value {
    support::script(&gw.admin_scripts().await, "fetcher").clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_granted_origin_is_fetched_and_everything_else_refused_before_connecting() {
    logs::capture();
    let server = Server::start().await;
    let elsewhere = Elsewhere::start().await;
    let gw = TestGateway::with_config(config(vec![fetcher(&[&server.origin()])])).await;
    assert_eq!(admin(&gw).await["world"], "openqq:bot/bot@0.2.0");

    let answer = ask(&gw, &format!("/get {}", server.url("/hello"))).await;
    assert_eq!(answer, format!("200 {} {HELLO}", HELLO.len()));
    assert_eq!(server.hits.hello.load(Ordering::SeqCst), 1);

    // Another port, another scheme, another host (the same address by
    // name): each refused, the bot sees why.
    let other_port = format!("http://127.0.0.1:{}/hello", elsewhere.port);
    let other_scheme = format!("https://127.0.0.1:{}/hello", server.port);
    let other_host = format!("http://localhost:{}/hello", server.port);
    for url in [&other_port, &other_scheme, &other_host] {
        let answer = ask(&gw, &format!("/get {url}")).await;
        assert_eq!(answer, "error: ErrorCode::HttpRequestDenied", "{url}");
    }
    // The same refusal again: counted twice, logged once.
    ask(&gw, &format!("/get {other_port}")).await;
    assert_eq!(elsewhere.connections.load(Ordering::SeqCst), 0);
    assert_eq!(server.hits.hello.load(Ordering::SeqCst), 1);

    let a = admin(&gw).await;
    let port_reason = format!("http to http://127.0.0.1:{}: not in http", elsewhere.port);
    assert_eq!(a["denied"], 4, "{a}");
    assert_eq!(a["denials"][&port_reason], 2, "{a}");
    assert_eq!(
        a["denials"][format!("http to https://127.0.0.1:{}: not in http", server.port)],
        1,
        "{a}"
    );
    assert_eq!(
        a["denials"][format!("http to http://localhost:{}: not in http", server.port)],
        1,
        "{a}"
    );
    logs::wait_for(&port_reason).await;
    assert_eq!(logs::text().matches(&port_reason).count(), 1);
    gw.gateway.stop().await;
}

/// A redirect reaches the bot as it is: the client follows none, so a
/// `Location` outside the grant is never visited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_not_followed() {
    let elsewhere = Elsewhere::start().await;
    let target = format!("http://127.0.0.1:{}/hello", elsewhere.port);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let app = Router::new().route(
        "/moved",
        get(move || {
            let target = target.clone();
            async move { (StatusCode::FOUND, [(header::LOCATION, target)]).into_response() }
        }),
    );
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let origin = format!("http://127.0.0.1:{port}");
    let gw = TestGateway::with_config(config(vec![fetcher(&[&origin])])).await;
    let answer = ask(&gw, &format!("/get {origin}/moved")).await;
    assert_eq!(answer, "302 0 ");
    assert_eq!(elsewhere.connections.load(Ordering::SeqCst), 0);
    server.abort();
    gw.gateway.stop().await;
}

/// https goes through the client's TLS (rustls): here to a server that
/// speaks plain HTTP, so the handshake fails, and the bot is told so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_goes_through_tls() {
    let server = Server::start().await;
    let origin = format!("https://127.0.0.1:{}", server.port);
    let gw = TestGateway::with_config(config(vec![fetcher(&[&origin])])).await;
    let answer = ask(&gw, &format!("/get {origin}/hello")).await;
    assert_eq!(answer, "error: ErrorCode::TlsProtocolError");
    assert_eq!(admin(&gw).await["denied"], 0);
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_past_their_caps_fail() {
    let server = Server::start().await;
    let entry = ScriptEntry {
        http_max_request_bytes: Some(CAP),
        http_max_response_bytes: Some(CAP),
        ..fetcher(&[&server.origin()])
    };
    let gw = TestGateway::with_config(config(vec![entry])).await;

    // Responses: declared too long, refused before the body is read; sent
    // in chunks with no length, cut once past the cap.
    let answer = ask(&gw, &format!("/get {}", server.url("/big"))).await;
    assert_eq!(answer, "error: ErrorCode::HttpResponseBodySize(Some(2000))");
    // A HEAD response has no body, whatever its `Content-Length` says.
    let answer = ask(&gw, &format!("/head {}", server.url("/big"))).await;
    assert_eq!(answer, "200 0 ");
    let answer = ask(&gw, &format!("/get {}", server.url("/stream-big"))).await;
    assert!(
        answer.starts_with("error: body: HTTP response body size exceeds limit"),
        "{answer}"
    );

    // Requests: within the cap, both ways; declared too long, refused
    // before anything is sent; streamed too long, failed.
    let upload = server.url("/upload");
    assert_eq!(
        ask(&gw, &format!("/post {upload} {CAP}")).await,
        "200 4 1000"
    );
    assert_eq!(
        ask(&gw, &format!("/post-declared {upload} {CAP}")).await,
        "200 4 1000"
    );
    assert_eq!(server.hits.upload.load(Ordering::SeqCst), 2);
    let answer = ask(&gw, &format!("/post-declared {upload} 5000")).await;
    assert_eq!(answer, "error: ErrorCode::HttpRequestBodySize(Some(5000))");
    assert_eq!(
        server.hits.upload.load(Ordering::SeqCst),
        2,
        "nothing was sent"
    );
    let answer = ask(&gw, &format!("/post {upload} 5000")).await;
    assert!(
        answer.starts_with("error: ErrorCode::HttpRequestBodySize(Some("),
        "{answer}"
    );
    assert_eq!(
        server.hits.upload.load(Ordering::SeqCst),
        2,
        "no whole body arrived"
    );
    gw.gateway.stop().await;
}

/// A server that never answers: the bot gets a timeout error once the
/// request's time is up — even when it asked for an hour — and the wait
/// counts against its wall-clock limit, not its 100 ms CPU deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_times_out_and_the_wait_is_off_the_cpu_deadline() {
    let server = Server::start().await;
    let timeout = Duration::from_millis(700);
    let entry = ScriptEntry {
        timeout_ms: Some(100),
        http_timeout_ms: Some(timeout.as_millis() as u64),
        ..fetcher(&[&server.origin()])
    };
    let gw = TestGateway::with_config(config(vec![entry])).await;
    for command in ["/get", "/get-patient"] {
        let started = Instant::now();
        let answer = ask(&gw, &format!("{command} {}", server.url("/hang"))).await;
        assert_eq!(answer, "error: ErrorCode::HttpResponseTimeout", "{command}");
        assert!(
            started.elapsed() >= timeout,
            "{command}: {:?}",
            started.elapsed()
        );
    }
    let a = admin(&gw).await;
    assert_eq!(
        (&a["timeouts"], &a["wall_clock"], &a["decisions"]),
        (&json!(0), &json!(0), &json!(2)),
        "{a}"
    );
    gw.gateway.stop().await;
}

/// A server that answers every request with a body it never finishes: a
/// byte every 50 ms, until the client closes the connection, which it
/// counts.
struct Trickler {
    port: u16,
    closed: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Trickler {
    async fn start() -> Trickler {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let closed = Arc::new(AtomicUsize::new(0));
        let counted = closed.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let counted = counted.clone();
                tokio::spawn(async move {
                    Trickler::trickle(socket).await;
                    counted.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        Trickler { port, closed, task }
    }

    /// Reads the request's head, answers, and trickles the body until a
    /// read sees the end of the client's side or a write fails.
    async fn trickle(mut socket: tokio::net::TcpStream) {
        let mut head = Vec::new();
        let mut buf = [0; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let answer = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
        if socket.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
        loop {
            tokio::select! {
                read = socket.read(&mut buf) => {
                    if matches!(read, Ok(0) | Err(_)) {
                        return;
                    }
                }
                () = tokio::time::sleep(Duration::from_millis(50)) => {
                    if socket.write_all(b"1\r\nx\r\n").await.is_err() {
                        return;
                    }
                }
            }
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/trickle", self.port)
    }
}

impl Drop for Trickler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The connection of a response the bot keeps, its body never read nor
/// dropped, still ends by the request's deadline: the server sees it
/// closed, call after call. A bot that reads such a body is told it timed
/// out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_ends_by_its_deadline_though_the_bot_never_reads_the_body() {
    let server = Trickler::start().await;
    let timeout = Duration::from_millis(1000);
    let entry = ScriptEntry {
        http_timeout_ms: Some(timeout.as_millis() as u64),
        ..fetcher(&[&format!("http://127.0.0.1:{}", server.port)])
    };
    let gw = TestGateway::with_config(config(vec![entry])).await;
    for _ in 0..2 {
        assert_eq!(
            ask(&gw, &format!("/keep {}", server.url())).await,
            "200 kept"
        );
    }
    support::wait::poll("both connections closed", timeout + WAIT, || async {
        (server.closed.load(Ordering::SeqCst) == 2).then_some(())
    })
    .await;

    let answer = ask(&gw, &format!("/get {}", server.url())).await;
    assert_eq!(answer, "error: body: HTTP response timeout");
    support::wait::poll("the third connection closed", timeout + WAIT, || async {
        (server.closed.load(Ordering::SeqCst) == 3).then_some(())
    })
    .await;
    assert_eq!(admin(&gw).await["denied"], 0);
    gw.gateway.stop().await;
}

/// A grant that names `localhost` reaches it, though a name that resolves
/// to a loopback address is otherwise refused: the operator wrote it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_naming_localhost_reaches_it() {
    let server = Server::start().await;
    let origin = format!("http://localhost:{}", server.port);
    let gw = TestGateway::with_config(config(vec![fetcher(&[&origin])])).await;
    let answer = ask(&gw, &format!("/get {origin}/hello")).await;
    assert_eq!(answer, format!("200 {} {HELLO}", HELLO.len()));
    assert_eq!(server.hits.hello.load(Ordering::SeqCst), 1);
    assert_eq!(admin(&gw).await["denied"], 0);
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_per_call_are_capped() {
    let server = Server::start().await;
    let entry = ScriptEntry {
        http_requests_per_call: Some(3),
        ..fetcher(&[&server.origin()])
    };
    let gw = TestGateway::with_config(config(vec![entry])).await;
    let hello = server.url("/hello");
    let denied = "error: ErrorCode::HttpRequestDenied";
    assert_eq!(
        ask(&gw, &format!("/get-many 5 {hello}")).await,
        format!("200, 200, 200, {denied}, {denied}")
    );
    // The count starts again with each call.
    assert_eq!(
        ask(&gw, &format!("/get-many 3 {hello}")).await,
        "200, 200, 200"
    );
    assert_eq!(server.hits.hello.load(Ordering::SeqCst), 6);
    let a = admin(&gw).await;
    assert_eq!(
        a["denials"]["http: more than 3 requests in one call (http_requests_per_call = 3)"], 2,
        "{a}"
    );
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_without_the_grant_reaches_nothing() {
    let server = Server::start().await;
    let gw = TestGateway::with_config(config(vec![fetcher(&[])])).await;
    let answer = ask(&gw, &format!("/get {}", server.url("/hello"))).await;
    assert_eq!(answer, "error: ErrorCode::HttpRequestDenied");
    assert_eq!(server.hits.hello.load(Ordering::SeqCst), 0);
    assert_eq!(admin(&gw).await["denied"], 1);
    gw.gateway.stop().await;
}

/// While the fetcher waits on a slow server for one group, another bot
/// answers a chat of the same pipeline lane: its reply goes out while the
/// request is still unanswered (the server holds it until the test has
/// seen that reply).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_waiting_on_http_holds_up_no_other_chat() {
    use openqq::model::ChatKind;
    use openqq::pipeline::{LANES, spread};
    let slow_group = 552603_u64;
    // A chat of the default world that shares the slow group's lane: the
    // lane decides it while the group's call waits.
    let lane = spread(&(ChatKind::Group, slow_group, 0_u64), LANES);
    let mut chats = vec![];
    for qq in [123456_u64, 7891234] {
        chats.push((
            (ChatKind::Friend, qq, 0),
            json!({"type": "message", "sender_qq": qq}),
        ));
    }
    for (g, members) in [
        (552603_u64, &[888888_u64, 999999, 123456, 45678, 123455][..]),
        (661234, &[777777, 888888][..]),
    ] {
        for &qq in members {
            let msg = json!({"type": "sess_message", "sender_qq": qq, "gnumber": g});
            chats.push(((ChatKind::Sess, qq, g), msg));
        }
    }
    let (_, mut ping) = chats
        .into_iter()
        .find(|(key, _)| spread(key, LANES) == lane)
        .expect("a chat that shares the group's lane");
    ping["content"] = json!("ping");
    let server = Server::start().await;
    let slow = ScriptEntry {
        chats: Some(vec![format!("group:{slow_group}")]),
        ..fetcher(&[&server.origin()])
    };
    let gw = TestGateway::with_config(config(vec![slow, entry("echo", "")])).await;
    let seq = gw.last_seq().await;

    gw.receive(group(slow_group, &format!("/get {}", server.url("/slow"))))
        .await;
    support::wait::poll("the slow request", WAIT, || async {
        (server.hits.slow.load(Ordering::SeqCst) == 1).then_some(())
    })
    .await;
    gw.receive(ping).await;
    let sent = gw
        .sent_until(seq, WAIT, |s| s.iter().any(|r| r["content"] == "pong"))
        .await;
    assert_eq!(
        sent.len(),
        1,
        "only the pong, the fetcher still waits: {sent:?}"
    );

    server.hits.release.notify_waiters();
    let reply = "200 7 finally";
    let sent = gw
        .sent_until(seq, WAIT, |s| s.iter().any(|r| r["content"] == reply))
        .await;
    let order: Vec<&str> = sent.iter().filter_map(|r| r["content"].as_str()).collect();
    assert_eq!(order, ["pong", reply]);
    let a = admin(&gw).await;
    assert_eq!(
        (&a["timeouts"], &a["wall_clock"]),
        (&json!(0), &json!(0)),
        "{a}"
    );
    gw.gateway.stop().await;
}

/// `openqq check` names the HTTP capability of a bot that imports
/// `wasi:http/outgoing-handler`, and runs it as a 0.2.0 bot.
#[test]
fn check_names_the_http_capability() {
    let report = openqq::scripts::check::check(&bot("fetcher")).expect("check runs");
    assert!(report.runnable, "{}", report.text);
    assert!(
        report.text.contains("  - http: outbound HTTP requests"),
        "{}",
        report.text
    );
    assert!(
        report.text.contains("world:    openqq:bot/bot@0.2.0"),
        "{}",
        report.text
    );
}
