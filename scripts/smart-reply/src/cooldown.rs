//! A per-user cooldown between questions, so one person cannot run up the
//! model's bill (or the bot's HTTP quota) for everyone.
//!
//! Kept in the instance, not the KV: a swap or a rebuild forgetting who
//! asked last costs at most one early question each, and no store write is
//! spent per message. With several `instances`, each has its own.

use std::collections::HashMap;

/// Past this many remembered askers, the ones whose cooldown is over are
/// forgotten.
const PRUNE_AT: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Ask away; the cooldown starts now.
    Go,
    /// Too soon: `seconds` left. `tell` is true the first time in a
    /// cooldown, so the asker hears it once, not for every message.
    Wait { seconds: u64, tell: bool },
}

#[derive(Debug, Clone)]
struct Asked {
    at_ms: u64,
    told: bool,
}

#[derive(Debug, Clone)]
pub struct Cooldown {
    period_ms: u64,
    asked: HashMap<String, Asked>,
}

impl Cooldown {
    /// A cooldown of `period_ms` (0: none).
    pub fn new(period_ms: u64) -> Cooldown {
        Cooldown {
            period_ms,
            asked: HashMap::new(),
        }
    }

    /// Whether `who` may ask at `now_ms`.
    pub fn check(&mut self, who: &str, now_ms: u64) -> Verdict {
        if self.period_ms == 0 {
            return Verdict::Go;
        }
        if let Some(last) = self.asked.get_mut(who) {
            let since = now_ms.saturating_sub(last.at_ms);
            if since < self.period_ms {
                let tell = !last.told;
                last.told = true;
                let seconds = (self.period_ms - since).div_ceil(1000);
                return Verdict::Wait { seconds, tell };
            }
        }
        if self.asked.len() >= PRUNE_AT {
            let period = self.period_ms;
            self.asked
                .retain(|_, a| now_ms.saturating_sub(a.at_ms) < period);
        }
        self.asked.insert(
            who.to_owned(),
            Asked {
                at_ms: now_ms,
                told: false,
            },
        );
        Verdict::Go
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_question_per_period_per_asker_told_once() {
        let mut c = Cooldown::new(10_000);
        assert_eq!(c.check("1", 0), Verdict::Go);
        assert_eq!(c.check("2", 1), Verdict::Go, "others are not held up");
        assert_eq!(
            c.check("1", 500),
            Verdict::Wait {
                seconds: 10,
                tell: true
            }
        );
        assert_eq!(
            c.check("1", 9_001),
            Verdict::Wait {
                seconds: 1,
                tell: false
            }
        );
        assert_eq!(c.check("1", 10_000), Verdict::Go);
        assert_eq!(
            c.check("1", 10_001),
            Verdict::Wait {
                seconds: 10,
                tell: true
            }
        );
    }

    #[test]
    fn no_period_no_cooldown_and_old_askers_are_forgotten() {
        let mut none = Cooldown::new(0);
        assert_eq!(none.check("1", 0), Verdict::Go);
        assert_eq!(none.check("1", 0), Verdict::Go);
        let mut c = Cooldown::new(1000);
        for i in 0..PRUNE_AT {
            c.check(&i.to_string(), 0);
        }
        c.check("late", 5_000);
        assert_eq!(c.asked.len(), 1);
    }
}
