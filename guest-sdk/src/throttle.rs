//! Log lines that may repeat for every message, at most once per interval.

use std::time::Duration;

use crate::{Level, host};

/// Logs at most once per interval (on the gateway's clock, [`host::now_ms`])
/// and says how many lines it held back meanwhile — for a warning a bot might
/// otherwise write for every message (a store that keeps failing, a group it
/// cannot send to). The gateway drops lines past its log budget anyway; this
/// keeps the ones that get through telling.
///
/// ```
/// # let _host = openqq_bot::testing::MockHost::new();
/// use std::time::Duration;
/// use openqq_bot::{Level, Throttle};
///
/// let mut store_trouble = Throttle::new(Duration::from_secs(60));
/// for _ in 0..3 {
///     store_trouble.log(Level::Warn, "kv: store failed"); // logged once
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Throttle {
    interval_ms: u64,
    last_ms: Option<u64>,
    held: u64,
}

impl Throttle {
    /// Logs at most once per `interval`.
    pub fn new(interval: Duration) -> Self {
        Throttle {
            interval_ms: crate::timer::millis(interval),
            last_ms: None,
            held: 0,
        }
    }

    /// Logs `text` at `level` unless a line went out less than an interval
    /// ago; then counts it, and the next line that goes out says how many
    /// were held back. Returns whether it logged.
    pub fn log(&mut self, level: Level, text: &str) -> bool {
        let now = host::now_ms();
        if self
            .last_ms
            .is_some_and(|last| now.saturating_sub(last) < self.interval_ms)
        {
            self.held += 1;
            return false;
        }
        self.last_ms = Some(now);
        if self.held == 0 {
            host::log(level, text);
        } else {
            host::log(level, &format!("{text} ({} more held back)", self.held));
            self.held = 0;
        }
        true
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::testing::MockHost;

    #[test]
    fn logs_once_per_interval_and_counts_the_rest() {
        let host = MockHost::new();
        let mut t = Throttle::new(Duration::from_secs(60));
        assert!(t.log(Level::Warn, "a"));
        assert!(!t.log(Level::Warn, "b"));
        assert!(!t.log(Level::Warn, "c"));
        host.advance(Duration::from_secs(60));
        assert!(t.log(Level::Warn, "d"));
        let texts: Vec<_> = host.logs().into_iter().map(|l| l.text).collect();
        assert_eq!(texts, ["a", "d (2 more held back)"]);
    }
}
