//! The WebSocket to the OneBot implementation: dialing (forward) or
//! accepting (reverse), matching answers to calls by echo, liveness, and
//! reconnecting.
//!
//! Owns: the socket, the calls in flight, the link state. Must not: know
//! contacts or Openqq; events go out as decoded `Incoming`s on a channel.
//!
//! One task per link drives the socket (`Link::serve`), written against
//! `Sink + Stream` so unit tests feed it channels. A `Link` handle is cheap to
//! clone; `call` hands a frame to the socket task and waits for the answer
//! with the same echo, never for "the next answer" (go-cqhttp answers out of
//! order). The session sees `Up`/`Down`; a connection counts as up once the
//! implementation has said anything that is not an auth refusal, so a wrong
//! token never looks like a working link.

use std::collections::HashMap;
use std::fmt::Display;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::{Sink, SinkExt, Stream, StreamExt};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode, header};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::codec::{self, ActionResponse, Event, Frame, Incoming, Meta, Notice};
use crate::auth::{Presented, TokenCheck};
use crate::backend::BackendError;

/// How many frames may wait for the socket; a full queue makes callers wait
/// (bounded by their own timeout).
const OUT_QUEUE: usize = 256;
/// Events read but not yet taken, past which new ones are dropped (logged
/// and counted): a bound on memory under a flood no gateway could handle.
const BACKLOG_CAP: usize = 100_000;
/// A handshake that takes longer is abandoned.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A write (or close) that takes longer means the peer stopped reading.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once on the reverse listener; more are dropped.
const MAX_HANDSHAKES: usize = 16;

/// The link's clocks. Defaults follow `spec/onebot.md` §1.7 and §5.
#[derive(Debug, Clone)]
pub struct Timing {
    /// How often we ping; any frame back proves the peer alive.
    pub ping_every: Duration,
    /// Silence longer than this ends the connection (raised to three
    /// heartbeat intervals when the implementation announces longer beats).
    pub stale_after: Duration,
    /// Reconnect delays: exponential from `backoff_min` to `backoff_max`,
    /// each with jitter.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// A connection that lasted this long resets the backoff.
    pub stable_after: Duration,
    /// An implementation that says nothing for this long after the upgrade
    /// is taken as up anyway (every known one sends `lifecycle` first).
    pub confirm_grace: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            ping_every: Duration::from_secs(15),
            stale_after: Duration::from_secs(45),
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            stable_after: Duration::from_secs(30),
            confirm_grace: Duration::from_secs(2),
        }
    }
}

/// Where the link stands, for callers that wait for it (`login`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Never connected yet.
    Connecting,
    /// Connection number `generation` is up.
    Up { generation: u64 },
    /// Not connected; `auth_refused` when the last attempt failed on the
    /// access token (retrying is slow then).
    Down { auth_refused: bool },
}

/// What the link tells the backend, in order.
#[derive(Debug)]
pub enum LinkEvent {
    Up {
        generation: u64,
    },
    Down,
    /// Boxed: events are large and `Up`/`Down` tiny.
    Event(Box<Incoming>),
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnEnd {
    /// The peer closed, or the TCP connection ended.
    Closed(String),
    /// The implementation refused our access token (a `1403` frame).
    AuthRefused(String),
    /// Nothing arrived for this long.
    Stale(Duration),
    /// Reading or writing failed.
    Failed(String),
    /// Nobody consumes events any more (the gateway is stopping).
    Stopped,
}

/// The handle through which the backend calls actions.
#[derive(Clone)]
pub struct Link {
    shared: Arc<Shared>,
}

struct Shared {
    /// The open connection's outgoing queue; `None` while down. A std mutex:
    /// held only to clone or swap the sender, never across `.await`.
    conn: Mutex<Option<mpsc::Sender<Outgoing>>>,
    /// Calls waiting for their answer, by echo.
    pending: Mutex<HashMap<String, Pending>>,
    next_echo: AtomicU64,
    /// Makes our echoes unique across restarts of the gateway, so a late
    /// answer to a previous process can never match a new call.
    echo_prefix: String,
    generation: AtomicU64,
    state: watch::Sender<LinkState>,
    /// Answers whose echo matched no call (lost or late echoes).
    unmatched: AtomicU64,
}

struct Pending {
    /// Whether the request reached the socket: if the link then drops, the
    /// outcome is unknown (`Timeout`), otherwise nothing was sent (`Down`).
    written: bool,
    reply: oneshot::Sender<Result<ActionResponse, BackendError>>,
}

struct Outgoing {
    echo: String,
    frame: String,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing under these locks can panic half-way through a change.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Removes a call's pending entry however the call ends (answer, timeout,
/// or the caller being dropped).
struct PendingGuard<'a> {
    shared: &'a Shared,
    echo: String,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        lock(&self.shared.pending).remove(&self.echo);
    }
}

impl Default for Link {
    fn default() -> Self {
        Link::new()
    }
}

impl Link {
    pub fn new() -> Link {
        let (state, _) = watch::channel(LinkState::Connecting);
        Link {
            shared: Arc::new(Shared {
                conn: Mutex::new(None),
                pending: Mutex::new(HashMap::new()),
                next_echo: AtomicU64::new(1),
                echo_prefix: format!("openqq-{:08x}", rand::random::<u32>()),
                generation: AtomicU64::new(0),
                state,
                unmatched: AtomicU64::new(0),
            }),
        }
    }

    /// Watches the link state.
    pub fn state(&self) -> watch::Receiver<LinkState> {
        self.shared.state.subscribe()
    }

    /// How many answers matched no call so far.
    #[cfg(test)]
    pub fn unmatched(&self) -> u64 {
        self.shared.unmatched.load(Ordering::Relaxed)
    }

    /// Calls `action` and waits up to `limit` for its answer.
    ///
    /// # Errors
    /// `Down` when not connected or the link closed before the request was
    /// written (safe to retry); `Timeout` when it was written but no answer
    /// came (the outcome is unknown); `Rejected` when the implementation
    /// answered with a status other than `ok`.
    pub async fn call(
        &self,
        action: &str,
        params: Value,
        limit: Duration,
    ) -> Result<Value, BackendError> {
        let n = self.shared.next_echo.fetch_add(1, Ordering::Relaxed);
        let echo = format!("{}-{n}", self.shared.echo_prefix);
        let out = lock(&self.shared.conn).clone().ok_or_else(|| {
            BackendError::Down("not connected to the OneBot implementation".into())
        })?;
        let (reply, answer) = oneshot::channel();
        lock(&self.shared.pending).insert(
            echo.clone(),
            Pending {
                written: false,
                reply,
            },
        );
        let _guard = PendingGuard {
            shared: &self.shared,
            echo: echo.clone(),
        };
        let frame = codec::request(action, params, &echo);
        let exchange = async {
            out.send(Outgoing { echo, frame })
                .await
                .map_err(|_| BackendError::Down("the link closed".into()))?;
            answer
                .await
                .map_err(|_| BackendError::Down("the link closed".into()))?
        };
        match tokio::time::timeout(limit, exchange).await {
            Ok(answer) => answer?.into_result(),
            Err(_) => {
                tracing::warn!(backend = "onebot", action, ?limit, "no answer in time");
                Err(BackendError::Timeout)
            }
        }
    }

    /// Drives one connection until it ends: announces it up once the peer
    /// has spoken, answers calls, forwards events, pings, and watches for
    /// silence. Then fails the calls still waiting and announces it down.
    ///
    /// # Cancel safety
    /// Not cancel safe: a caller that drops this future must call
    /// `teardown` itself (the reverse listener does, when a newer
    /// connection replaces this one).
    pub async fn serve<Si, St, E>(
        &self,
        mut sink: Si,
        mut stream: St,
        events: &EventQueue,
        timing: &Timing,
    ) -> ConnEnd
    where
        Si: Sink<Message> + Unpin,
        Si::Error: Display,
        St: Stream<Item = Result<Message, E>> + Unpin,
        E: Display,
    {
        let (out_tx, mut out_rx) = mpsc::channel::<Outgoing>(OUT_QUEUE);
        let mut out_tx = Some(out_tx);
        let grace = tokio::time::sleep(timing.confirm_grace);
        tokio::pin!(grace);
        let mut ping =
            tokio::time::interval_at(Instant::now() + timing.ping_every, timing.ping_every);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_heard = Instant::now();
        let mut stale_after = timing.stale_after;

        let end = loop {
            tokio::select! {
                frame = stream.next() => {
                    let msg = match frame {
                        None => break ConnEnd::Closed("the connection ended".into()),
                        Some(Err(e)) => break ConnEnd::Failed(e.to_string()),
                        Some(Ok(msg)) => msg,
                    };
                    last_heard = Instant::now();
                    let text = match msg {
                        Message::Text(t) => t.as_str().to_string(),
                        Message::Binary(b) => String::from_utf8_lossy(&b).into_owned(),
                        Message::Close(frame) => {
                            break ConnEnd::Closed(frame.map_or_else(
                                || "closed without a reason".into(),
                                |f| format!("closed with code {} {}", u16::from(f.code), f.reason),
                            ));
                        }
                        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
                    };
                    match self.on_frame(&text, &mut stale_after, events) {
                        Heard::Auth(reason) => break ConnEnd::AuthRefused(reason),
                        Heard::Stopped => break ConnEnd::Stopped,
                        Heard::Ok => {
                            if let Some(tx) = out_tx.take()
                                && !self.confirm(tx, events)
                            {
                                break ConnEnd::Stopped;
                            }
                        }
                    }
                }
                () = &mut grace, if out_tx.is_some() => {
                    if let Some(tx) = out_tx.take()
                        && !self.confirm(tx, events)
                    {
                        break ConnEnd::Stopped;
                    }
                }
                Some(o) = out_rx.recv() => {
                    // Marked before writing: once we start, the peer may act on it.
                    if let Some(p) = lock(&self.shared.pending).get_mut(&o.echo) {
                        p.written = true;
                    }
                    if let Err(e) = write(&mut sink, Message::text(o.frame)).await {
                        break ConnEnd::Failed(e);
                    }
                }
                _ = ping.tick() => {
                    let quiet = last_heard.elapsed();
                    if quiet > stale_after {
                        break ConnEnd::Stale(quiet);
                    }
                    if let Err(e) = write(&mut sink, Message::Ping(Default::default())).await {
                        break ConnEnd::Failed(e);
                    }
                }
            }
        };
        let was_up = self.teardown(matches!(end, ConnEnd::AuthRefused(_)));
        if was_up && end != ConnEnd::Stopped {
            // Queued after what this connection read, so it comes last.
            events.push(LinkEvent::Down);
        }
        // A peer that stopped reading must not hold us here.
        let _ = tokio::time::timeout(WRITE_TIMEOUT, sink.close()).await;
        end
    }

    /// Makes the connection usable for calls and announces it.
    fn confirm(&self, out: mpsc::Sender<Outgoing>, events: &EventQueue) -> bool {
        let generation = self.shared.generation.fetch_add(1, Ordering::Relaxed) + 1;
        *lock(&self.shared.conn) = Some(out);
        self.shared.state.send_replace(LinkState::Up { generation });
        tracing::info!(
            backend = "onebot",
            generation,
            "connected to the OneBot implementation"
        );
        events.push(LinkEvent::Up { generation })
    }

    /// Marks the link down and fails every call still waiting. Returns
    /// whether the link was up.
    pub fn teardown(&self, auth_refused: bool) -> bool {
        let was_up = lock(&self.shared.conn).take().is_some();
        self.shared
            .state
            .send_replace(LinkState::Down { auth_refused });
        let waiting: Vec<Pending> = lock(&self.shared.pending).drain().map(|(_, p)| p).collect();
        for p in waiting {
            let e = if p.written {
                BackendError::Timeout
            } else {
                BackendError::Down("the link closed before the request was sent".into())
            };
            let _ = p.reply.send(Err(e));
        }
        was_up
    }

    /// Marks the link down after a refused handshake (HTTP 401/403).
    fn refused(&self) {
        self.shared
            .state
            .send_replace(LinkState::Down { auth_refused: true });
    }

    fn on_frame(&self, text: &str, stale_after: &mut Duration, events: &EventQueue) -> Heard {
        let frame = match codec::decode(text) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(
                    backend = "onebot",
                    error = %e,
                    frame = %codec::excerpt(text),
                    "ignoring a frame that is not a JSON object"
                );
                return Heard::Ok;
            }
        };
        match frame {
            Frame::Response(r) => {
                let auth = r.is_auth_failure().then(|| r.message.clone());
                let waiting = r
                    .echo_key()
                    .and_then(|k| lock(&self.shared.pending).remove(&k));
                match waiting {
                    Some(p) => {
                        let _ = p.reply.send(Ok(r));
                    }
                    None if auth.is_some() => {}
                    None => {
                        let total = self.shared.unmatched.fetch_add(1, Ordering::Relaxed) + 1;
                        tracing::warn!(
                            backend = "onebot",
                            total,
                            echo = %r.echo,
                            retcode = r.retcode,
                            "an answer matched no call (lost echo or late answer)"
                        );
                    }
                }
                match auth {
                    Some(reason) => Heard::Auth(reason),
                    None => Heard::Ok,
                }
            }
            Frame::Event(inc) => {
                match &inc.event {
                    Event::Meta(Meta::Heartbeat { interval, online }) => {
                        if let Some(i) = *interval {
                            *stale_after = (*stale_after).max(3 * heartbeat_interval(i));
                        }
                        if *online == Some(false) {
                            tracing::warn!(
                                backend = "onebot",
                                "the implementation reports its QQ session offline"
                            );
                        }
                        return Heard::Ok;
                    }
                    Event::Meta(_) => return Heard::Ok,
                    Event::Notice(Notice::BotOffline { message }) => {
                        tracing::warn!(backend = "onebot", %message, "the QQ session went offline");
                    }
                    _ => {}
                }
                if !events.push(LinkEvent::Event(Box::new(inc))) {
                    return Heard::Stopped;
                }
                Heard::Ok
            }
        }
    }
}

/// Events read from connections, on their way to the backend's converter.
/// The reader never waits for the converter: answers to calls (a bot's
/// reply, a contact re-read) must be read even while the session is busy —
/// otherwise a full queue and a send awaiting its answer hold each other
/// until the send times out, and the pipeline stalls. One queue outlives
/// the connections, so what one connection read still goes on, in order,
/// while the next one is dialled.
#[derive(Clone)]
pub struct EventQueue {
    inner: Arc<QueueInner>,
}

struct QueueInner {
    held: Mutex<std::collections::VecDeque<LinkEvent>>,
    more: tokio::sync::Notify,
    events: mpsc::Sender<LinkEvent>,
    dropped: AtomicU64,
}

impl EventQueue {
    /// The queue, and the task that hands its events to `events` as the
    /// converter takes them; the task ends when the converter is gone.
    pub fn start(events: mpsc::Sender<LinkEvent>) -> EventQueue {
        let queue = EventQueue {
            inner: Arc::new(QueueInner {
                held: Mutex::new(std::collections::VecDeque::new()),
                more: tokio::sync::Notify::new(),
                events,
                dropped: AtomicU64::new(0),
            }),
        };
        tokio::spawn(queue.clone().forward());
        queue
    }

    /// Queues `e` without waiting; `false` when the converter is gone.
    fn push(&self, e: LinkEvent) -> bool {
        let q = &self.inner;
        if q.events.is_closed() {
            return false;
        }
        let mut held = lock(&q.held);
        if held.len() >= BACKLOG_CAP {
            let total = q.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if total == 1 || total.is_multiple_of(1000) {
                tracing::error!(
                    backend = "onebot",
                    dropped_total = total,
                    held = held.len(),
                    "events arrive far faster than they are handled: dropping them"
                );
            }
            return true;
        }
        held.push_back(e);
        if held.len().is_multiple_of(10_000) {
            tracing::warn!(
                backend = "onebot",
                held = held.len(),
                "events arrive faster than they are handled; holding them"
            );
        }
        drop(held);
        q.more.notify_one();
        true
    }

    async fn forward(self) {
        let q = &self.inner;
        loop {
            let next = lock(&q.held).pop_front();
            match next {
                Some(e) => {
                    if q.events.send(e).await.is_err() {
                        return;
                    }
                }
                None => tokio::select! {
                    () = q.more.notified() => {}
                    () = q.events.closed() => return,
                },
            }
        }
    }
}

/// Writes one frame, giving up on a peer that stopped reading (a full TCP
/// buffer would otherwise stall the loop, and with it the watchdog).
async fn write<Si>(sink: &mut Si, msg: Message) -> Result<(), String>
where
    Si: Sink<Message> + Unpin,
    Si::Error: Display,
{
    match tokio::time::timeout(WRITE_TIMEOUT, sink.send(msg)).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err("writing to the socket timed out".into()),
    }
}

enum Heard {
    Ok,
    Auth(String),
    Stopped,
}

/// A heartbeat's `interval` as a duration. It should be milliseconds, but
/// one Lagrange version sent seconds: a value under 1000 is read as seconds.
/// Clamped to 1 s ..= 5 min.
fn heartbeat_interval(raw: i64) -> Duration {
    let ms = if raw > 0 && raw < 1000 {
        raw * 1000
    } else {
        raw
    };
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
        .clamp(Duration::from_secs(1), Duration::from_secs(300))
}

// ------------------------------------------------------------ reconnecting

/// Exponential reconnect delays with "equal jitter": each delay is between
/// half and all of the current step, so many gateways restarting together
/// do not dial in lockstep.
#[derive(Debug)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    step: Duration,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            min,
            max,
            step: min,
        }
    }

    pub fn next_delay(&mut self) -> Duration {
        let step = self.step;
        self.step = (step * 2).min(self.max);
        let half = step / 2;
        half + half.mul_f64(rand::random::<f64>())
    }

    pub fn reset(&mut self) {
        self.step = self.min;
    }
}

/// Why dialing failed.
#[derive(Debug)]
enum DialError {
    /// HTTP 401/403 at the upgrade (go-cqhttp's way of refusing a token).
    Auth(u16),
    Other(String),
}

type ClientWs = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn dial(url: &str, token: &str) -> Result<ClientWs, DialError> {
    let mut req = url
        .into_client_request()
        .map_err(|e| DialError::Other(e.to_string()))?;
    if !token.is_empty() {
        let v = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| DialError::Other("the access token is not a valid header value".into()))?;
        req.headers_mut().insert(header::AUTHORIZATION, v);
    }
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, tokio_tungstenite::connect_async(req)).await {
        Err(_) => Err(DialError::Other("the handshake timed out".into())),
        Ok(Err(tungstenite::Error::Http(resp))) if matches!(resp.status().as_u16(), 401 | 403) => {
            Err(DialError::Auth(resp.status().as_u16()))
        }
        Ok(Err(e)) => Err(DialError::Other(e.to_string())),
        Ok(Ok((ws, _))) => Ok(ws),
    }
}

/// Forward mode: dials `url` until the gateway stops, reconnecting with
/// backoff. A refused token waits the longest delay before the next try and
/// says so, instead of hammering the implementation.
pub async fn run_forward(
    link: Link,
    url: String,
    token: String,
    events: mpsc::Sender<LinkEvent>,
    timing: Timing,
) {
    let mut backoff = Backoff::new(timing.backoff_min, timing.backoff_max);
    let queue = EventQueue::start(events.clone());
    loop {
        let started = Instant::now();
        let delay = match dial(&url, &token).await {
            Ok(ws) => {
                let (sink, stream) = ws.split();
                let end = link.serve(sink, stream, &queue, &timing).await;
                if started.elapsed() >= timing.stable_after {
                    backoff.reset();
                }
                match end {
                    ConnEnd::Stopped => return,
                    ConnEnd::AuthRefused(reason) => {
                        auth_refused_log(
                            &url,
                            &format!("a 1403 frame: {reason}"),
                            timing.backoff_max,
                        );
                        timing.backoff_max
                    }
                    other => {
                        let delay = backoff.next_delay();
                        tracing::warn!(backend = "onebot", %url, end = ?other, ?delay, "connection lost; reconnecting");
                        delay
                    }
                }
            }
            Err(DialError::Auth(status)) => {
                link.refused();
                auth_refused_log(&url, &format!("HTTP {status}"), timing.backoff_max);
                timing.backoff_max
            }
            Err(DialError::Other(e)) => {
                link.teardown(false);
                let delay = backoff.next_delay();
                tracing::warn!(backend = "onebot", %url, error = %e, ?delay, "cannot connect; retrying");
                delay
            }
        };
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = events.closed() => return,
        }
    }
}

fn auth_refused_log(url: &str, how: &str, retry: Duration) {
    tracing::error!(
        backend = "onebot",
        %url,
        "access token refused by the OneBot implementation ({how}); \
         check [backend] access_token; next attempt in {retry:?}"
    );
}

// ------------------------------------------------------------ reverse mode

/// What a dialing implementation must present (reverse mode).
#[derive(Debug, Clone)]
pub struct AcceptRules {
    /// The path to accept; `/` accepts any.
    pub path: String,
    /// Empty: no token required.
    pub token: String,
}

/// Checks a reverse-WS upgrade (`spec/onebot.md` §1.5, §1.6): the token as
/// `Authorization: Bearer|Token <t>` or `?access_token=`, an `X-Self-ID`,
/// and the Universal role (a missing role counts as Universal).
///
/// # Errors
/// The HTTP status and a short reason to answer with.
pub fn check_upgrade(
    req: &Request,
    rules: &AcceptRules,
) -> Result<u64, (StatusCode, &'static str)> {
    let path = req.uri().path().trim_end_matches('/');
    let want = rules.path.trim_end_matches('/');
    if !want.is_empty() && path != want {
        return Err((StatusCode::NOT_FOUND, "unknown path"));
    }
    if !rules.token.is_empty() {
        match TOKEN.check(req.headers(), req.uri(), &rules.token) {
            Presented::Missing => return Err((StatusCode::UNAUTHORIZED, "access token missing")),
            Presented::Wrong => return Err((StatusCode::FORBIDDEN, "access token refused")),
            Presented::Right => {}
        }
    }
    let self_id = req
        .headers()
        .get("x-self-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .ok_or((StatusCode::BAD_REQUEST, "X-Self-ID missing"))?;
    if let Some(role) = req
        .headers()
        .get("x-client-role")
        .and_then(|v| v.to_str().ok())
        && !role.eq_ignore_ascii_case("universal")
    {
        return Err((StatusCode::BAD_REQUEST, "openqq needs the Universal role"));
    }
    Ok(self_id)
}

/// Compares secrets without stopping at the first difference.
/// OneBot's `access_token`, by header or query parameter.
const TOKEN: TokenCheck = TokenCheck::new("access_token");

type ServerWs = WebSocketStream<TcpStream>;

// The callback's `Result<Response, ErrorResponse>` is tungstenite's signature.
#[allow(clippy::result_large_err)]
async fn handshake(tcp: TcpStream, rules: Arc<AcceptRules>) -> Option<ServerWs> {
    let peer = tcp.peer_addr().ok();
    let check = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        match check_upgrade(req, &rules) {
            Ok(self_id) => {
                tracing::info!(
                    backend = "onebot",
                    ?peer,
                    self_id,
                    "a OneBot implementation dialed in"
                );
                Ok(resp)
            }
            Err((status, why)) => {
                tracing::warn!(backend = "onebot", ?peer, %status, why, "refused a OneBot connection");
                let mut e = ErrorResponse::new(Some(why.to_string()));
                *e.status_mut() = status;
                Err(e)
            }
        }
    };
    match tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        tokio_tungstenite::accept_hdr_async(tcp, check),
    )
    .await
    {
        Ok(Ok(ws)) => Some(ws),
        Ok(Err(e)) => {
            tracing::debug!(backend = "onebot", ?peer, error = %e, "handshake failed");
            None
        }
        Err(_) => None,
    }
}

async fn accept_loop(
    listener: TcpListener,
    rules: Arc<AcceptRules>,
    conns: mpsc::Sender<ServerWs>,
) {
    let mut handshakes = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) if handshakes.len() < MAX_HANDSHAKES => {
                    handshakes.spawn(handshake(tcp, rules.clone()));
                }
                Ok(_) => tracing::warn!(backend = "onebot", "too many handshakes at once; dropped one"),
                Err(e) => {
                    // Out of file descriptors and the like: pause, don't spin.
                    tracing::warn!(backend = "onebot", error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            },
            Some(done) = handshakes.join_next() => {
                if let Ok(Some(ws)) = done
                    && conns.send(ws).await.is_err()
                {
                    return;
                }
            }
        }
    }
}

/// Reverse mode: accepts the implementation's connections on `listener`.
/// One connection is served at a time; a newer one replaces it, because an
/// implementation only redials when it believes the old one dead, and we
/// may not have noticed yet.
pub async fn run_reverse(
    link: Link,
    listener: TcpListener,
    rules: AcceptRules,
    events: mpsc::Sender<LinkEvent>,
    timing: Timing,
) {
    let (conns_tx, mut conns_rx) = mpsc::channel(1);
    let queue = EventQueue::start(events.clone());
    let accepting = accept_loop(listener, Arc::new(rules), conns_tx);
    tokio::pin!(accepting);
    let mut next: Option<ServerWs> = None;
    loop {
        let ws = match next.take() {
            Some(ws) => ws,
            None => tokio::select! {
                Some(ws) = conns_rx.recv() => ws,
                () = &mut accepting => return,
                () = events.closed() => return,
            },
        };
        let (sink, stream) = ws.split();
        tokio::select! {
            end = link.serve(sink, stream, &queue, &timing) => {
                if end == ConnEnd::Stopped {
                    return;
                }
                tracing::warn!(backend = "onebot", ?end, "the implementation's connection ended; waiting for it to dial again");
            }
            Some(newer) = conns_rx.recv() => {
                tracing::info!(backend = "onebot", "a new connection replaces the current one");
                next = Some(newer);
                if link.teardown(false) {
                    queue.push(LinkEvent::Down);
                }
            }
            () = &mut accepting => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A fake peer: what the link writes, and a way to feed it frames.
    struct Peer {
        from_link: mpsc::Receiver<Message>,
        to_link: mpsc::Sender<Result<Message, String>>,
    }

    impl Peer {
        async fn request(&mut self) -> Value {
            loop {
                match self.from_link.recv().await.expect("link open") {
                    Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
                    _ => continue,
                }
            }
        }

        async fn say(&self, v: Value) {
            self.to_link
                .send(Ok(Message::text(v.to_string())))
                .await
                .unwrap();
        }
    }

    type Serving = tokio::task::JoinHandle<ConnEnd>;

    fn connect(link: &Link, timing: Timing) -> (Peer, mpsc::Receiver<LinkEvent>, Serving) {
        connect_with(link, timing, 64)
    }

    /// As `connect`, with room for `room` events between the link and
    /// whoever reads them.
    fn connect_with(
        link: &Link,
        timing: Timing,
        room: usize,
    ) -> (Peer, mpsc::Receiver<LinkEvent>, Serving) {
        let (out_tx, from_link) = mpsc::channel(64);
        let (to_link, in_rx) = mpsc::channel(64);
        let sink = Box::pin(futures_util::sink::unfold(
            out_tx,
            |tx, m: Message| async move { tx.send(m).await.map(|()| tx).map_err(|_| "closed") },
        ));
        let stream = Box::pin(futures_util::stream::unfold(in_rx, |mut rx| async move {
            rx.recv().await.map(|m| (m, rx))
        }));
        let (ev_tx, ev_rx) = mpsc::channel(room);
        let l = link.clone();
        let queue = EventQueue::start(ev_tx);
        let task = tokio::spawn(async move { l.serve(sink, stream, &queue, &timing).await });
        (Peer { from_link, to_link }, ev_rx, task)
    }

    fn lifecycle() -> Value {
        json!({"post_type": "meta_event", "meta_event_type": "lifecycle", "sub_type": "connect", "self_id": 1})
    }

    async fn up(link: &Link) {
        let mut st = link.state();
        st.wait_for(|s| matches!(s, LinkState::Up { .. }))
            .await
            .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn answers_are_matched_by_echo_not_by_order() {
        let link = Link::new();
        let (mut peer, mut events, _task) = connect(&link, Timing::default());
        peer.say(lifecycle()).await;
        assert!(matches!(
            events.recv().await,
            Some(LinkEvent::Up { generation: 1 })
        ));
        let a = tokio::spawn({
            let l = link.clone();
            async move { l.call("a", json!({}), Duration::from_secs(5)).await }
        });
        let first = peer.request().await;
        let b = tokio::spawn({
            let l = link.clone();
            async move { l.call("b", json!({}), Duration::from_secs(5)).await }
        });
        let second = peer.request().await;
        assert_eq!(first["action"], "a");
        assert_eq!(second["action"], "b");
        assert!(first["echo"].is_string());
        // Answer b first, then an answer with a lost echo, then a.
        peer.say(json!({"status": "ok", "retcode": 0, "data": "for b", "echo": second["echo"]}))
            .await;
        peer.say(json!({"status": "ok", "retcode": 0, "data": "lost", "echo": ""}))
            .await;
        peer.say(
            json!({"status": "failed", "retcode": 1200, "message": "no", "echo": first["echo"]}),
        )
        .await;
        assert_eq!(b.await.unwrap(), Ok(json!("for b")));
        assert_eq!(
            a.await.unwrap(),
            Err(BackendError::Rejected {
                retcode: 1200,
                reason: "no".into()
            })
        );
        assert_eq!(link.unmatched(), 1);
    }

    /// Regression: with the event queue full the reader waited for room,
    /// so the answer to a call was never read and the call timed out —
    /// while the session, busy with that call, could not make room. A
    /// connection's end must not wait for that room either.
    #[tokio::test(start_paused = true)]
    async fn answers_are_read_while_events_wait_for_room() {
        let link = Link::new();
        let (mut peer, mut events, task) = connect_with(&link, Timing::default(), 1);
        peer.say(lifecycle()).await; // Up fills the one place
        for user in 1..=5 {
            peer.say(json!({"post_type": "notice", "notice_type": "friend_add", "user_id": user}))
                .await;
        }
        up(&link).await;
        let call = tokio::spawn({
            let l = link.clone();
            async move {
                l.call("get_status", json!({}), Duration::from_secs(5))
                    .await
            }
        });
        let req = peer.request().await;
        peer.say(json!({"status": "ok", "retcode": 0, "data": "fine", "echo": req["echo"]}))
            .await;
        let started = Instant::now();
        assert_eq!(call.await.unwrap(), Ok(json!("fine")));
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "answered, not timed out"
        );
        // The connection ends without waiting for the events either, so the
        // next one can be dialled at once.
        drop(peer);
        assert!(matches!(
            task.await.unwrap(),
            ConnEnd::Closed(_) | ConnEnd::Failed(_)
        ));
        // Nothing was lost or reordered while the events waited.
        assert!(matches!(events.recv().await, Some(LinkEvent::Up { .. })));
        for user in 1..=5 {
            match events.recv().await {
                Some(LinkEvent::Event(inc)) => assert!(
                    matches!(inc.event, Event::Notice(Notice::FriendAdd { user_id }) if user_id.0 == user),
                    "{:?}",
                    inc.event
                ),
                other => panic!("{other:?}"),
            }
        }
        assert!(
            matches!(events.recv().await, Some(LinkEvent::Down)),
            "Down last"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn unanswered_calls_time_out_and_dropped_links_fail_fast() {
        let link = Link::new();
        assert!(matches!(
            link.call("x", json!({}), Duration::from_secs(1)).await,
            Err(BackendError::Down(_))
        ));
        let (mut peer, mut events, task) = connect(&link, Timing::default());
        peer.say(lifecycle()).await;
        events.recv().await;
        let r = link
            .call("send_private_msg", json!({}), Duration::from_secs(3))
            .await;
        assert_eq!(r, Err(BackendError::Timeout));
        peer.request().await;

        // A call in flight when the link drops: written, so the outcome is unknown.
        let pending = tokio::spawn({
            let l = link.clone();
            async move {
                l.call("send_group_msg", json!({}), Duration::from_secs(30))
                    .await
            }
        });
        peer.request().await;
        drop(peer);
        assert_eq!(pending.await.unwrap(), Err(BackendError::Timeout));
        assert!(matches!(
            task.await.unwrap(),
            ConnEnd::Closed(_) | ConnEnd::Failed(_)
        ));
        assert!(matches!(events.recv().await, Some(LinkEvent::Down)));
        assert!(matches!(
            link.call("x", json!({}), Duration::from_secs(1)).await,
            Err(BackendError::Down(_))
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_1403_frame_is_an_auth_refusal_and_never_up() {
        let link = Link::new();
        let (peer, mut events, task) = connect(&link, Timing::default());
        peer.say(
            json!({"status": "failed", "retcode": 1403, "data": null, "message": "token验证失败"}),
        )
        .await;
        assert_eq!(
            task.await.unwrap(),
            ConnEnd::AuthRefused("token验证失败".into())
        );
        assert_eq!(
            *link.state().borrow(),
            LinkState::Down { auth_refused: true }
        );
        assert!(
            events.try_recv().is_err(),
            "neither Up nor Down was announced"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn silence_ends_the_connection_and_pings_keep_it() {
        let link = Link::new();
        let (mut peer, mut events, task) = connect(&link, Timing::default());
        // Said nothing: up after the grace period anyway.
        up(&link).await;
        assert!(matches!(events.recv().await, Some(LinkEvent::Up { .. })));
        // Answer two pings with pongs, then go quiet.
        for _ in 0..2 {
            match peer.from_link.recv().await {
                Some(Message::Ping(_)) => peer
                    .to_link
                    .send(Ok(Message::Pong(Default::default())))
                    .await
                    .unwrap(),
                other => panic!("expected a ping, got {other:?}"),
            }
        }
        let started = Instant::now();
        let end = task.await.unwrap();
        assert!(
            matches!(end, ConnEnd::Stale(d) if d > Duration::from_secs(45)),
            "{end:?}"
        );
        assert!(started.elapsed() <= Duration::from_secs(61));
        assert!(matches!(events.recv().await, Some(LinkEvent::Down)));
    }

    #[tokio::test(start_paused = true)]
    async fn events_are_forwarded_and_heartbeats_stretch_the_watchdog() {
        let link = Link::new();
        let (peer, mut events, task) = connect(&link, Timing::default());
        peer.say(json!({"post_type": "meta_event", "meta_event_type": "heartbeat", "interval": 30000, "status": {"online": true}})).await;
        assert!(matches!(events.recv().await, Some(LinkEvent::Up { .. })));
        peer.say(json!({"post_type": "notice", "notice_type": "friend_add", "user_id": 5}))
            .await;
        match events.recv().await {
            Some(LinkEvent::Event(inc)) => {
                assert!(matches!(inc.event, Event::Notice(Notice::FriendAdd { .. })))
            }
            other => panic!("{other:?}"),
        }
        // Silent after that: the watchdog now waits 3 × 30 s, not 45 s.
        let started = Instant::now();
        let _ = task.await;
        assert!(
            started.elapsed() >= Duration::from_secs(90),
            "{:?}",
            started.elapsed()
        );
        drop(peer);
    }

    #[test]
    fn backoff_grows_with_jitter_to_the_cap() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let mut steps = Vec::new();
        for _ in 0..10 {
            steps.push(b.next_delay());
        }
        assert!(steps[0] >= Duration::from_millis(500) && steps[0] <= Duration::from_secs(1));
        assert!(steps[3] >= Duration::from_secs(4) && steps[3] <= Duration::from_secs(8));
        assert!(steps.iter().all(|d| *d <= Duration::from_secs(60)));
        assert!(steps[9] >= Duration::from_secs(30));
        b.reset();
        assert!(b.next_delay() <= Duration::from_secs(1));
    }

    #[test]
    fn heartbeat_units_are_distrusted() {
        assert_eq!(heartbeat_interval(30000), Duration::from_secs(30));
        assert_eq!(heartbeat_interval(5), Duration::from_secs(5));
        assert_eq!(heartbeat_interval(0), Duration::from_secs(1));
        assert_eq!(heartbeat_interval(i64::MAX), Duration::from_secs(300));
    }

    fn upgrade(path: &str, headers: &[(&str, &str)]) -> Request {
        let mut b = Request::builder().uri(path);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn reverse_upgrades_need_token_self_id_and_universal_role() {
        let rules = AcceptRules {
            path: "/onebot/v11/ws".into(),
            token: "s3cret".into(),
        };
        let ok = [("x-self-id", "10001"), ("x-client-role", "Universal")];
        let with = |auth: &'static str| {
            let mut h = ok.to_vec();
            h.push(("authorization", auth));
            h
        };
        assert_eq!(
            check_upgrade(&upgrade("/onebot/v11/ws", &with("Bearer s3cret")), &rules),
            Ok(10001)
        );
        assert_eq!(
            check_upgrade(&upgrade("/onebot/v11/ws/", &with("Token s3cret")), &rules),
            Ok(10001)
        );
        assert_eq!(
            check_upgrade(&upgrade("/onebot/v11/ws?access_token=s3cret", &ok), &rules),
            Ok(10001)
        );
        assert_eq!(
            check_upgrade(&upgrade("/onebot/v11/ws", &ok), &rules).map_err(|e| e.0),
            Err(StatusCode::UNAUTHORIZED)
        );
        assert_eq!(
            check_upgrade(&upgrade("/onebot/v11/ws", &with("Bearer nope")), &rules)
                .map_err(|e| e.0),
            Err(StatusCode::FORBIDDEN)
        );
        assert_eq!(
            check_upgrade(&upgrade("/elsewhere", &with("Bearer s3cret")), &rules).map_err(|e| e.0),
            Err(StatusCode::NOT_FOUND)
        );
        assert_eq!(
            check_upgrade(
                &upgrade("/onebot/v11/ws", &[("authorization", "Bearer s3cret")]),
                &rules
            )
            .map_err(|e| e.0),
            Err(StatusCode::BAD_REQUEST)
        );
        let api_role = [
            ("x-self-id", "1"),
            ("x-client-role", "API"),
            ("authorization", "Bearer s3cret"),
        ];
        assert_eq!(
            check_upgrade(&upgrade("/onebot/v11/ws", &api_role), &rules).map_err(|e| e.0),
            Err(StatusCode::BAD_REQUEST)
        );
        // No token configured, no role header, any path under `/`.
        let open = AcceptRules {
            path: "/".into(),
            token: String::new(),
        };
        assert_eq!(
            check_upgrade(&upgrade("/anything", &[("x-self-id", "7")]), &open),
            Ok(7)
        );
    }
}
