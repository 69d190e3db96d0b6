//! Warnings that could come once per message are logged at most once per
//! interval, carrying the count of the ones held back — so a flood of bad
//! input or a slow consumer costs one log line per interval, not one per
//! message, and the count still says how many there were.
//!
//! ```
//! use openqq::throttle::Throttle;
//! use std::time::Duration;
//! static FULL: Throttle = Throttle::new(Duration::from_secs(10));
//! if let Some(held_back) = FULL.allow() {
//!     eprintln!("queue full ({held_back} more since the last warning)");
//! }
//! ```

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most one `allow()` per `interval` says yes.
#[derive(Debug)]
pub struct Throttle {
    interval: Duration,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// When the last occurrence was let through.
    last: Option<Instant>,
    /// Occurrences held back since then.
    held_back: u64,
}

impl Throttle {
    pub const fn new(interval: Duration) -> Throttle {
        Throttle {
            interval,
            state: Mutex::new(State {
                last: None,
                held_back: 0,
            }),
        }
    }

    /// Counts one occurrence. `Some(n)` when it should be logged, `n` being
    /// how many were held back since the last one logged; `None` when it is
    /// held back (and counted).
    pub fn allow(&self) -> Option<u64> {
        self.allow_at(Instant::now())
    }

    fn allow_at(&self, now: Instant) -> Option<u64> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let due = s
            .last
            .is_none_or(|last| now.saturating_duration_since(last) >= self.interval);
        if due {
            s.last = Some(now);
            Some(std::mem::take(&mut s.held_back))
        } else {
            s.held_back += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_with_the_count_held_back() {
        let t = Throttle::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(t.allow_at(t0), Some(0));
        assert_eq!(t.allow_at(t0 + Duration::from_secs(1)), None);
        assert_eq!(t.allow_at(t0 + Duration::from_secs(9)), None);
        assert_eq!(t.allow_at(t0 + Duration::from_secs(10)), Some(2));
        assert_eq!(t.allow_at(t0 + Duration::from_secs(11)), None);
        assert_eq!(t.allow_at(t0 + Duration::from_secs(25)), Some(1));
    }
}
