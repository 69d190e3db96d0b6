//! The mock behind [`crate::timer`]: declared and one-shot timers on a
//! clock the test moves, with the gateway's checks.

use std::time::Duration;

use super::{MockHost, with_state};
use crate::Bot;

/// How a declared timer repeats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// [`timer::every`](crate::timer::every).
    Every(Duration),
    /// [`timer::cron`](crate::timer::cron), the expression as given. The mock
    /// does not run cron schedules: call `bot.on_timer(name, "")` to fire one.
    Cron(String),
}

/// A timer the bot declared (in `init`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeclaredTimer {
    pub name: String,
    pub schedule: Schedule,
}

/// A one-shot timer the bot set and that has not fired yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingTimer {
    pub name: String,
    pub payload: String,
    /// When it is due, on the mock's clock (ms since the Unix epoch).
    pub due_ms: u64,
}

/// A timer call that came due: what the gateway would pass to
/// [`Bot::on_timer`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Due {
    pub name: String,
    pub payload: String,
}

impl Due {
    /// A due call of timer `name` with `payload` (`""` for declared timers).
    pub fn new(name: impl Into<String>, payload: impl Into<String>) -> Self {
        Due {
            name: name.into(),
            payload: payload.into(),
        }
    }
}

/// The gateway's `timers_max_pending` default and payload cap.
const TIMERS_MAX_PENDING: usize = 1000;
const TIMER_MAX_PAYLOAD_BYTES: usize = 4 << 10;
/// The gateway rounds shorter one-shot delays up to this.
const TIMER_MIN_DELAY_MS: u64 = 1000;
/// How many timer calls one `advance_firing` makes before it gives up: a
/// timer that re-arms itself with no delay would otherwise loop for ever.
const MAX_FIRINGS: usize = 100_000;

/// A declared timer and, for `every`, when it is next due.
pub(super) struct Declared {
    timer: DeclaredTimer,
    next_ms: Option<u64>,
}

pub(super) struct Timers {
    pub(super) declared: Vec<Declared>,
    /// With the order they were set in, which breaks ties between equal
    /// due times.
    pending: Vec<(PendingTimer, u64)>,
    next_seq: u64,
    max_pending: usize,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            declared: Vec::new(),
            pending: Vec::new(),
            next_seq: 0,
            max_pending: TIMERS_MAX_PENDING,
        }
    }
}

impl Timers {
    /// Takes the first call due at or before `until`, oldest first (declared
    /// timers before one-shots due at the same time), with its due time;
    /// re-arms an `every` timer.
    pub(super) fn take_due(&mut self, until: u64) -> Option<(u64, Due)> {
        let declared = self
            .declared
            .iter_mut()
            .filter_map(|d| d.next_ms.map(|at| (at, d)))
            .filter(|(at, _)| *at <= until)
            .min_by_key(|(at, _)| *at);
        let pending = self
            .pending
            .iter()
            .enumerate()
            .filter(|(_, (p, _))| p.due_ms <= until)
            .min_by_key(|(_, (p, seq))| (p.due_ms, *seq))
            .map(|(i, (p, _))| (p.due_ms, i));
        match (declared, pending) {
            (Some((at, d)), p) if p.is_none_or(|(due, _)| at <= due) => {
                if let Schedule::Every(interval) = &d.timer.schedule {
                    d.next_ms = Some(at.saturating_add(crate::timer::millis(*interval)));
                }
                Some((at, Due::new(d.timer.name.clone(), "")))
            }
            (_, Some((due, i))) => {
                let (p, _) = self.pending.remove(i);
                Some((due, Due::new(p.name, p.payload)))
            }
            _ => None,
        }
    }
}

impl MockHost {
    /// The timers declared so far, in the order first declared.
    pub fn declared_timers(&self) -> Vec<DeclaredTimer> {
        with_state(|s| s.timers.declared.iter().map(|d| d.timer.clone()).collect())
    }

    /// The one-shot timers not fired yet, soonest first.
    pub fn pending_timers(&self) -> Vec<PendingTimer> {
        with_state(|s| {
            let mut pending = s.timers.pending.clone();
            pending.sort_by_key(|(p, seq)| (p.due_ms, *seq));
            pending.into_iter().map(|(p, _)| p).collect()
        })
    }

    /// Sets how many one-shot timers may be pending (`timers_max_pending`).
    pub fn timers_max_pending(&self, max: usize) {
        with_state(|s| s.timers.max_pending = max);
    }

    /// Moves the clock on by `by` and returns the timer calls that came due
    /// meanwhile, in time order: one-shot timers (now no longer pending) and
    /// every tick of `every` timers. Nothing is called; see
    /// [`advance_firing`](Self::advance_firing) for that.
    pub fn advance(&self, by: Duration) -> Vec<Due> {
        with_state(|s| {
            let until = s.now_ms.saturating_add(crate::timer::millis(by));
            let mut due = Vec::new();
            while let Some((_, d)) = s.timers.take_due(until) {
                due.push(d);
            }
            s.now_ms = until;
            due
        })
    }

    /// Moves the clock on by `by`, calling `bot.on_timer` for each timer
    /// call that comes due, in time order, with the clock at its due time —
    /// as the gateway would. Timers the bot sets meanwhile fire too when they
    /// fall inside. Returns the calls made.
    ///
    /// # Panics
    ///
    /// After 100,000 calls in one go (a timer that re-arms itself with no
    /// delay).
    pub fn advance_firing<B: Bot>(&self, bot: &mut B, by: Duration) -> Vec<Due> {
        let until = with_state(|s| s.now_ms.saturating_add(crate::timer::millis(by)));
        let mut fired = Vec::new();
        loop {
            let next = with_state(|s| {
                let next = s.timers.take_due(until);
                if let Some((at, _)) = &next {
                    s.now_ms = s.now_ms.max(*at);
                }
                next
            });
            let Some((_, due)) = next else { break };
            assert!(
                fired.len() < MAX_FIRINGS,
                "more than {MAX_FIRINGS} timer calls in one advance; does `{}` re-arm itself with no delay?",
                due.name
            );
            bot.on_timer(&due.name, &due.payload);
            fired.push(due);
        }
        with_state(|s| s.now_ms = s.now_ms.max(until));
        fired
    }

    /// Calls `bot.on_timer` for every timer due now, without moving the
    /// clock (e.g. one set with no delay). Returns the calls made.
    pub fn fire_due<B: Bot>(&self, bot: &mut B) -> Vec<Due> {
        self.advance_firing(bot, Duration::ZERO)
    }
}

fn declare(timers: &mut Timers, timer: DeclaredTimer, next_ms: Option<u64>) {
    let declared = Declared { timer, next_ms };
    match timers
        .declared
        .iter_mut()
        .find(|d| d.timer.name == declared.timer.name)
    {
        Some(old) => *old = declared,
        None => timers.declared.push(declared),
    }
}

pub(crate) fn every(name: &str, interval_ms: u64) -> Result<(), String> {
    if interval_ms < 1000 {
        return Err(format!(
            "timer `{name}`: interval {interval_ms} ms, at least 1000"
        ));
    }
    with_state(|s| {
        let next = s.now_ms.saturating_add(interval_ms);
        let timer = DeclaredTimer {
            name: name.to_owned(),
            schedule: Schedule::Every(Duration::from_millis(interval_ms)),
        };
        declare(&mut s.timers, timer, Some(next));
    });
    Ok(())
}

pub(crate) fn cron(name: &str, expression: &str) -> Result<(), String> {
    // The gateway parses the expression; the mock checks its shape only.
    let fields = expression.split_whitespace().count();
    if !(6..=7).contains(&fields) {
        return Err(format!(
            "timer `{name}`: cron `{expression}` has {fields} fields, wants 6 or 7 fields                  (sec min hour day-of-month month day-of-week [year])"
        ));
    }
    with_state(|s| {
        let timer = DeclaredTimer {
            name: name.to_owned(),
            schedule: Schedule::Cron(expression.to_owned()),
        };
        declare(&mut s.timers, timer, None);
    });
    Ok(())
}

pub(crate) fn after(name: &str, delay_ms: u64, payload: &str) -> Result<(), String> {
    if payload.len() > TIMER_MAX_PAYLOAD_BYTES {
        return Err(format!(
            "payload is {} bytes, at most {TIMER_MAX_PAYLOAD_BYTES}",
            payload.len()
        ));
    }
    with_state(|s| {
        let t = &mut s.timers;
        let replacing = t.pending.iter().position(|(p, _)| p.name == name);
        if replacing.is_none() && t.pending.len() >= t.max_pending {
            return Err(format!(
                "{} one-shot timers are pending, at most timers_max_pending = {}",
                t.pending.len(),
                t.max_pending
            ));
        }
        if let Some(i) = replacing {
            t.pending.remove(i);
        }
        let seq = t.next_seq;
        t.next_seq += 1;
        let timer = PendingTimer {
            name: name.to_owned(),
            payload: payload.to_owned(),
            due_ms: s.now_ms.saturating_add(delay_ms.max(TIMER_MIN_DELAY_MS)),
        };
        t.pending.push((timer, seq));
        Ok(())
    })
}

pub(crate) fn cancel(name: &str) -> bool {
    with_state(|s| {
        let pending = &mut s.timers.pending;
        let before = pending.len();
        pending.retain(|(p, _)| p.name != name);
        pending.len() != before
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, Message, host};

    /// Records each timer call with the clock's reading; `chain` re-arms
    /// itself once, 5 s later.
    struct Clocked {
        calls: Vec<(String, u64)>,
    }

    impl Bot for Clocked {
        fn init(config: &Config) -> Result<Self, String> {
            if let Some(secs) = config.get("every") {
                let secs = secs.parse().map_err(|e| format!("{e}"))?;
                crate::timer::every("tick", Duration::from_secs(secs))?;
            }
            Ok(Clocked { calls: Vec::new() })
        }

        fn on_message(&mut self, _: &Message) -> Option<crate::Decision> {
            None
        }

        fn on_timer(&mut self, name: &str, payload: &str) {
            self.calls.push((name.to_owned(), host::now_ms()));
            if name == "chain" && payload == "first" {
                crate::timer::after("chain", Duration::from_secs(5), "second").unwrap();
            }
        }
    }

    #[test]
    fn timers_fire_at_their_due_time_with_chains() {
        let mock = MockHost::new();
        let t0 = mock.now_ms();
        let mut bot: Clocked = mock.init(&Config::from_iter([("every", "4")])).unwrap();
        crate::timer::after("chain", Duration::from_secs(3), "first").unwrap();
        let fired = mock.advance_firing(&mut bot, Duration::from_secs(10));
        assert_eq!(
            fired,
            [
                Due::new("chain", "first"),
                Due::new("tick", ""),
                // Declared timers go first at equal times.
                Due::new("tick", ""),
                Due::new("chain", "second"),
            ]
        );
        let at: Vec<u64> = bot.calls.iter().map(|(_, at)| at - t0).collect();
        assert_eq!(at, [3_000, 4_000, 8_000, 8_000]);
        assert_eq!(mock.now_ms(), t0 + 10_000);
        assert!(mock.pending_timers().is_empty());

        // A re-init (a swap) drops the old declarations and takes the new.
        let mut bot: Clocked = mock.init(&Config::default()).unwrap();
        assert!(mock.declared_timers().is_empty());
        assert_eq!(mock.advance_firing(&mut bot, Duration::from_secs(60)), []);

        // A timer set with no delay is rounded up to a second, as the
        // gateway does: not due at once, due after a second.
        crate::timer::after("now", Duration::ZERO, "").unwrap();
        assert_eq!(mock.fire_due(&mut bot), []);
        assert_eq!(
            mock.advance_firing(&mut bot, Duration::from_secs(1)),
            [Due::new("now", "")]
        );
    }

    #[test]
    fn advance_counts_every_tick() {
        let mock = MockHost::new();
        crate::timer::every("tick", Duration::from_secs(1)).unwrap();
        assert_eq!(mock.advance(Duration::from_millis(3500)).len(), 3);
        assert_eq!(mock.advance(Duration::from_millis(500)).len(), 1);
    }
}
