//! The event queue: events read from connections, on their way to the
//! backend's converter (`super::super::inbound`).
//!
//! The reader never waits for the converter: answers to calls (a bot's
//! reply, a contact re-read) must be read even while the session is busy —
//! otherwise a full queue and a send awaiting its answer hold each other
//! until the send times out, and the pipeline stalls. So a push never
//! awaits: it takes a place or, past `BACKLOG_CAP` events not yet taken,
//! drops the event (counted and logged). One queue outlives the
//! connections, so what one connection read still goes on, in order, while
//! the next one is dialled.
//!
//! The queue is the converter's own channel: the converter reads it
//! directly, no task moves events from one queue to another.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc::{self, error::TrySendError};

use super::LinkEvent;

/// Events read but not yet taken, past which new ones are dropped (logged
/// and counted): a bound on memory under a flood no gateway could handle.
/// (tokio's channel allocates as it fills, not for the whole bound.)
const BACKLOG_CAP: usize = 100_000;
/// Every this many events held, a warning that the converter falls behind.
const HELD_WARN_EVERY: usize = 10_000;

/// The sending side, held by the connections; cheap to clone.
#[derive(Clone)]
pub struct EventQueue {
    events: mpsc::Sender<LinkEvent>,
    dropped: Arc<AtomicU64>,
}

impl EventQueue {
    /// The queue and the converter's end of it.
    pub fn new() -> (EventQueue, mpsc::Receiver<LinkEvent>) {
        let (events, rx) = mpsc::channel(BACKLOG_CAP);
        let queue = EventQueue {
            events,
            dropped: Arc::new(AtomicU64::new(0)),
        };
        (queue, rx)
    }

    /// Queues `e` without waiting; `false` when the converter is gone.
    pub(super) fn push(&self, e: LinkEvent) -> bool {
        match self.events.try_send(e) {
            Ok(()) => {
                let held = self.events.max_capacity() - self.events.capacity();
                if held.is_multiple_of(HELD_WARN_EVERY) {
                    tracing::warn!(
                        backend = "onebot",
                        held,
                        "events arrive faster than they are handled; holding them"
                    );
                }
                true
            }
            Err(TrySendError::Full(_)) => {
                let total = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if total == 1 || total.is_multiple_of(1000) {
                    tracing::error!(
                        backend = "onebot",
                        dropped_total = total,
                        held = BACKLOG_CAP,
                        "events arrive far faster than they are handled: dropping them"
                    );
                }
                true
            }
            Err(TrySendError::Closed(_)) => false,
        }
    }

    /// Resolves once the converter is gone (the gateway is stopping).
    pub async fn closed(&self) {
        self.events.closed().await;
    }
}
