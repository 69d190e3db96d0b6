//! The `post_api` webhook: received messages no handler took are POSTed as
//! JSON, and a JSON answer with `reply` / `shutup` acts on the message.
//!
//! A slow or dead receiver never delays other messages or the HTTP API:
//! reports wait in a bounded queue and go out with bounded concurrency; when
//! the queue is full a report is dropped, counted and logged — never silently.
//! Reports are never retried (spec §5).

mod reply;
mod report;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

pub use reply::{Ignored, parse as parse_answer};
pub use report::v1 as v1_report;

use crate::config::WebhookSection;
use crate::model::InboundMessage;
use crate::pipeline::apply;
use crate::session::SessionHandle;

/// The clonable front of the webhook.
#[derive(Clone)]
pub struct Webhook {
    queue: mpsc::Sender<InboundMessage>,
    stats: Arc<WebhookStats>,
}

/// Counters of what became of reports (for `/admin` and tests).
#[derive(Debug, Default)]
pub struct WebhookStats {
    /// Reports posted and answered (any status).
    pub answered: AtomicU64,
    /// Answers whose decision was carried out.
    pub acted: AtomicU64,
    /// Answers that asked for nothing or were ignored (status, type, body).
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
        };
        tokio::spawn(dispatch(rx, Arc::new(poster), cfg.concurrency.max(1)));
        Ok(Webhook { queue: tx, stats })
    }

    /// Queues a report without waiting; a full queue drops it (counted).
    pub fn report(&self, msg: InboundMessage) {
        if let Err(e) = self.queue.try_send(msg) {
            let total = self.stats.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            let msg = match e {
                mpsc::error::TrySendError::Full(m) | mpsc::error::TrySendError::Closed(m) => m,
            };
            tracing::warn!(msg_id = %msg.id, dropped_total = total, "webhook queue full: report dropped");
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
}

async fn dispatch(mut rx: mpsc::Receiver<InboundMessage>, poster: Arc<Poster>, concurrency: usize) {
    let slots = Arc::new(Semaphore::new(concurrency));
    let mut in_flight = JoinSet::new();
    while let Some(msg) = rx.recv().await {
        // Reap finished posts so the set stays small.
        while in_flight.try_join_next().is_some() {}
        let Ok(slot) = slots.clone().acquire_owned().await else {
            break;
        };
        let poster = poster.clone();
        in_flight.spawn(async move {
            poster.post(msg).await;
            drop(slot);
        });
    }
    while in_flight.join_next().await.is_some() {}
}

impl Poster {
    async fn post(&self, msg: InboundMessage) {
        let started = Instant::now();
        let body = report::v1(&msg);
        let result = self.client.post(self.url.clone()).json(&body).send().await;
        let res = match result {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(msg_id = %msg.id, handler = "webhook", url = %self.url, error = %e, "webhook unreachable");
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
        let body = match res.bytes().await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(msg_id = %msg.id, handler = "webhook", status, error = %e, "webhook answer unreadable");
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        let latency_ms = started.elapsed().as_millis() as u64;
        self.stats.answered.fetch_add(1, Ordering::Relaxed);
        match reply::parse(status, ct.as_deref(), &body) {
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
