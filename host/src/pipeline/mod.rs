//! The inbound pipeline: every received message goes through the handlers
//! in order (native handlers, then the scripts), and the first decision ends
//! the chain; a message no handler took goes to the `Fallback` (the
//! `post_api` webhook), so nothing is lost.
//!
//! A chat always goes to the same one of `LANES` lanes (`lane.rs`), which run
//! in parallel. Within a lane, chats are decided concurrently: one chat whose
//! decision waits (a bot waiting on an HTTP call) holds up only its own later
//! messages. A chat's messages keep their order: the next is decided once the
//! previous decision is made and its reply and mute are started (`Effects`);
//! the lane does not wait while QQ confirms them. The account's own sends
//! never come back here: the session only forwards what it received.

mod dry_run;
mod lane;
mod traced;

use std::future::Future;
use std::hash::{Hash, Hasher};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use async_trait::async_trait;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

use crate::model::{Decided, InboundMessage};
use crate::session::{Gone, Inbound, SessionHandle};
use crate::trace::{Step, Traces};
use lane::lane;

pub use dry_run::{DryRun, DryRunAnswer, Suppressed};

/// Lanes handle chats in parallel; a chat always maps to the same lane.
pub const LANES: usize = 8;
/// Messages a lane holds (being decided, or waiting behind their chat's),
/// and again as many in its channel, before the session waits
/// (back-pressure): memory stays bounded when a bot is slow.
const LANE_QUEUE: usize = 1024;
/// Messages one chat may have waiting behind its decision: half a lane, so
/// a burst in one busy group is still decided by the bots, while one chat
/// whose bot is slower than its traffic cannot fill its lane and so hold
/// up every other chat. Past it, the chat's new messages go straight to
/// the fallback (the webhook), counted in a warning.
const CHAT_LINE: usize = LANE_QUEUE / 2;
/// Effects under way per lane (replies QQ has not confirmed yet) before
/// the lane waits for one to end: memory stays bounded when QQ is slow.
const IN_FLIGHT: usize = 1024;

/// Work a message leaves once it is decided — a bot's sends, the reply,
/// the mute — in the order it must reach QQ.
///
/// The lane starts each future (polls it once) in this order as soon as
/// the decision is made, before the chat's next message is decided, and
/// does not wait for them to end. So the
/// work must be handed to QQ (the outbox, the backend's link) on its first
/// poll: whatever it awaits after that is confirmation.
///
/// In a dry run (`Effects::dry_run`) the sink records instead: whoever
/// leaves work says what it would do (`would`), and work pushed anyway is
/// dropped unpolled — a future does nothing until polled.
#[derive(Default)]
pub struct Effects {
    work: Vec<BoxFuture<'static, ()>>,
    /// `Some` in a dry run: what the work would have been, in order.
    dry: Option<Vec<Suppressed>>,
}

impl Effects {
    /// A sink that carries out nothing and records what it is told.
    pub fn dry_run() -> Effects {
        Effects {
            work: Vec::new(),
            dry: Some(Vec::new()),
        }
    }

    pub fn is_dry_run(&self) -> bool {
        self.dry.is_some()
    }

    pub fn push(&mut self, work: impl Future<Output = ()> + Send + 'static) {
        if self.dry.is_none() {
            self.work.push(Box::pin(work));
        }
    }

    /// In a dry run, records what would have been done (and says so in the
    /// trace); outside one, nothing.
    pub fn would(&mut self, trace: &crate::trace::Handle, what: Suppressed) {
        if let Some(dry) = &mut self.dry {
            trace.step(|| Step::note(format!("not done: {}", what.describe())));
            dry.push(what);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.work.is_empty()
    }
}

/// Something that may decide what to do with a message (the scripts, or a
/// native handler in benchmarks and tests).
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    /// `None` passes the message on. Work the handler leaves either way (a
    /// bot's sends) goes into `effects`, to be started after it returns.
    async fn handle(&self, msg: &InboundMessage, effects: &mut Effects) -> Option<Decided>;
}

/// Where a message goes when no handler took it.
pub trait Fallback: Send + Sync + 'static {
    fn pass(&self, msg: InboundMessage);

    /// What `pass` would do with `msg`, said without doing it (a dry run):
    /// for the webhook, the report it would be posted.
    fn would_pass(&self, _msg: &InboundMessage) -> serde_json::Value {
        serde_json::Value::Null
    }
}

/// The pipeline, before its lanes start.
pub struct Pipeline {
    chain: Arc<Chain>,
    traces: Traces,
    journal: Option<crate::journal::Journal>,
}

/// What every lane shares.
struct Chain {
    session: SessionHandle,
    handlers: Vec<Arc<dyn Handler>>,
    fallback: Arc<dyn Fallback>,
}

impl Pipeline {
    pub fn new(
        session: SessionHandle,
        handlers: Vec<Arc<dyn Handler>>,
        fallback: Arc<dyn Fallback>,
    ) -> Pipeline {
        Pipeline {
            chain: Arc::new(Chain {
                session,
                handlers,
                fallback,
            }),
            traces: Traces::off(),
            journal: None,
        }
    }

    /// Records every message that comes in, as the bots see it
    /// (`[journal]`; never waits: see `crate::journal`).
    pub fn journaled(mut self, journal: Option<crate::journal::Journal>) -> Pipeline {
        self.journal = journal;
        self
    }

    /// Begins a trace for every message that comes in (`crate::trace`).
    pub fn traced(mut self, traces: Traces) -> Pipeline {
        self.traces = traces;
        self
    }

    /// Runs typed messages through the same chain without effects
    /// (`/admin/dry-run`).
    pub fn dry_run(&self) -> DryRun {
        DryRun::new(self.chain.clone(), self.traces.clone())
    }

    /// Starts the lanes. Messages go in through the returned `Lanes` (the
    /// session hands them over directly); the handle ends once every
    /// `Lanes` is dropped and the lanes have finished what they hold.
    pub fn start(self) -> (Lanes, JoinHandle<()>) {
        let mut senders = Vec::with_capacity(LANES);
        let mut workers = JoinSet::new();
        for _ in 0..LANES {
            let (tx, rx) = mpsc::channel(LANE_QUEUE);
            senders.push(tx);
            workers.spawn(lane(rx, self.chain.clone()));
        }
        let done = tokio::spawn(async move {
            while let Some(ended) = workers.join_next().await {
                // A lane only ends with its channel; a panic outside its
                // guards is a bug that stops its chats, so say so.
                if let Err(e) = ended {
                    tracing::error!(error = %e, "a pipeline lane ended abnormally: its chats get no more messages");
                }
            }
        });
        (
            Lanes {
                senders,
                traces: self.traces,
                journal: self.journal,
            },
            done,
        )
    }
}

/// The way into the lanes: each message to its chat's lane.
pub struct Lanes {
    senders: Vec<mpsc::Sender<InboundMessage>>,
    traces: Traces,
    journal: Option<crate::journal::Journal>,
}

impl Inbound for Lanes {
    async fn deliver(&self, mut msg: InboundMessage) -> Result<(), Gone> {
        msg.trace = self.traces.begin(|| traced::header(&msg));
        if let Some(j) = &self.journal {
            j.record(&msg);
        }
        let lane = &self.senders[spread(&msg.chat_key(), self.senders.len())];
        lane.send(msg).await.map_err(|_| Gone)
    }
}

/// Which of `n` places (lanes, a script's instances) a chat belongs to:
/// always the same one for the same chat. With `n` dividing `LANES`, all the
/// chats of one lane share one place, so a lane never waits for another.
pub fn spread(chat: &impl Hash, n: usize) -> usize {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    chat.hash(&mut h);
    (h.finish() % n.max(1) as u64) as usize
}

impl Chain {
    /// Runs one message through the chain; returns the work it leaves.
    ///
    /// A panic (a bug) must not end the lane: the dispatcher would stop with
    /// it and every later message would be lost. A panic while deciding
    /// passes the message on to the fallback.
    async fn handle_one(&self, msg: InboundMessage) -> Effects {
        let mut effects = Effects::default();
        let decided = AssertUnwindSafe(self.decide(&msg, &mut effects))
            .catch_unwind()
            .await;
        match decided {
            Ok(Some(decided)) => {
                tracing::info!(msg_id = %msg.id, handler = %decided.by, decision = ?decided.decision, "message handled");
                effects.push(self.session.act(&msg, decided));
            }
            // The fallback logs its own line.
            Ok(None) => self.fallback.pass(msg),
            Err(panic) => {
                let text = panic_text(&*panic);
                tracing::error!(msg_id = %msg.id, panic = %text, "deciding about the message panicked; passed on");
                msg.trace
                    .step(|| Step::note(format!("deciding panicked ({text}); passed on")));
                self.fallback.pass(msg);
            }
        }
        effects
    }

    /// The first handler's decision, if any handler takes the message.
    async fn decide(&self, msg: &InboundMessage, effects: &mut Effects) -> Option<Decided> {
        for h in &self.handlers {
            if let Some(decided) = h.handle(msg, effects).await {
                return Some(decided);
            }
        }
        None
    }
}

/// A panic's message, when it has one.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
