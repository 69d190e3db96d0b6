//! The limits every script call runs under, and why.

use std::time::Duration;

/// How often the engine's epoch ticks. A runaway loop is stopped at most one
/// tick after its deadline; a call that is still within its deadline yields
/// to the runtime at each tick, so it never holds a tokio worker longer.
pub const TICK: Duration = Duration::from_millis(10);

/// The default per-message deadline (`timeout_ms`).
pub const DEFAULT_DEADLINE: Duration = Duration::from_millis(100);

/// The default linear-memory cap per script (`memory_mb`).
pub const DEFAULT_MEMORY_MB: u64 = 64;

/// `init` may parse config and warm caches: give it ten message deadlines,
/// and never less than a second (interpreted guests start slower).
pub fn init_deadline(deadline: Duration) -> Duration {
    (deadline * 10).max(Duration::from_secs(1))
}

/// `host::send`s one call may make; later ones get an error. The deadline
/// does not count the time a send waits (the outbox may space sends), so
/// without this a bot could send in a loop for ever.
pub const MAX_SENDS_PER_CALL: u32 = 32;

/// A log line from a guest is cut here, so a bot cannot flood the log with
/// one call.
pub const MAX_LOG_LINE: usize = 4096;

/// Guest stdout/stderr is buffered per line up to this size before it is
/// flushed to the log anyway.
pub const MAX_OUTPUT_LINE: usize = 4096;

/// Tables a guest may grow to (elements); keeps a buggy guest's tables from
/// eating memory that the memory cap does not count.
pub const MAX_TABLE_ELEMENTS: usize = 100_000;

/// How many messages' call times the p50/p99 figures are computed over.
pub const LATENCY_WINDOW: usize = 1024;
