//! `[outbox]` and `[webhook]`: how the gateway's sends and reports go out —
//! spacing and retries of sends, and the bounds of the `post_api` poster.

use std::time::Duration;

use serde::Deserialize;

/// `[outbox]`: spacing and retries of sends.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxSection {
    pub spacing_ms: u64,
    pub retries: u32,
    pub queue: usize,
}

impl Default for OutboxSection {
    fn default() -> Self {
        OutboxSection {
            spacing_ms: 0,
            retries: 2,
            queue: 1024,
        }
    }
}

impl OutboxSection {
    pub fn to_outbox_config(&self) -> crate::session::OutboxConfig {
        crate::session::OutboxConfig {
            spacing: Duration::from_millis(self.spacing_ms),
            retries: self.retries,
            queue: self.queue,
        }
    }
}

/// `[webhook]`: how reports are posted to `post_api`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookSection {
    pub connect_timeout_secs: u64,
    pub timeout_secs: u64,
    /// Reports in flight at once (across chats; one per chat).
    pub concurrency: usize,
    /// Reports waiting past which the receiver counts as behind (logged at
    /// most once per interval); they still wait, up to the backlog bounds.
    pub queue: usize,
    /// At most this many reports wait; past it, reports are dropped
    /// (counted in `/admin/webhook`, logged once per interval).
    pub backlog: usize,
    /// At most this many MiB of reports wait (their size in memory,
    /// approximately); past it, reports are dropped likewise.
    pub backlog_mb: u64,
}

impl WebhookSection {
    pub(super) fn check(&self) -> anyhow::Result<()> {
        if self.backlog == 0 {
            anyhow::bail!("[webhook] backlog = 0, but it must be at least 1");
        }
        if !(1..=1 << 20).contains(&self.backlog_mb) {
            anyhow::bail!(
                "[webhook] backlog_mb = {}, but it must be 1 to 1048576 (MiB)",
                self.backlog_mb
            );
        }
        Ok(())
    }
}

impl Default for WebhookSection {
    fn default() -> Self {
        WebhookSection {
            connect_timeout_secs: 10,
            timeout_secs: 120,
            concurrency: 64,
            queue: 10_000,
            backlog: 1_000_000,
            backlog_mb: 256,
        }
    }
}
