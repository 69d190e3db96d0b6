//! The inbound pipeline: every received message goes through the handlers in
//! order (the scripts), and the first decision ends the chain; a message no
//! handler took goes to the `post_api` webhook, so nothing is lost.
//!
//! Messages from different chats are handled concurrently; messages from one
//! chat keep their order (they share a lane). The account's own sends never
//! come back here: the session only forwards what the backend received.

mod decision;

use std::hash::{Hash, Hasher};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use async_trait::async_trait;
use futures_util::FutureExt;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

pub use decision::{Decision, apply};

use crate::model::InboundMessage;
use crate::session::SessionHandle;
use crate::webhook::Reports;

/// Lanes handle chats in parallel; a chat always maps to the same lane.
pub const LANES: usize = 8;
/// Messages waiting per lane before the dispatcher waits (back-pressure).
const LANE_QUEUE: usize = 1024;

/// A handler's answer: the decision and who made it (for the log).
#[derive(Debug, Clone, PartialEq)]
pub struct Handled {
    pub by: String,
    pub decision: Decision,
}

/// Something that may decide what to do with a message (the scripts, or a
/// native handler in benchmarks and tests).
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    /// `None` passes the message on.
    async fn handle(&self, msg: &InboundMessage) -> Option<Handled>;
}

/// The pipeline; `run` consumes the session's inbound messages.
pub struct Pipeline {
    session: SessionHandle,
    handlers: Arc<Vec<Arc<dyn Handler>>>,
    reports: Reports,
}

impl Pipeline {
    pub fn new(
        session: SessionHandle,
        handlers: Vec<Arc<dyn Handler>>,
        reports: Reports,
    ) -> Pipeline {
        Pipeline {
            session,
            handlers: Arc::new(handlers),
            reports,
        }
    }

    /// Dispatches messages to lanes until the inbound channel closes, then
    /// lets the lanes finish what they hold.
    pub async fn run(self, mut inbound: mpsc::Receiver<InboundMessage>) {
        let mut lanes = Vec::with_capacity(LANES);
        let mut workers = JoinSet::new();
        for _ in 0..LANES {
            let (tx, rx) = mpsc::channel(LANE_QUEUE);
            lanes.push(tx);
            workers.spawn(lane(
                rx,
                self.session.clone(),
                self.handlers.clone(),
                self.reports.clone(),
            ));
        }
        while let Some(msg) = inbound.recv().await {
            let lane = &lanes[spread(&msg.chat_key(), LANES)];
            if lane.send(msg).await.is_err() {
                break;
            }
        }
        drop(lanes);
        while workers.join_next().await.is_some() {}
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

async fn lane(
    mut rx: mpsc::Receiver<InboundMessage>,
    session: SessionHandle,
    handlers: Arc<Vec<Arc<dyn Handler>>>,
    reports: Reports,
) {
    while let Some(msg) = rx.recv().await {
        handle_one(&msg, &session, &handlers, &reports).await;
    }
}

/// Runs one message through the chain and carries out the decision.
///
/// A panic (a bug) must not end the lane: the dispatcher would stop with it
/// and every later message would be lost. A panic while deciding passes the
/// message to the webhook; one while carrying out a decision is only logged,
/// since the reply may already have gone out.
async fn handle_one(
    msg: &InboundMessage,
    session: &SessionHandle,
    handlers: &[Arc<dyn Handler>],
    reports: &Reports,
) {
    let decided = match AssertUnwindSafe(decide(msg, handlers)).catch_unwind().await {
        Ok(d) => d,
        Err(panic) => {
            tracing::error!(msg_id = %msg.id, panic = %panic_text(&*panic), "deciding about the message panicked; passed to the webhook");
            reports.received(msg.clone());
            return;
        }
    };
    let Some(handled) = decided else {
        // The webhook logs its own line once it has an answer.
        reports.received(msg.clone());
        return;
    };
    tracing::info!(msg_id = %msg.id, handler = %handled.by, decision = ?handled.decision, "message handled");
    let applied = AssertUnwindSafe(apply(session, msg, &handled.decision, &handled.by))
        .catch_unwind()
        .await;
    if let Err(panic) = applied {
        tracing::error!(msg_id = %msg.id, handler = %handled.by, panic = %panic_text(&*panic), "carrying out the decision panicked");
    }
}

/// The first handler's decision, if any handler takes the message.
async fn decide(msg: &InboundMessage, handlers: &[Arc<dyn Handler>]) -> Option<Handled> {
    for h in handlers {
        if let Some(handled) = h.handle(msg).await {
            return Some(handled);
        }
    }
    None
}

/// A panic's message, when it has one.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}
