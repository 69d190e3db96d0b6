//! The `post_api` webhook and the other ways reports leave the gateway.
//!
//! Received messages no handler took are POSTed as JSON, and a JSON answer
//! with `reply` / `shutup` acts on the message (spec §5). With
//! `api_version = 2` reports carry `post_type`, and the account's own sends
//! and contact events are reported too (spec §7); answers to those are never
//! acted on, so a `reply` to a send report cannot loop. Every v2 report also
//! lands in the `check_event` buffer.
//!
//! A slow or dead receiver never delays other messages or the HTTP API:
//! reports wait in a bounded queue and go out with bounded concurrency; when
//! the queue is full a report is dropped, counted and logged — never silently.
//! Reports are never retried.

mod buffer;
mod reply;
mod report;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::Value;
use tokio::sync::{Semaphore, broadcast, mpsc};
use tokio::task::JoinSet;

pub use buffer::ReportBuffer;
pub use reply::{Ignored, parse as parse_answer};
pub use report::{v1 as v1_report, v2_event, v2_received, v2_sent};

use crate::config::WebhookSection;
use crate::model::InboundMessage;
use crate::pipeline::apply;
use crate::render::Dialect;
use crate::session::{SessionEvent, SessionHandle};

/// What the webhook posts.
enum Job {
    /// A received message; the answer may decide about it.
    Message(Box<InboundMessage>),
    /// A send or event report (v2); the answer is ignored.
    Report { msg_id: String, body: Value },
}

/// The clonable front of the webhook.
#[derive(Clone)]
pub struct Webhook {
    queue: mpsc::Sender<Job>,
    stats: Arc<WebhookStats>,
    pending: Arc<Pending>,
}

/// Reports queued or being posted, so a stopping gateway can wait for them.
#[derive(Default)]
struct Pending {
    count: std::sync::atomic::AtomicUsize,
    none_left: tokio::sync::Notify,
}

impl Pending {
    fn done(&self) {
        if self.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.none_left.notify_waiters();
        }
    }
}

/// Marks one queued report done when dropped.
struct Done(Arc<Pending>);

impl Drop for Done {
    fn drop(&mut self) {
        self.0.done();
    }
}

/// Counters of what became of reports (for `/admin` and tests).
#[derive(Debug, Default)]
pub struct WebhookStats {
    /// Reports posted and answered (any status).
    pub answered: AtomicU64,
    /// Answers whose decision was carried out.
    pub acted: AtomicU64,
    /// Answers that asked for nothing or were ignored (status, type, body,
    /// or an answer to a send/event report).
    pub ignored: AtomicU64,
    /// Posts that failed: connection refused, timeout, unreadable body.
    pub failed: AtomicU64,
    /// Reports dropped because the queue was full.
    pub dropped: AtomicU64,
}

impl WebhookStats {
    /// A plain copy: (answered, acted, ignored, failed, dropped).
    pub fn snapshot(&self) -> [u64; 5] {
        [
            &self.answered,
            &self.acted,
            &self.ignored,
            &self.failed,
            &self.dropped,
        ]
        .map(|c| c.load(Ordering::Relaxed))
    }
}

impl Webhook {
    /// Starts the dispatcher task for `url`.
    ///
    /// # Errors
    /// When the URL or the HTTP client cannot be set up.
    pub fn start(
        url: &str,
        cfg: &WebhookSection,
        dialect: Dialect,
        session: SessionHandle,
    ) -> anyhow::Result<Webhook> {
        let url =
            reqwest::Url::parse(url).with_context(|| format!("post_api {url:?} is not a URL"))?;
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(cfg.connect_timeout_secs))
            .timeout(Duration::from_secs(cfg.timeout_secs))
            .user_agent(concat!("openqq/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot build the webhook's HTTP client")?;
        let (tx, rx) = mpsc::channel(cfg.queue.max(1));
        let stats = Arc::new(WebhookStats::default());
        let poster = Poster {
            client,
            url,
            session,
            stats: stats.clone(),
            dialect,
        };
        let pending = Arc::new(Pending::default());
        tokio::spawn(dispatch(
            rx,
            Arc::new(poster),
            cfg.concurrency.max(1),
            pending.clone(),
        ));
        Ok(Webhook {
            queue: tx,
            stats,
            pending,
        })
    }

    /// Resolves once every report queued so far has been posted and its
    /// answer acted on (a stopping gateway waits here, with a time limit).
    pub async fn drained(&self) {
        loop {
            let none_left = self.pending.none_left.notified();
            tokio::pin!(none_left);
            // Registered before the check, so a last `done` in between
            // still wakes us.
            none_left.as_mut().enable();
            if self.pending.count.load(Ordering::Acquire) == 0 {
                return;
            }
            none_left.await;
        }
    }

    /// Queues a received message without waiting; a full queue drops it
    /// (counted).
    pub fn report(&self, msg: InboundMessage) {
        self.enqueue(Job::Message(Box::new(msg)));
    }

    /// Queues a send or event report (v2) without waiting.
    pub fn report_value(&self, msg_id: String, body: Value) {
        self.enqueue(Job::Report { msg_id, body });
    }

    fn enqueue(&self, job: Job) {
        self.pending.count.fetch_add(1, Ordering::AcqRel);
        if let Err(e) = self.queue.try_send(job) {
            self.pending.done();
            let total = self.stats.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            let id = match e.into_inner() {
                Job::Message(m) => m.id,
                Job::Report { msg_id, .. } => msg_id,
            };
            tracing::warn!(msg_id = %id, dropped_total = total, "webhook queue full: report dropped");
        }
    }

    /// What became of reports so far.
    pub fn stats(&self) -> &WebhookStats {
        &self.stats
    }
}

struct Poster {
    client: reqwest::Client,
    url: reqwest::Url,
    session: SessionHandle,
    stats: Arc<WebhookStats>,
    dialect: Dialect,
}

async fn dispatch(
    mut rx: mpsc::Receiver<Job>,
    poster: Arc<Poster>,
    concurrency: usize,
    pending: Arc<Pending>,
) {
    let slots = Arc::new(Semaphore::new(concurrency));
    let mut in_flight = JoinSet::new();
    while let Some(job) = rx.recv().await {
        // Reap finished posts so the set stays small.
        while in_flight.try_join_next().is_some() {}
        let Ok(slot) = slots.clone().acquire_owned().await else {
            break;
        };
        let poster = poster.clone();
        // Counted done even if posting panics: a stop waits for the count.
        let done = Done(pending.clone());
        in_flight.spawn(async move {
            poster.post(job).await;
            drop(done);
            drop(slot);
        });
    }
    while in_flight.join_next().await.is_some() {}
}

impl Poster {
    async fn post(&self, job: Job) {
        let started = Instant::now();
        let (msg_id, body, message) = match job {
            Job::Message(m) => {
                let body = match self.dialect {
                    Dialect::V1 => report::v1(&m),
                    Dialect::V2 => report::v2_received(&m),
                };
                (m.id.clone(), body, Some(*m))
            }
            Job::Report { msg_id, body } => (msg_id, body, None),
        };
        let res = match self.client.post(self.url.clone()).json(&body).send().await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(msg_id = %msg_id, handler = "webhook", url = %self.url, error = %e, "webhook unreachable");
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        let status = res.status().as_u16();
        let ct = res
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let answer = match res.bytes().await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(msg_id = %msg_id, handler = "webhook", status, error = %e, "webhook answer unreadable");
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        let latency_ms = started.elapsed().as_millis() as u64;
        self.stats.answered.fetch_add(1, Ordering::Relaxed);
        let Some(msg) = message else {
            // The loop guard: an answer to a send or event report is never
            // acted on, whatever it asks (hexsum/Mojo-Webqq#237).
            tracing::debug!(msg_id = %msg_id, status, latency_ms, "report posted");
            self.stats.ignored.fetch_add(1, Ordering::Relaxed);
            return;
        };
        match reply::parse(status, ct.as_deref(), &answer, self.dialect) {
            Ok(Some(decision)) => {
                tracing::info!(msg_id = %msg.id, handler = "webhook", status, latency_ms, ?decision, "message handled");
                apply(&self.session, &msg, &decision, "webhook").await;
                self.stats.acted.fetch_add(1, Ordering::Relaxed);
            }
            Ok(None) => {
                tracing::info!(msg_id = %msg.id, handler = "webhook", status, latency_ms, "reported; no action asked");
                self.stats.ignored.fetch_add(1, Ordering::Relaxed);
            }
            Err(why) => {
                tracing::info!(msg_id = %msg.id, handler = "webhook", status, latency_ms, ?why, "reported; answer ignored");
                self.stats.ignored.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Where reports go: the webhook (if configured) and, in v2, the
/// `check_event` buffer.
#[derive(Clone)]
pub struct Reports {
    pub webhook: Option<Webhook>,
    pub buffer: ReportBuffer,
    pub dialect: Dialect,
    /// The v2 events posted to the webhook (`post_event_list`).
    pub post_events: Arc<Vec<String>>,
}

impl Reports {
    /// A received message no handler took.
    pub fn received(&self, msg: InboundMessage) {
        if self.dialect == Dialect::V2 {
            self.buffer.push(report::v2_received(&msg));
        }
        match &self.webhook {
            Some(w) => w.report(msg),
            None => {
                tracing::info!(msg_id = %msg.id, kind = msg.kind.v1_type(), handler = "none", "no handler took the message")
            }
        }
    }

    /// Turns the session's own sends and events into v2 reports until the
    /// session goes away. v1 reports neither: it returns at once, dropping
    /// the subscription.
    pub async fn run(self, session: SessionHandle, mut events: broadcast::Receiver<SessionEvent>) {
        if self.dialect != Dialect::V2 {
            return;
        }
        loop {
            let e = match events.recv().await {
                Ok(e) => e,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(
                        missed = n,
                        "reports fell behind: {n} send/event reports lost"
                    );
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            match e {
                SessionEvent::Sent(s) => {
                    let body = report::v2_sent(&s, &session.contacts());
                    self.buffer.push(body.clone());
                    if let Some(w) = &self.webhook {
                        w.report_value(s.msg_id.to_string(), body);
                    }
                }
                SessionEvent::Event(ev) => {
                    let body = report::v2_event(&ev);
                    if ev.buffered() {
                        self.buffer.push(body.clone());
                    }
                    if let Some(w) = &self.webhook
                        && self.post_events.iter().any(|n| n == ev.name())
                    {
                        w.report_value(ev.name().to_string(), body);
                    }
                }
            }
        }
    }
}
