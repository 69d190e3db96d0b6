//! The `post_api` webhook and the other ways reports leave the gateway.
//!
//! Received messages no handler took are POSTed as JSON, and a JSON answer
//! with `reply` / `shutup` acts on the message (spec §5). With
//! `api_version = 2` reports carry `post_type`, and the account's own sends
//! and contact events are reported too (spec §7); answers to those are never
//! acted on, so a `reply` to a send report cannot loop. Every v2 report also
//! lands in the `check_event` buffer.
//!
//! A slow or dead receiver never delays other messages or the HTTP API, and
//! a slow one delays reports rather than losing them: they wait in the
//! backlog (`backlog.rs`), in memory, one line per chat, up to
//! `[webhook] backlog` reports and `backlog_mb` MiB; only past those bounds
//! is a report dropped — counted (`/admin/webhook`) and logged at most once
//! per interval. A chat has at most one report out at a time: the next is
//! posted once the answer to the previous one was acted on, so a receiver
//! sees a chat's reports in order and their replies go out in order;
//! different chats go side by side, up to `concurrency` posts. Reports are
//! never retried (a failed post is counted and the chat moves on).

mod backlog;
mod buffer;
mod reply;
mod report;
mod reports;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;

pub use buffer::ReportBuffer;
pub use reply::{Ignored, parse as parse_answer};
pub use report::{v1 as v1_report, v2_event, v2_received, v2_sent};
pub use reports::Reports;

use crate::config::WebhookSection;
use crate::histogram::{Histogram, PostTime};
use crate::model::{ChatKind, Decided, DecidedBy, InboundMessage, SendTarget};
use crate::render::Dialect;
use crate::session::SessionHandle;
use crate::throttle::Throttle;
use crate::trace::Step;
use backlog::{Backlog, Bounds, Full};

/// How often at most each webhook warning is logged (with the count held
/// back): a dead receiver or a full backlog costs one line per interval.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// The line a report waits in: a chat (`InboundMessage::chat_key`'s key),
/// or `None` for what concerns the whole account (login, stop, state).
type Line = Option<(ChatKind, u64, u64)>;

/// The line of a send report: the chat it went to, keyed as the messages
/// received in that chat are.
fn target_line(t: &SendTarget) -> Line {
    Some(match t {
        SendTarget::Friend { qq, .. } => (ChatKind::Friend, qq.0, 0),
        SendTarget::Group { gnumber, .. } => (ChatKind::Group, gnumber.0, 0),
        SendTarget::Discuss { key, .. } => (ChatKind::Discuss, *key, 0),
        SendTarget::GroupSess { gnumber, qq, .. } => (ChatKind::Sess, qq.0, gnumber.0),
        SendTarget::DiscussSess { qq, .. } => (ChatKind::Sess, qq.0, 0),
    })
}

/// What the webhook posts.
enum Job {
    /// A received message; the answer may decide about it.
    Message(Box<InboundMessage>),
    /// A send or event report (v2), already serialised; the answer is
    /// ignored.
    Report { msg_id: String, body: Vec<u8> },
}

impl Job {
    /// About how many bytes the job holds in memory: its text plus the
    /// fixed size of its parts.
    fn size(&self) -> usize {
        const PER_REPORT: usize = std::mem::size_of::<(Job, usize)>() + 16;
        match self {
            Job::Message(m) => {
                let person = |p: &crate::model::Person| p.id.len() + p.name.len();
                let chat = |c: &Option<crate::model::ChatRef>| {
                    c.as_ref().map_or(0, |c| c.id.len() + c.name.len())
                };
                PER_REPORT
                    + std::mem::size_of::<InboundMessage>()
                    + m.id.len()
                    + m.content.len()
                    + person(&m.sender)
                    + person(&m.receiver)
                    + chat(&m.group)
                    + chat(&m.discuss)
            }
            Job::Report { msg_id, body } => PER_REPORT + msg_id.len() + body.len(),
        }
    }

    fn msg_id(&self) -> &str {
        match self {
            Job::Message(m) => &m.id,
            Job::Report { msg_id, .. } => msg_id,
        }
    }
}

/// What the front and the dispatcher share.
struct Shared {
    /// A std mutex: held for a push, a take or a release, never across
    /// `.await`.
    backlog: Mutex<Backlog<Line, Job>>,
    /// A report was queued or a chat released (one waiter: the dispatcher).
    wake: Notify,
    /// Every front is gone: the dispatcher ends once the backlog is empty.
    closed: AtomicBool,
    stats: WebhookStats,
    pending: Pending,
    /// Past this many waiting reports the receiver counts as behind (logged).
    behind_mark: usize,
}

impl Shared {
    fn backlog(&self) -> std::sync::MutexGuard<'_, Backlog<Line, Job>> {
        self.backlog.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next report to post, waiting for one; `None` once closed and
    /// empty.
    async fn next(&self) -> Option<(Line, Job)> {
        loop {
            {
                let mut b = self.backlog();
                if let Some(next) = b.take() {
                    return Some(next);
                }
                if b.is_empty() && self.closed.load(Ordering::Acquire) {
                    return None;
                }
            }
            // `notify_one` keeps a permit when nobody waits yet, so a push
            // or release between the look above and this wait is not missed.
            self.wake.notified().await;
        }
    }
}

/// The clonable front of the webhook.
#[derive(Clone)]
pub struct Webhook {
    shared: Arc<Shared>,
    _closer: Arc<Closer>,
}

/// Tells the dispatcher that no report can come any more, when the last
/// front is dropped.
struct Closer(Arc<Shared>);

impl Drop for Closer {
    fn drop(&mut self) {
        self.0.closed.store(true, Ordering::Release);
        self.0.wake.notify_one();
    }
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

/// Gives a chat's line back and marks its report done when dropped — also
/// when posting panicked, so neither the chat nor a stop waits for ever.
struct Release {
    shared: Arc<Shared>,
    line: Line,
}

impl Drop for Release {
    fn drop(&mut self) {
        self.shared.backlog().release(&self.line);
        self.shared.pending.done();
        self.shared.wake.notify_one();
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
    /// Reports dropped because the backlog was at its bound.
    pub dropped: AtomicU64,
    /// Answers by status class: 1xx, 2xx, 3xx, 4xx, 5xx (`/metrics`).
    pub by_status: [AtomicU64; 5],
    /// Answered posts' times, from sending to the answer read (`/metrics`).
    pub post_time: Histogram<PostTime>,
}

impl WebhookStats {
    /// A plain copy: (answered, acted, ignored, failed, dropped).
    ///
    /// Read before the answers by status (`by_status`, `post_time`): the
    /// acquire here pairs with `answered`'s release.
    pub fn snapshot(&self) -> [u64; 5] {
        let answered = self.answered.load(Ordering::Acquire);
        let [acted, ignored, failed, dropped] =
            [&self.acted, &self.ignored, &self.failed, &self.dropped]
                .map(|c| c.load(Ordering::Relaxed));
        [answered, acted, ignored, failed, dropped]
    }

    /// Counts an answer by its status class, and its post's time. The
    /// total goes last (released after them; `snapshot` acquires it first),
    /// so a scrape never shows more answers than answers by status.
    fn answered(&self, status: u16, took: Duration) {
        if let Some(class) = self
            .by_status
            .get(usize::from(status / 100).wrapping_sub(1))
        {
            class.fetch_add(1, Ordering::Relaxed);
        }
        self.post_time.record(took);
        self.answered.fetch_add(1, Ordering::Release);
    }
}

/// The backlog right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BacklogStats {
    /// Reports waiting (not counting those being posted).
    pub waiting: usize,
    /// Their approximate size in memory.
    pub bytes: usize,
    /// The most reports that waited at once.
    pub peak: usize,
    /// The bounds: past either, reports are dropped.
    pub max_reports: usize,
    pub max_bytes: usize,
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
        let bounds = Bounds {
            count: cfg.backlog,
            bytes: usize::try_from(cfg.backlog_mb.saturating_mul(1 << 20)).unwrap_or(usize::MAX),
        };
        let shared = Arc::new(Shared {
            backlog: Mutex::new(Backlog::new(bounds)),
            wake: Notify::new(),
            closed: AtomicBool::new(false),
            stats: WebhookStats::default(),
            pending: Pending::default(),
            behind_mark: cfg.queue.max(1),
        });
        let poster = Poster {
            client,
            url,
            session,
            shared: shared.clone(),
            dialect,
        };
        tokio::spawn(dispatch(
            shared.clone(),
            Arc::new(poster),
            cfg.concurrency.max(1),
        ));
        Ok(Webhook {
            _closer: Arc::new(Closer(shared.clone())),
            shared,
        })
    }

    /// Resolves once every report queued so far has been posted and its
    /// answer acted on (a stopping gateway waits here, with a time limit).
    pub async fn drained(&self) {
        let pending = &self.shared.pending;
        loop {
            let none_left = pending.none_left.notified();
            tokio::pin!(none_left);
            // Registered before the check, so a last `done` in between
            // still wakes us.
            none_left.as_mut().enable();
            if pending.count.load(Ordering::Acquire) == 0 {
                return;
            }
            none_left.await;
        }
    }

    /// Queues a received message without waiting; past the backlog's bounds
    /// it is dropped (counted).
    pub fn report(&self, msg: InboundMessage) {
        self.enqueue(Some(msg.chat_key()), Job::Message(Box::new(msg)));
    }

    /// Queues a send or event report (v2) without waiting, in `line`.
    fn report_value(&self, line: Line, msg_id: String, body: &Value) {
        // Serialising a `Value` cannot fail (its keys are strings).
        let body = serde_json::to_vec(body).unwrap_or_default();
        self.enqueue(line, Job::Report { msg_id, body });
    }

    fn enqueue(&self, line: Line, job: Job) {
        static BEHIND: Throttle = Throttle::new(WARN_EVERY);
        static DROPPED: Throttle = Throttle::new(WARN_EVERY);
        let s = &self.shared;
        let size = job.size();
        s.pending.count.fetch_add(1, Ordering::AcqRel);
        let pushed = {
            let mut b = s.backlog();
            b.push(line, job, size)
                .map(|()| (b.len(), b.bytes()))
                .map_err(|(job, full)| (job, full, b.bounds()))
        };
        match pushed {
            Ok((waiting, bytes)) => {
                s.wake.notify_one();
                if waiting > s.behind_mark
                    && let Some(held_back) = BEHIND.allow()
                {
                    tracing::warn!(
                        waiting,
                        bytes,
                        held_back,
                        "webhook receiver is behind: reports wait (delayed, not lost)"
                    );
                }
            }
            Err((job, full, bounds)) => {
                s.pending.done();
                if let Job::Message(m) = &job {
                    m.trace.step(|| Step::Fallback {
                        detail: "the webhook's backlog was full: report dropped".into(),
                        dropped: true,
                    });
                }
                let total = s.stats.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if let Some(held_back) = DROPPED.allow() {
                    let bound = match full {
                        Full::Count => format!("{} reports", bounds.count),
                        Full::Bytes => format!("{} bytes", bounds.bytes),
                    };
                    tracing::warn!(msg_id = %job.msg_id(), dropped_total = total, held_back, %bound, "webhook backlog full: report dropped");
                }
            }
        }
    }

    /// What became of reports so far.
    pub fn stats(&self) -> &WebhookStats {
        &self.shared.stats
    }

    /// The backlog right now.
    pub fn backlog(&self) -> BacklogStats {
        let b = self.shared.backlog();
        BacklogStats {
            waiting: b.len(),
            bytes: b.bytes(),
            peak: b.peak(),
            max_reports: b.bounds().count,
            max_bytes: b.bounds().bytes,
        }
    }
}

/// The `/admin/webhook` answer: the webhook's counters and backlog (or
/// `"post_api": false`), and what the v2 `check_event` buffer dropped.
pub fn admin_status(webhook: Option<&Webhook>, buffer: &ReportBuffer) -> Value {
    let mut v = match webhook {
        Some(w) => {
            let [answered, acted, ignored, failed, dropped] = w.stats().snapshot();
            let b = w.backlog();
            json!({
                "post_api": true,
                "answered": answered, "acted": acted, "ignored": ignored,
                "failed": failed, "dropped": dropped,
                "waiting": b.waiting, "waiting_bytes": b.bytes, "peak_waiting": b.peak,
                "max_waiting": b.max_reports, "max_waiting_bytes": b.max_bytes,
            })
        }
        None => json!({"post_api": false}),
    };
    v["check_event_dropped"] = json!(buffer.dropped());
    v
}

struct Poster {
    client: reqwest::Client,
    url: reqwest::Url,
    session: SessionHandle,
    shared: Arc<Shared>,
    dialect: Dialect,
}

async fn dispatch(shared: Arc<Shared>, poster: Arc<Poster>, concurrency: usize) {
    let slots = Arc::new(Semaphore::new(concurrency));
    let mut in_flight = JoinSet::new();
    loop {
        // Reap finished posts so the set stays small.
        while in_flight.try_join_next().is_some() {}
        let Ok(slot) = slots.clone().acquire_owned().await else {
            break;
        };
        let Some((line, job)) = shared.next().await else {
            break;
        };
        let poster = poster.clone();
        let release = Release {
            shared: shared.clone(),
            line,
        };
        in_flight.spawn(async move {
            poster.post(job).await;
            // The chat's next report may go only now: after this answer
            // was acted on.
            drop(release);
            drop(slot);
        });
    }
    while in_flight.join_next().await.is_some() {}
}

impl Poster {
    async fn post(&self, job: Job) {
        static UNREACHABLE: Throttle = Throttle::new(WARN_EVERY);
        static UNREADABLE: Throttle = Throttle::new(WARN_EVERY);
        let stats = &self.shared.stats;
        let started = Instant::now();
        let (msg_id, body, message): (String, Vec<u8>, Option<InboundMessage>) = match job {
            Job::Message(m) => {
                let body = match self.dialect {
                    Dialect::V1 => report::v1(&m),
                    Dialect::V2 => report::v2_received(&m),
                };
                let body = serde_json::to_vec(&body).unwrap_or_default();
                (m.id.clone(), body, Some(*m))
            }
            Job::Report { msg_id, body } => (msg_id, body, None),
        };
        let res = match self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => {
                stats.failed.fetch_add(1, Ordering::Relaxed);
                if let Some(m) = &message {
                    posted(m, None, started, false, Some(format!("post failed: {e}")));
                }
                if let Some(held_back) = UNREACHABLE.allow() {
                    tracing::warn!(msg_id = %msg_id, handler = "webhook", url = %self.url, error = %e, held_back, "webhook unreachable");
                }
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
                stats.failed.fetch_add(1, Ordering::Relaxed);
                if let Some(m) = &message {
                    posted(
                        m,
                        Some(status),
                        started,
                        false,
                        Some(format!("answer unreadable: {e}")),
                    );
                }
                if let Some(held_back) = UNREADABLE.allow() {
                    tracing::warn!(msg_id = %msg_id, handler = "webhook", status, error = %e, held_back, "webhook answer unreadable");
                }
                return;
            }
        };
        let took = started.elapsed();
        let latency_ms = took.as_millis() as u64;
        stats.answered(status, took);
        let Some(msg) = message else {
            // The loop guard: an answer to a send or event report is never
            // acted on, whatever it asks (hexsum/Mojo-Webqq#237).
            tracing::debug!(msg_id = %msg_id, status, latency_ms, "report posted");
            stats.ignored.fetch_add(1, Ordering::Relaxed);
            return;
        };
        match reply::parse(status, ct.as_deref(), &answer, self.dialect) {
            Ok(Some(decision)) => {
                tracing::info!(msg_id = %msg.id, handler = "webhook", status, latency_ms, ?decision, "message handled");
                posted(&msg, Some(status), started, true, None);
                let decided = Decided {
                    by: DecidedBy::Webhook,
                    decision,
                };
                // Awaited: the chat's next report waits for this answer's
                // reply, so a receiver's replies reach QQ in its order.
                self.session.act(&msg, decided).await;
                stats.acted.fetch_add(1, Ordering::Relaxed);
            }
            Ok(None) => {
                tracing::info!(msg_id = %msg.id, handler = "webhook", status, latency_ms, "reported; no action asked");
                posted(&msg, Some(status), started, false, None);
                stats.ignored.fetch_add(1, Ordering::Relaxed);
            }
            Err(why) => {
                tracing::info!(msg_id = %msg.id, handler = "webhook", status, latency_ms, ?why, "reported; answer ignored");
                posted(
                    &msg,
                    Some(status),
                    started,
                    false,
                    Some(format!("answer ignored: {why}")),
                );
                stats.ignored.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// The webhook's step in a message's trace.
fn posted(
    msg: &InboundMessage,
    status: Option<u16>,
    started: Instant,
    acted: bool,
    detail: Option<String>,
) {
    msg.trace.step(|| Step::Webhook {
        status,
        ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        acted,
        detail,
    });
}
