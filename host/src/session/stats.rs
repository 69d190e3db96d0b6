//! The session's counters for `/metrics`: messages and events received,
//! sends by origin and outcome. One atomic add where each happens; read at
//! the scrape.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::model::{ChatKind, SendOrigin};

/// What came in, in the order of `RECEIVED`.
pub const RECEIVED: [&str; 5] = ["friend", "group", "discuss", "sess", "event"];

/// Who sent, in the order of `ORIGINS`: the API, a bot (its reply or its
/// `host::send`), the webhook's answer.
pub const ORIGINS: [&str; 3] = ["api", "bot", "webhook"];

/// The session's counters.
#[derive(Debug, Default)]
pub struct SessionStats {
    /// Messages received by chat kind, then events (`RECEIVED`).
    received: [AtomicU64; 5],
    /// Sends QQ accepted, by `ORIGINS`.
    sent: [AtomicU64; 3],
    /// Sends that failed (after their retries), by `ORIGINS`.
    failed: [AtomicU64; 3],
}

impl SessionStats {
    pub(super) fn message(&self, kind: ChatKind) {
        let at = match kind {
            ChatKind::Friend => 0,
            ChatKind::Group => 1,
            ChatKind::Discuss => 2,
            ChatKind::Sess => 3,
        };
        self.received[at].fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn event(&self) {
        self.received[4].fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn send(&self, origin: &SendOrigin, ok: bool) {
        let at = match origin {
            SendOrigin::Api => 0,
            SendOrigin::Script(_) => 1,
            SendOrigin::Webhook => 2,
        };
        let counters = if ok { &self.sent } else { &self.failed };
        counters[at].fetch_add(1, Ordering::Relaxed);
    }

    /// Messages and events received, in the order of `RECEIVED`.
    pub fn received(&self) -> [u64; 5] {
        self.received.each_ref().map(|c| c.load(Ordering::Relaxed))
    }

    /// (accepted, failed) sends, each in the order of `ORIGINS`.
    pub fn sends(&self) -> ([u64; 3], [u64; 3]) {
        let read = |a: &[AtomicU64; 3]| a.each_ref().map(|c| c.load(Ordering::Relaxed));
        (read(&self.sent), read(&self.failed))
    }
}
