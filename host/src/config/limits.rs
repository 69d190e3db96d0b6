//! `[limits]`: the defaults every bot call runs under (each checked by
//! `Config::check`; what each protects against: `scripts::limits`).

use serde::Deserialize;

/// `[limits]`: what one script call may use (see `scripts::limits`).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsSection {
    /// The guest's own running time per call (CPU deadline).
    pub timeout_ms: u64,
    /// Wall-clock time per call, waits included; at least `timeout_ms`.
    /// Default: twice `timeout_ms`, at least a second.
    pub wall_ms: Option<u64>,
    pub memory_mb: u64,
    /// Instances of each script, 1 to 8 (see `ScriptEntry::instances`).
    pub instances: usize,
    /// The longest reply or `host::send` text a bot may make, in characters.
    pub max_reply_chars: usize,
    /// Log lines one call may write, and one script per second.
    pub log_lines_per_call: u32,
    pub log_lines_per_sec: u32,
    /// WASI resource-table entries per instance.
    pub max_resources: usize,
    /// The first pause of a failing script, and the longest.
    pub backoff_ms: u64,
    pub backoff_max_ms: u64,
    /// A bot's KV store: the longest key, the largest value, and all its
    /// keys and values together (bytes).
    pub kv_max_key_bytes: usize,
    pub kv_max_value_bytes: usize,
    pub kv_max_total_bytes: u64,
    /// One-shot timers one bot may have pending.
    pub timers_max_pending: usize,
    /// Grant quotas (see `grants::Quotas`): `host.send`s per call, sends
    /// per minute per bot and per chat, and outbound HTTP's bounds.
    pub sends_per_call: u64,
    pub sends_per_minute: u64,
    pub sends_per_minute_per_chat: u64,
    pub http_requests_per_call: u64,
    pub http_timeout_ms: u64,
    pub http_max_request_bytes: u64,
    pub http_max_response_bytes: u64,
}

impl Default for LimitsSection {
    /// Safe for a gateway nobody tuned; why each value: `scripts::limits`.
    fn default() -> Self {
        LimitsSection {
            timeout_ms: 100,
            wall_ms: None,
            memory_mb: 64,
            instances: 1,
            // QQ's own limit for one message.
            max_reply_chars: 4500,
            log_lines_per_call: 100,
            log_lines_per_sec: 200,
            max_resources: 1000,
            backoff_ms: 1000,
            backoff_max_ms: 300_000,
            kv_max_key_bytes: 256,
            kv_max_value_bytes: 64 << 10,
            kv_max_total_bytes: 1 << 20,
            timers_max_pending: 1000,
            sends_per_call: 32,
            // QQ flags accounts that send fast; a granted bot stays well
            // below (replies are one per message received, not counted).
            sends_per_minute: 120,
            sends_per_minute_per_chat: 30,
            http_requests_per_call: 8,
            http_timeout_ms: 10_000,
            http_max_request_bytes: 1 << 20,
            http_max_response_bytes: 4 << 20,
        }
    }
}

impl LimitsSection {
    /// The wall-clock limit of a script whose entry says `timeout_ms` and
    /// `wall_ms` (or not).
    pub fn wall_ms(&self, timeout_ms: Option<u64>, wall_ms: Option<u64>) -> u64 {
        let timeout = timeout_ms.unwrap_or(self.timeout_ms);
        wall_ms
            .or(self.wall_ms)
            .unwrap_or_else(|| default_wall(timeout))
    }
}

/// The default wall-clock limit per call (`wall_ms`): twice the deadline,
/// and at least a second. The deadline counts only the guest's own running
/// time; a guest that waits (a WASI sleep, a poll on a clock) is not
/// running, so without a wall-clock limit it could hold its instance, and
/// every chat waiting for it, for ever.
pub fn default_wall(deadline_ms: u64) -> u64 {
    deadline_ms.saturating_mul(2).max(1000)
}
