//! The bus's counters, for `/metrics` and tests: an atomic add where each
//! thing happens.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

#[derive(Debug, Default)]
pub struct BusStats {
    /// Reports JetStream acknowledged.
    pub published: AtomicU64,
    /// Reports dropped because the buffer was at its bound.
    pub dropped: AtomicU64,
    /// Publish attempts that failed and were put back (NATS unreachable,
    /// no stream, no acknowledgement in time).
    pub retried: AtomicU64,
    /// Answers carried out (a reply and/or a mute asked for).
    pub acted: AtomicU64,
    /// Answers that asked for nothing or were malformed.
    pub ignored: AtomicU64,
    /// Second answers to one report: not carried out.
    pub duplicate: AtomicU64,
    /// Answers to reports this gateway does not hold (events, sends,
    /// forgotten, or from before a restart).
    pub unknown: AtomicU64,
    /// API calls taken over the bus.
    pub api_calls: AtomicU64,
    /// Reports waiting or being published, as last seen.
    pub buffered: AtomicUsize,
}

impl BusStats {
    pub(super) fn add(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// A plain copy: (published, dropped, retried, acted, ignored,
    /// duplicate, unknown, api_calls).
    pub fn snapshot(&self) -> [u64; 8] {
        [
            &self.published,
            &self.dropped,
            &self.retried,
            &self.acted,
            &self.ignored,
            &self.duplicate,
            &self.unknown,
            &self.api_calls,
        ]
        .map(|c| c.load(Ordering::Relaxed))
    }

    /// The snapshot's names, in its order (the `outcome` label).
    pub const NAMES: [&'static str; 8] = [
        "published",
        "dropped",
        "retried",
        "acted",
        "ignored",
        "duplicate",
        "unknown",
        "api_calls",
    ];
}
