//! Per-script counters and call-time percentiles (for `/admin/scripts`).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use super::limits::LATENCY_WINDOW;
use crate::histogram::{CallTime, Histogram};

/// How many failure reasons `/admin/scripts` shows.
const RECENT_FAILURES: usize = 5;

/// What happened to calls of one script (all versions).
#[derive(Debug, Default)]
pub struct ScriptStats {
    pub calls: AtomicU64,
    pub passes: AtomicU64,
    pub decisions: AtomicU64,
    /// Traps, memory and resource caps, failed rebuilds.
    pub traps: AtomicU64,
    /// Calls stopped at their deadline (running).
    pub timeouts: AtomicU64,
    /// Calls stopped at their wall-clock limit (waiting).
    pub wall_clock: AtomicU64,
    /// Decisions refused whole by a cap (the message passed on).
    pub refused: AtomicU64,
    /// Messages passed on without a call: the script was paused after
    /// failing repeatedly, or its instance was busy past the wall-clock limit.
    pub skipped: AtomicU64,
    /// Messages from chats outside the bot's `chats` grant, which it never
    /// saw.
    pub other_chats: AtomicU64,
    /// Timer calls (`on-timer`), whatever their outcome; their failures
    /// count in `traps`, `timeouts` and `wall_clock` too.
    pub timer_calls: AtomicU64,
    /// Every call's time, by bucket (`/metrics`); its count is `calls`.
    pub call_time: Histogram<CallTime>,
    /// Recent call times in nanoseconds, newest last.
    recent: Mutex<VecDeque<u64>>,
    failures: Mutex<Failures>,
}

/// The script's recent failures, for `/admin/scripts`.
#[derive(Debug, Default, Clone)]
pub struct Failures {
    /// Failures within the last minute at the last failure (of the instance
    /// that failed).
    pub count: u32,
    /// Until when that instance is not rebuilt.
    pub paused_until: Option<SystemTime>,
    /// The newest last.
    pub recent: VecDeque<(SystemTime, String)>,
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Decision,
    Trap,
    Timeout,
    WallClock,
    Refused,
}

impl ScriptStats {
    pub fn record(&self, outcome: Outcome, took: Duration) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let counter = match outcome {
            Outcome::Pass => &self.passes,
            Outcome::Decision => &self.decisions,
            Outcome::Trap => &self.traps,
            Outcome::Timeout => &self.timeouts,
            Outcome::WallClock => &self.wall_clock,
            Outcome::Refused => &self.refused,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.call_time.record(took);
        let mut r = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if r.len() == LATENCY_WINDOW {
            r.pop_front();
        }
        r.push_back(took.as_nanos() as u64);
    }

    /// Counts a timer call, and its failure if it failed.
    pub fn record_timer(&self, failure: Option<Outcome>) {
        self.timer_calls.fetch_add(1, Ordering::Relaxed);
        let counter = match failure {
            Some(Outcome::Timeout) => &self.timeouts,
            Some(Outcome::WallClock) => &self.wall_clock,
            Some(_) => &self.traps,
            None => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a message passed on without a call.
    pub fn record_skip(&self) {
        self.skipped.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a message from a chat the bot is not granted.
    pub fn record_other_chat(&self) {
        self.other_chats.fetch_add(1, Ordering::Relaxed);
    }

    /// Remembers why the script failed, and the pause it earned.
    pub fn note_failure(&self, reason: String, count: u32, pause: Duration) {
        let now = SystemTime::now();
        let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        f.count = count;
        f.paused_until = (!pause.is_zero()).then(|| now + pause);
        if f.recent.len() == RECENT_FAILURES {
            f.recent.pop_front();
        }
        f.recent.push_back((now, reason));
    }

    /// A swap or reload ended the pause (the reasons stay).
    pub fn clear_pause(&self) {
        let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        f.count = 0;
        f.paused_until = None;
    }

    pub fn failures(&self) -> Failures {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
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
        assert_eq!(s.call_time.snapshot().count, 101, "one sample a call");
    }
}
