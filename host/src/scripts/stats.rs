//! Per-script counters and call-time percentiles (for `/admin/scripts`).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::limits::LATENCY_WINDOW;

/// What happened to calls of one script (all versions).
#[derive(Debug, Default)]
pub struct ScriptStats {
    pub calls: AtomicU64,
    pub passes: AtomicU64,
    pub decisions: AtomicU64,
    pub traps: AtomicU64,
    pub timeouts: AtomicU64,
    /// Recent call times in nanoseconds, newest last.
    recent: Mutex<VecDeque<u64>>,
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Decision,
    Trap,
    Timeout,
}

impl ScriptStats {
    pub fn record(&self, outcome: Outcome, took: Duration) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let counter = match outcome {
            Outcome::Pass => &self.passes,
            Outcome::Decision => &self.decisions,
            Outcome::Trap => &self.traps,
            Outcome::Timeout => &self.timeouts,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let mut r = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if r.len() == LATENCY_WINDOW {
            r.pop_front();
        }
        r.push_back(took.as_nanos() as u64);
    }

    /// The p50 and p99 of recent call times, in microseconds.
    pub fn percentiles_us(&self) -> Option<(f64, f64)> {
        let mut v: Vec<u64> = self
            .recent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .copied()
            .collect();
        if v.is_empty() {
            return None;
        }
        v.sort_unstable();
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0;
        Some((at(0.50), at(0.99)))
    }

    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_percentiles() {
        let s = ScriptStats::default();
        for i in 1..=100 {
            s.record(
                if i % 2 == 0 {
                    Outcome::Pass
                } else {
                    Outcome::Decision
                },
                Duration::from_micros(i),
            );
        }
        s.record(Outcome::Trap, Duration::from_micros(1));
        assert_eq!(ScriptStats::get(&s.calls), 101);
        assert_eq!(ScriptStats::get(&s.passes), 50);
        let (p50, p99) = s.percentiles_us().unwrap();
        assert!((49.0..=52.0).contains(&p50), "{p50}");
        assert!(p99 >= 98.0, "{p99}");
    }
}
