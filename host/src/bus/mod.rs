//! The fleet bus: a gateway's reports on NATS JetStream, workers' answers
//! and Openqq API calls back from any machine (`[bus]`, README "Fleet").
//!
//! What goes out is what `post_api` gets, as the same JSON: the received
//! messages no bot took (or all of them, `messages = "all"`), and in v2 the
//! events and the account's own sends, on subjects named by account and
//! kind (`subject.rs`), each with a stable id as `Nats-Msg-Id`. Reports wait
//! in a bounded queue (`queue.rs`) that one task publishes (`publisher.rs`):
//! while NATS is unreachable the gateway serves on, the queue holds up to
//! `[bus] buffer` reports (past it new ones are dropped, counted in
//! `/metrics`), the client reconnects with backoff, and the queue goes out
//! on return. What comes back: answers (`answers.rs`, carried out at most
//! once per report thanks to `ledger.rs`) and API calls (`commands.rs`,
//! through the gateway's own `/openqq/*` router).
//!
//! Owns the NATS client and its tasks. Must not block or wait on a caller:
//! `message`, `sent` and `event` only queue. Called by `webhook::Reports`
//! (the fallback and the v2 report task) and, with `messages = "all"`, by
//! `handler::PublishAll`; started and stopped by `Gateway`.

mod answers;
mod commands;
mod connect;
mod handler;
mod ledger;
mod publisher;
mod queue;
mod stats;
mod subject;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use async_nats::jetstream;
use serde_json::Value;
use tokio::task::JoinHandle;

pub use handler::PublishAll;
pub use stats::BusStats;
pub use subject::{ACCOUNT, ANSWER, REPORT, STATUS, stream_subjects};

use crate::config::{BusMessages, BusSection};
use crate::model::{ChatKind, Event, InboundMessage, SendTarget, SentMessage};
use crate::render::Dialect;
use crate::session::SessionHandle;
use crate::throttle::Throttle;
use crate::trace::Step;
use ledger::Ledger;
use queue::{Queue, Report};
use subject::Subjects;

/// The clonable front of the bus.
#[derive(Clone)]
pub struct Bus {
    shared: Arc<Shared>,
}

/// What the front and the tasks share.
struct Shared {
    subjects: Subjects,
    dialect: Dialect,
    mode: BusMessages,
    queue: Queue,
    /// A std mutex: held for an insert or a take, never across `.await`.
    ledger: Mutex<Ledger>,
    stats: Arc<BusStats>,
    /// Events reported so far (their ids).
    events: AtomicU64,
    client: async_nats::Client,
    /// The publisher, the answer and API subscriptions: ended by `stop`.
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Shared {
    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn note_buffered(&self) {
        self.stats
            .buffered
            .store(self.queue.len(), Ordering::Relaxed);
    }

    fn tasks(&self) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.tasks.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Bus {
    /// Sets up the client (it connects in the background: the gateway
    /// starts whether NATS is up or not), the stream's settings, the
    /// publisher and the answer subscription. The account is the QQ
    /// number the session is logged in as.
    ///
    /// # Errors
    /// An unreadable creds file, an address the client cannot parse.
    pub async fn start(
        cfg: &BusSection,
        dialect: Dialect,
        session: &SessionHandle,
    ) -> anyhow::Result<Bus> {
        let account = session.contacts().user.qq.0;
        let subjects = Subjects::new(&cfg.prefix, account, crate::clock::unix_now_ms());
        let client = connect::connect(cfg, &format!("openqq-{account}")).await?;
        let js = jetstream::ContextBuilder::new()
            .timeout(publisher::ACK_WAIT)
            .build(client.clone());
        let stream = jetstream::stream::Config {
            name: cfg.stream.clone(),
            subjects: stream_subjects(&cfg.prefix),
            max_age: Duration::from_secs(cfg.max_age_hours * 3600),
            duplicate_window: Duration::from_secs(120),
            storage: jetstream::stream::StorageType::File,
            ..Default::default()
        };
        let answers = client
            .subscribe(subjects.answer())
            .await
            .context("cannot subscribe to the bus's answer subject")?;
        let shared = Arc::new(Shared {
            subjects,
            dialect,
            mode: cfg.messages,
            queue: Queue::new(cfg.buffer),
            ledger: Mutex::new(Ledger::new(cfg.answers_kept)),
            stats: Arc::new(BusStats::default()),
            events: AtomicU64::new(0),
            client: client.clone(),
            tasks: Mutex::new(Vec::new()),
        });
        let publisher = tokio::spawn(publisher::run(shared.clone(), js, stream));
        let answerer = tokio::spawn(answers::run(
            shared.clone(),
            client,
            session.clone(),
            answers,
        ));
        shared.tasks().extend([publisher, answerer]);
        tracing::info!(url = %cfg.url, stream = %cfg.stream, prefix = %cfg.prefix, account, "bus: reports go to NATS JetStream");
        Ok(Bus { shared })
    }

    /// Takes Openqq API calls on `<prefix>.<account>.api`, answered by
    /// the gateway's `/openqq/*` routes over `state`.
    ///
    /// # Errors
    /// When the subscription cannot be made.
    pub async fn serve_api(&self, state: crate::api::AppState) -> anyhow::Result<()> {
        let token = state.access_token.clone();
        let router = commands::router(state);
        let s = &self.shared;
        let sub = s
            .client
            .subscribe(s.subjects.api())
            .await
            .context("cannot subscribe to the bus's API subject")?;
        let task = tokio::spawn(commands::run(
            s.clone(),
            s.client.clone(),
            router,
            token,
            sub,
        ));
        s.tasks().push(task);
        Ok(())
    }

    /// Which received messages go on the bus.
    pub fn mode(&self) -> BusMessages {
        self.shared.mode
    }

    /// The counters (`/metrics`).
    pub fn stats(&self) -> Arc<BusStats> {
        self.shared.stats.clone()
    }

    /// The account's subject for API calls (`<prefix>.<account>.api`).
    pub fn api_subject(&self) -> String {
        self.shared.subjects.api()
    }

    /// Whether the client is connected to NATS right now.
    pub fn is_connected(&self) -> bool {
        self.shared.client.connection_state() == async_nats::connection::State::Connected
    }

    /// Resolves once the client is connected and the server has every
    /// subscription made so far (tests, and tools that must not race the
    /// first connection).
    pub async fn ready(&self) {
        loop {
            if self.is_connected() && self.shared.client.flush().await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Messages published and not answered yet (held for an answer).
    pub fn awaiting_answers(&self) -> usize {
        self.shared.ledger().waiting()
    }

    /// Queues a received message's report, and keeps the message for an
    /// answer. Never waits; past the buffer's bound it is dropped, counted.
    pub fn message(&self, msg: &InboundMessage) {
        let s = &self.shared;
        let body = match s.dialect {
            Dialect::V1 => crate::webhook::v1_report(msg),
            Dialect::V2 => crate::webhook::v2_received(msg),
        };
        let id = s.subjects.message_id(&msg.id);
        let report = Report {
            subject: s.subjects.message(msg.kind),
            id: id.clone(),
            body: to_bytes(&body),
            answer: Some(s.subjects.answer()),
        };
        // In the book before it can be published: an answer may come fast.
        s.ledger().insert(id, msg.clone());
        if self.push(report) {
            msg.trace.step(|| Step::note("published to the bus"));
        } else {
            msg.trace.step(|| Step::Fallback {
                detail: "the bus's buffer was full: report dropped".into(),
                dropped: true,
            });
        }
    }

    /// Queues a v2 send report (`body`, as `post_api` gets it).
    pub fn sent(&self, s: &SentMessage, body: &Value) {
        let sh = &self.shared;
        let kind = match s.target {
            SendTarget::Friend { .. } => ChatKind::Friend,
            SendTarget::Group { .. } => ChatKind::Group,
            SendTarget::Discuss { .. } => ChatKind::Discuss,
            SendTarget::GroupSess { .. } | SendTarget::DiscussSess { .. } => ChatKind::Sess,
        };
        self.push(Report {
            subject: sh.subjects.sent(kind),
            id: sh.subjects.sent_id(s.msg_id.0),
            body: to_bytes(body),
            answer: None,
        });
    }

    /// Queues a v2 event report (`body`, as `post_api` gets it).
    pub fn event(&self, e: &Event, body: &Value) {
        let sh = &self.shared;
        let seq = sh.events.fetch_add(1, Ordering::Relaxed);
        self.push(Report {
            subject: sh.subjects.event(e.name()),
            id: sh.subjects.event_id(seq),
            body: to_bytes(body),
            answer: None,
        });
    }

    /// Queues a report; false when the buffer was full (dropped, counted,
    /// warned of once per interval).
    fn push(&self, r: Report) -> bool {
        static DROPPED: Throttle = Throttle::new(Duration::from_secs(10));
        let s = &self.shared;
        let pushed = match s.queue.push(r) {
            Ok(()) => true,
            Err(r) => {
                let total = s.stats.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if let Some(held_back) = DROPPED.allow() {
                    tracing::warn!(report = %r.id, dropped_total = total, held_back, "bus buffer full (NATS unreachable or slow): report dropped");
                }
                false
            }
        };
        s.note_buffered();
        pushed
    }

    /// Resolves once every report queued so far is in the stream.
    pub async fn drained(&self) {
        self.shared.queue.drained().await;
    }

    /// Stops: no more reports are taken, those queued are published until
    /// `deadline`, then the tasks end. True when nothing was left behind.
    pub async fn stop(&self, deadline: tokio::time::Instant) -> bool {
        let s = &self.shared;
        s.queue.close();
        let drained = tokio::time::timeout_at(deadline, s.queue.drained())
            .await
            .is_ok();
        if !drained {
            tracing::warn!(
                left = s.queue.len(),
                "bus: stopping with reports not published; they are lost"
            );
        }
        let _ = tokio::time::timeout_at(deadline, s.client.flush()).await;
        for t in s.tasks().drain(..) {
            t.abort();
        }
        drained
    }
}

fn to_bytes(v: &Value) -> bytes::Bytes {
    // Serialising a `Value` cannot fail (its keys are strings).
    serde_json::to_vec(v).unwrap_or_default().into()
}
