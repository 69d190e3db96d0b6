//! Timers: the gateway calls [`Bot::on_timer`](crate::Bot::on_timer) when one
//! is due.
//!
//! - **Declared** timers repeat: [`every`] (a fixed interval) and [`cron`] (a
//!   cron schedule with seconds, in the gateway's `timezone`). Declare them
//!   in [`Bot::init`](crate::Bot::init) — only there: the gateway keeps the
//!   declarations of the version serving, drops them when the bot is
//!   unloaded and takes the new ones after a swap. Their payload is empty.
//! - **One-shot** timers fire once: [`after`] (or [`after_json`]) sets one
//!   while handling a message or a timer, with a payload. They are durable: a
//!   timer due while the gateway is down fires when it is back, late but not
//!   lost. Setting a pending name again replaces it; [`cancel`] removes it.
//!
//! A timer call has the same limits as a message call and may
//! [`host::send`](crate::host::send); there is no message to reply to. Calls
//! to one instance never overlap.
//!
//! ```no_run
//! use std::time::Duration;
//! use openqq_bot::{Bot, Config, Decision, Message, timer};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Reminder { group: u64, text: String }
//!
//! struct Remind;
//!
//! impl Bot for Remind {
//!     fn init(_: &Config) -> Result<Self, String> {
//!         timer::cron("morning", "0 30 8 * * *")?; // 08:30:00 every day
//!         timer::every("tick", Duration::from_secs(60))?;
//!         Ok(Remind)
//!     }
//!     fn on_message(&mut self, msg: &Message) -> Option<Decision> {
//!         let group = msg.group_number()?;
//!         let text = msg.text().strip_prefix("remind ")?.to_owned();
//!         let r = timer::after_json("remind", Duration::from_secs(600), &Reminder { group, text });
//!         Some(Decision::reply(if r.is_ok() { "ok" } else { "cannot" }))
//!     }
//!     fn on_timer(&mut self, name: &str, payload: &str) {
//!         if name == "remind" {
//!             if let Ok(r) = timer::payload_json::<Reminder>(payload) {
//!                 let _ = openqq_bot::host::send(openqq_bot::Destination::group(r.group), &r.text);
//!             }
//!         }
//!     }
//! }
//! ```
//!
//! Durations are whole milliseconds: finer parts are dropped, and one too
//! long for a `u64` of milliseconds is taken as the longest.
//!
//! On native targets these calls go to the thread's
//! [`MockHost`](crate::testing::MockHost), whose clock a test moves to fire
//! timers ([`MockHost::advance_firing`](crate::testing::MockHost::advance_firing)).

use std::time::Duration;

#[cfg(target_arch = "wasm32")]
use crate::bindings::openqq::bot::timers as imp;
#[cfg(not(target_arch = "wasm32"))]
use crate::testing::timers as imp;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// `d` in whole milliseconds, saturating.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Declares a timer that fires every `interval` (at least one second), first
/// one interval from now. Only in `init`; declaring a name again replaces it.
///
/// # Errors
///
/// The gateway's reason: an interval under a second, a call outside `init`.
pub fn every(name: &str, interval: Duration) -> Result<(), String> {
    imp::every(name, millis(interval))
}

/// Declares a timer on a cron schedule with seconds: `sec min hour
/// day-of-month month day-of-week [year]`, e.g. `0 30 8 * * *` for 08:30:00
/// every day, in the gateway's `timezone`. Only in `init`.
///
/// # Errors
///
/// The gateway's reason: an expression it cannot read, a call outside `init`.
pub fn cron(name: &str, expression: &str) -> Result<(), String> {
    imp::cron(name, expression)
}

/// Sets a one-shot timer: [`Bot::on_timer`](crate::Bot::on_timer)`(name,
/// payload)` once, `delay` from now (at least a second: shorter delays are
/// rounded up). Setting a name that is pending replaces it. Keep the payload
/// small (what to do); data belongs in the [`kv`](crate::kv) store.
///
/// # Errors
///
/// The gateway's reason: too many pending (`timers_max_pending`, default
/// 1000), a payload over 4 KiB, too many writes in one call (64).
pub fn after(name: &str, delay: Duration, payload: &str) -> Result<(), String> {
    imp::after(name, millis(delay), payload)
}

/// Like [`after`], with `payload` encoded as JSON; read it back in `on_timer`
/// with [`payload_json`].
///
/// # Errors
///
/// A payload that cannot be encoded, or as [`after`].
pub fn after_json<T: Serialize + ?Sized>(
    name: &str,
    delay: Duration,
    payload: &T,
) -> Result<(), String> {
    let text = serde_json::to_string(payload)
        .map_err(|e| format!("timer `{name}`: cannot encode the payload: {e}"))?;
    after(name, delay, &text)
}

/// Cancels a pending one-shot timer; `true` when there was one.
pub fn cancel(name: &str) -> bool {
    imp::cancel(name)
}

/// Decodes a payload set with [`after_json`].
///
/// # Errors
///
/// A payload that is not JSON of `T`'s shape, with serde's reason.
pub fn payload_json<T: DeserializeOwned>(payload: &str) -> Result<T, String> {
    serde_json::from_str(payload).map_err(|e| format!("cannot decode the timer payload: {e}"))
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::testing::{Due, MockHost, PendingTimer, Schedule};

    #[test]
    fn declarations_are_recorded_and_checked() {
        let host = MockHost::new();
        every("tick", Duration::from_secs(60)).unwrap();
        cron("morning", "0 30 8 * * *").unwrap();
        every("tick", Duration::from_secs(30)).unwrap(); // replaces
        assert!(
            every("fast", Duration::from_millis(999))
                .unwrap_err()
                .contains("1000")
        );
        assert!(
            cron("bad", "every morning")
                .unwrap_err()
                .contains("6 or 7 fields")
        );
        let declared = host.declared_timers();
        assert_eq!(declared.len(), 2);
        assert_eq!(declared[0].name, "tick");
        assert_eq!(
            declared[0].schedule,
            Schedule::Every(Duration::from_secs(30))
        );
        assert_eq!(
            declared[1].schedule,
            Schedule::Cron("0 30 8 * * *".to_owned())
        );
    }

    #[test]
    fn one_shots_fire_in_due_order_and_can_be_replaced_or_cancelled() {
        let host = MockHost::new();
        let t0 = host.now_ms();
        after("b", Duration::from_secs(20), "B").unwrap();
        after("a", Duration::from_secs(10), "A").unwrap();
        after("c", Duration::from_secs(5), "C").unwrap();
        after("c", Duration::from_secs(30), "C2").unwrap(); // replaces
        after("gone", Duration::from_secs(1), "").unwrap();
        assert!(cancel("gone"));
        assert!(!cancel("gone"));
        assert_eq!(
            host.pending_timers(),
            [
                PendingTimer {
                    name: "a".into(),
                    payload: "A".into(),
                    due_ms: t0 + 10_000
                },
                PendingTimer {
                    name: "b".into(),
                    payload: "B".into(),
                    due_ms: t0 + 20_000
                },
                PendingTimer {
                    name: "c".into(),
                    payload: "C2".into(),
                    due_ms: t0 + 30_000
                },
            ]
        );
        assert_eq!(host.advance(Duration::from_secs(9)), []);
        assert_eq!(
            host.advance(Duration::from_secs(11)),
            [Due::new("a", "A"), Due::new("b", "B")]
        );
        assert_eq!(host.now_ms(), t0 + 20_000);
        assert_eq!(host.pending_timers().len(), 1);
    }

    #[test]
    fn json_payloads_round_trip() {
        let host = MockHost::new();
        after_json("j", Duration::from_millis(1500), &(7u64, "hi")).unwrap();
        let due = host.advance(Duration::from_secs(2));
        assert_eq!(
            payload_json::<(u64, String)>(&due[0].payload),
            Ok((7, "hi".to_owned()))
        );
        assert!(payload_json::<u64>("{").is_err());
    }

    #[test]
    fn limits_like_the_gateway() {
        let host = MockHost::new();
        host.timers_max_pending(2);
        after("a", Duration::ZERO, "").unwrap();
        after("b", Duration::ZERO, "").unwrap();
        after("a", Duration::ZERO, "again").unwrap(); // replacing is fine
        let err = after("c", Duration::ZERO, "").unwrap_err();
        assert!(err.contains("timers_max_pending = 2"), "{err}");
        let big = "x".repeat(4 * 1024 + 1);
        assert!(
            after("a", Duration::ZERO, &big)
                .unwrap_err()
                .contains("at most 4096")
        );
        assert_eq!(millis(Duration::MAX), u64::MAX);
        assert_eq!(millis(Duration::from_micros(1999)), 1);
    }
}
