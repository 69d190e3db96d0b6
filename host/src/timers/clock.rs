//! The time timers and bots see (`host.now-ms`): the real time, moved
//! forward by the operator on the `sim` backend (`POST /admin/clock`), so a
//! daily timer can be tried without waiting a day. It never runs backwards.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The latest time the clock may show: 9999-12-31T23:59:59.999Z (time
/// zones and cron stop making sense past it).
const LATEST_MS: u64 = 253_402_300_799_999;

/// Real time plus an offset only ever increased. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Clock {
    offset_ms: Arc<AtomicU64>,
    movable: bool,
}

impl Clock {
    /// A clock that shows the real time; `movable` lets `advance` move it.
    pub fn new(movable: bool) -> Clock {
        Clock {
            offset_ms: Arc::new(AtomicU64::new(0)),
            movable,
        }
    }

    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        crate::clock::unix_now_ms().saturating_add(self.offset_ms.load(Ordering::Relaxed))
    }

    /// How far ahead of the real time it is.
    pub fn offset_ms(&self) -> u64 {
        self.offset_ms.load(Ordering::Relaxed)
    }

    /// Moves the clock `ms` forward.
    ///
    /// # Errors
    /// When the clock is the real one only (not on the `sim` backend).
    pub fn advance(&self, ms: u64) -> Result<u64, String> {
        if !self.movable {
            return Err("the clock can be moved only on the sim backend".to_string());
        }
        let real = crate::clock::unix_now_ms();
        self.offset_ms
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |o| {
                o.checked_add(ms)
                    .filter(|o| real.saturating_add(*o) <= LATEST_MS)
            })
            .map_err(|_| {
                format!("the clock cannot go past the year 9999 (asked to move {ms} ms)")
            })?;
        Ok(self.now_ms())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_movable_clock_moves_and_only_forward() {
        let real = Clock::new(false);
        assert!(real.advance(1).is_err());
        let sim = Clock::new(true);
        let before = sim.now_ms();
        let after = sim.advance(86_400_000).unwrap();
        assert!(after >= before + 86_400_000);
        assert_eq!(sim.offset_ms(), 86_400_000);
        assert!(sim.advance(u64::MAX).is_err());
        assert_eq!(sim.offset_ms(), 86_400_000);
    }
}
