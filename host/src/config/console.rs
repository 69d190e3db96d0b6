//! `[console]`: the web console and the rings it shows (traces, log lines).

use serde::Deserialize;

/// `[console]`: the web console and what it keeps to show.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleSection {
    /// How many traces `/admin/trace` keeps (the newest); 0 turns tracing
    /// off, and recording then costs nothing.
    pub trace_size: usize,
    /// How many recent log lines are kept (0: none; at most
    /// `logring::MAX_LINES`, each at most `logring::LINE_BYTES`).
    pub log_lines: usize,
}

/// The most traces the ring may keep: each is a few KiB at most.
pub const MAX_TRACE_SIZE: usize = 1_000_000;

impl Default for ConsoleSection {
    fn default() -> Self {
        ConsoleSection {
            trace_size: 1000,
            log_lines: crate::logring::DEFAULT_LINES,
        }
    }
}

impl ConsoleSection {
    const MAX_LOG_LINES: usize = crate::logring::MAX_LINES;

    pub(super) fn check(&self) -> anyhow::Result<()> {
        if self.trace_size > MAX_TRACE_SIZE {
            anyhow::bail!(
                "[console] trace_size = {}, but it must be 0 (off) to {MAX_TRACE_SIZE}",
                self.trace_size
            );
        }
        if self.log_lines > Self::MAX_LOG_LINES {
            anyhow::bail!(
                "[console] log_lines = {}, but it must be 0 to {}",
                self.log_lines,
                Self::MAX_LOG_LINES
            );
        }
        Ok(())
    }
}
