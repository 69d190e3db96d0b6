//! The limits every script call runs under, and why.

use std::time::Duration;

use crate::config::LimitsSection;

/// How often the engine's epoch ticks. A runaway loop is stopped at most one
/// tick after its deadline; a call that is still within its deadline yields
/// to the runtime at each tick, so it never holds a tokio worker longer.
pub const TICK: Duration = Duration::from_millis(10);

/// The default per-message deadline (`timeout_ms`).
pub const DEFAULT_DEADLINE: Duration = Duration::from_millis(100);

/// The default linear-memory cap per script (`memory_mb`).
pub const DEFAULT_MEMORY_MB: u64 = 64;

/// How much longer than its wall-clock limit a message waits for an
/// instance another call holds before it passes the bot by. The holder's
/// call ends at its limit; the grace lets it release the instance first, so
/// the waiter is served rather than skipped.
pub const LOCK_GRACE: Duration = Duration::from_millis(250);

/// `init` may parse config and warm caches: give it ten message deadlines,
/// and never less than a second (interpreted guests start slower).
pub fn init_deadline(deadline: Duration) -> Duration {
    (deadline * 10).max(Duration::from_secs(1))
}

/// The wall-clock limit of `init`: as long as its CPU deadline, and never
/// less than a message's wall-clock limit.
pub fn init_wall(deadline: Duration, wall: Duration) -> Duration {
    init_deadline(deadline).max(wall)
}

/// Writes to the database (KV `set`/`delete`/`increment`, timers'
/// `after`/`cancel`) one call may make; later ones get an error. Each is a
/// commit with an fsync off the guest's clock: without a cap, one call
/// could keep the database's single writer busy for its whole wall-clock
/// limit, delaying every other bot's writes.
pub const MAX_WRITES_PER_CALL: u32 = 64;

/// The mutes QQ applies: 60 s to 30 days. A bot's mute outside is refused
/// (the reply still goes), as QQ would refuse it.
pub use crate::model::{MAX_MUTE_SECS, MIN_MUTE_SECS};

/// The caps every script runs under besides its deadline, wall-clock limit
/// and memory: `[limits]` in the config. Each has a default that is safe for
/// a gateway nobody tuned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sandbox {
    /// The longest reply or `host::send` text, in characters. QQ's own
    /// limit for one message is 4,500 characters (mirai documents it for
    /// `sendMessage`; go-cqhttp's author puts it at about 5,000): a longer
    /// text would only be refused by QQ, after a round trip.
    pub max_reply_chars: usize,
    /// Log lines (`host::log`, stdout, stderr) one call may write; the rest
    /// are counted and reported in one line after the call.
    pub log_lines_per_call: u32,
    /// Log lines a script (all its instances) may write per second.
    pub log_lines_per_sec: u32,
    /// Entries one instance may hold in its WASI resource table (streams,
    /// pollables, …): host memory the linear-memory cap does not see. Each
    /// costs a few hundred bytes of the gateway's memory.
    pub max_resources: usize,
    /// The pause after the second failure within a minute (trap, deadline,
    /// wall clock, memory, resources, failed rebuild); it doubles with each
    /// further failure.
    pub backoff: Duration,
    /// The longest pause.
    pub backoff_max: Duration,
    /// What the bot may keep in its KV store (`kv_max_*`).
    pub kv: crate::storage::KvQuota,
    /// One-shot timers one bot may have pending (`timers_max_pending`).
    pub timers_max_pending: usize,
}

impl From<&LimitsSection> for Sandbox {
    fn from(l: &LimitsSection) -> Sandbox {
        Sandbox {
            max_reply_chars: l.max_reply_chars,
            log_lines_per_call: l.log_lines_per_call,
            log_lines_per_sec: l.log_lines_per_sec,
            max_resources: l.max_resources,
            backoff: Duration::from_millis(l.backoff_ms),
            backoff_max: Duration::from_millis(l.backoff_max_ms),
            kv: crate::storage::KvQuota {
                max_key_bytes: l.kv_max_key_bytes,
                max_value_bytes: l.kv_max_value_bytes,
                max_total_bytes: l.kv_max_total_bytes,
            },
            timers_max_pending: l.timers_max_pending,
        }
    }
}

impl Default for Sandbox {
    /// The caps of `[limits]` left at its defaults.
    fn default() -> Self {
        Sandbox::from(&LimitsSection::default())
    }
}

impl Sandbox {
    /// How long a script is skipped after `failures` recent failures: not
    /// at all after one (a one-off trap is rebuilt at the next message),
    /// then `backoff`, doubling, at most `backoff_max`.
    pub fn pause_after(&self, failures: u32) -> Duration {
        if failures < 2 {
            return Duration::ZERO;
        }
        let doublings = (failures - 2).min(30);
        self.backoff
            .saturating_mul(1u32 << doublings)
            .min(self.backoff_max)
    }
}

/// A log line from a guest is cut here, so one line cannot flood the log.
pub const MAX_LOG_LINE: usize = 4096;

/// Guest stdout/stderr is buffered per line up to this size before it is
/// flushed to the log anyway.
pub const MAX_OUTPUT_LINE: usize = 4096;

/// Tables a guest may grow to (elements); keeps a buggy guest's tables from
/// eating memory that the memory cap does not count.
pub const MAX_TABLE_ELEMENTS: usize = 100_000;

/// How often a warning a bot can cause once per message (a refused reply,
/// a failed send, dropped log lines) is logged, with the count held back.
pub const WARN_INTERVAL: Duration = Duration::from_secs(10);

/// How many messages' call times the p50/p99 figures are computed over.
pub const LATENCY_WINDOW: usize = 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pause_starts_at_the_second_failure_and_doubles_to_its_cap() {
        let s = Sandbox::default();
        let secs = |n| s.pause_after(n).as_secs();
        assert_eq!(
            (secs(0), secs(1), secs(2), secs(3), secs(4)),
            (0, 0, 1, 2, 4)
        );
        assert_eq!(secs(10), 256);
        assert_eq!(secs(11), 300);
        assert_eq!(secs(u32::MAX), 300);
    }

    #[test]
    fn init_gets_at_least_a_second_and_the_wall_limit() {
        let ms = Duration::from_millis;
        assert_eq!(init_wall(ms(100), ms(1000)), ms(1000));
        assert_eq!(init_wall(ms(500), ms(1000)), ms(5000));
        assert_eq!(init_wall(ms(100), ms(3000)), ms(3000));
    }
}
