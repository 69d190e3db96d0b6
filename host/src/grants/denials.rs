//! What a bot was refused by its grants and quotas: each refusal is an
//! error the bot sees; here it is counted for `/admin/scripts` and logged
//! the first time a reason comes up, so a bot that keeps trying costs one
//! log line per reason, not one per attempt.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Distinct reasons kept per bot; past it, new reasons are counted under
/// `OTHER` and logged no more (a bot naming ever new chats cannot grow
/// the map or the log).
const REASONS_KEPT: usize = 64;
const OTHER: &str = "(other reasons)";

#[derive(Debug, Default)]
pub struct Denials {
    by_reason: Mutex<BTreeMap<String, u64>>,
}

impl Denials {
    /// Counts a refusal; logs it when `reason` is new for this bot.
    pub fn deny(&self, script: &str, msg_id: &str, reason: &str) {
        let mut map = self.by_reason.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(reason) {
            *n += 1;
            return;
        }
        if map.len() >= REASONS_KEPT {
            *map.entry(OTHER.to_string()).or_insert(0) += 1;
            return;
        }
        map.insert(reason.to_string(), 1);
        drop(map);
        tracing::warn!(script = %script, %msg_id, "denied: {reason} (logged once; counted in /admin/scripts)");
    }

    /// Refusals so far, by reason.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.by_reason
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn total(&self) -> u64 {
        self.counts().values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_counted_and_bounded() {
        let d = Denials::default();
        d.deny("b", "m1", "send to group:1: not in send_to");
        d.deny("b", "m2", "send to group:1: not in send_to");
        for i in 0..100 {
            d.deny("b", "m", &format!("send to group:{i}x"));
        }
        let c = d.counts();
        assert_eq!(c["send to group:1: not in send_to"], 2);
        assert_eq!(c.len(), REASONS_KEPT + 1);
        assert_eq!(d.total(), 102);
    }
}
