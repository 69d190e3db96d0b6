//! Forgets events it has seen twice: implementations deliver some events
//! more than once (two sinks reaching us, NapCat#574, LuckyLilliaBot#547,
//! go-cqhttp's post retries; `spec/onebot.md` §5).
//!
//! A key is remembered for `ttl` and at most `capacity` keys are kept (the
//! oldest go first), so memory stays bounded under a flood.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

/// Keys seen recently.
#[derive(Debug)]
pub struct Dedup {
    ttl: Duration,
    capacity: usize,
    seen: HashMap<String, Instant>,
    order: VecDeque<(String, Instant)>,
}

impl Dedup {
    pub fn new(ttl: Duration, capacity: usize) -> Dedup {
        Dedup {
            ttl,
            capacity: capacity.max(1),
            seen: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// Whether `key` is new (and remembers it); false for a repeat within
    /// the TTL.
    pub fn first_time(&mut self, key: &str, now: Instant) -> bool {
        while let Some((k, at)) = self.order.front() {
            if now.duration_since(*at) < self.ttl && self.order.len() < self.capacity {
                break;
            }
            // Only forget the key if this is its latest sighting.
            if self.seen.get(k) == Some(at) {
                self.seen.remove(k);
            }
            self.order.pop_front();
        }
        if self.seen.contains_key(key) {
            return false;
        }
        self.seen.insert(key.to_string(), now);
        self.order.push_back((key.to_string(), now));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_within_the_ttl_are_dropped() {
        let mut d = Dedup::new(Duration::from_secs(60), 100);
        let t0 = Instant::now();
        assert!(d.first_time("a", t0));
        assert!(!d.first_time("a", t0 + Duration::from_secs(1)));
        assert!(d.first_time("b", t0 + Duration::from_secs(2)));
        assert!(
            d.first_time("a", t0 + Duration::from_secs(61)),
            "forgotten after the TTL"
        );
    }

    #[test]
    fn capacity_bounds_memory() {
        let mut d = Dedup::new(Duration::from_secs(60), 3);
        let t0 = Instant::now();
        for k in ["a", "b", "c", "d"] {
            assert!(d.first_time(k, t0));
        }
        assert!(d.seen.len() <= 3);
        assert!(d.first_time("a", t0), "the oldest key was dropped");
        assert!(!d.first_time("d", t0));
    }
}
