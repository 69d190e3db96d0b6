//! Timers: bots acting on a schedule, not only when a message arrives.
//!
//! Owns: declared timers' schedules (`schedule`), the time bots see
//! (`clock`), the pending one-shot timers' index (`Timers`, mirroring the
//! database), and the task that fires them (`scheduler`).
//! Must not: call bots itself — it asks `TimerBots` (the script registry),
//! so this module does not depend on `scripts`.
//!
//! Two kinds, after the spec (`capabilities.md`):
//! - *declared* in `init` (`every`, `cron`): kept in memory with the version
//!   that declared them, dropped when the bot is unloaded, replaced by the
//!   next version's after a swap;
//! - *one-shot* (`after`), set while handling anything: durable (written
//!   before `after` returns), fired late rather than never after a restart.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::grants::Chat;
use crate::storage::{Pending, Storage};

mod clock;
mod schedule;
mod scheduler;

pub use clock::Clock;
pub use schedule::{MIN_INTERVAL, Schedule, Zone};
pub use scheduler::run;

/// The most timers one version of a bot may declare.
pub const MAX_DECLARED: usize = 32;
/// The longest timer name, in bytes.
pub const MAX_NAME_BYTES: usize = 256;
/// The largest one-shot payload, in bytes: a payload says what to do
/// (data belongs in the KV, under its quota), so pending timers hold at
/// most `timers_max_pending` × 4 KiB of a bot's.
pub const MAX_PAYLOAD_BYTES: usize = 4 << 10;
/// The shortest delay of a one-shot timer (shorter ones are rounded up).
pub const MIN_DELAY: std::time::Duration = std::time::Duration::from_secs(1);

/// A timer a bot declared in `init`.
#[derive(Debug, Clone, PartialEq)]
pub struct Declared {
    pub name: String,
    pub schedule: Schedule,
}

/// What became of a timer call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fired {
    /// The bot was called (it may have failed: that is logged and counted
    /// like a message's failure, and a one-shot timer is used up).
    Called,
    /// The bot is not loaded, or cannot take timers (a 0.1.0 component):
    /// a one-shot timer stays pending.
    Absent,
    /// The bot could not be called now (paused after failures, instance
    /// held): a one-shot timer is tried again shortly.
    Later,
}

/// The bots, as the scheduler sees them (implemented by the script
/// registry).
pub trait TimerBots: Send + Sync + 'static {
    /// Every loaded bot and the timers its serving version declared. The
    /// `Arc` is a new one whenever the declarations may have changed.
    fn declared(&self) -> Vec<(Arc<str>, Arc<Vec<Declared>>)>;

    /// Calls `bot`'s `on-timer(name, payload)`; `chat` is the chat a
    /// one-shot timer was set in (its call may send back there).
    fn fire(
        &self,
        bot: Arc<str>,
        name: String,
        payload: String,
        chat: Option<Chat>,
    ) -> Pin<Box<dyn Future<Output = Fired> + Send>>;

    /// Notified when bots are loaded, swapped or unloaded.
    fn changed(&self) -> Arc<Notify>;
}

/// The pending one-shot timers and the clock: shared by the scheduler and
/// every bot's `timers` import. Cheap to clone.
#[derive(Clone)]
pub struct Timers(Arc<Inner>);

struct Inner {
    storage: Arc<Storage>,
    clock: Clock,
    zone: Zone,
    /// `(bot, name) → pending`, as in the database.
    index: Mutex<BTreeMap<(String, String), Pending>>,
    /// Held across a change's database write and its index update, so
    /// concurrent `after`/`cancel` of one name leave both in the same order.
    writer: Mutex<()>,
    /// Wakes the scheduler: a timer was set or cancelled, the clock moved.
    wake: Notify,
}

impl Timers {
    /// Reads the pending one-shot timers from `storage`.
    ///
    /// # Errors
    /// The database cannot be read.
    pub fn new(storage: Arc<Storage>, clock: Clock, zone: Zone) -> anyhow::Result<Timers> {
        let pending = storage.oneshots().map_err(anyhow::Error::msg)?;
        let index = pending
            .into_iter()
            .map(|p| ((p.bot.clone(), p.name.clone()), p))
            .collect();
        Ok(Timers(Arc::new(Inner {
            storage,
            clock,
            zone,
            index: Mutex::new(index),
            writer: Mutex::new(()),
            wake: Notify::new(),
        })))
    }

    pub fn storage(&self) -> &Arc<Storage> {
        &self.0.storage
    }

    pub fn clock(&self) -> &Clock {
        &self.0.clock
    }

    pub fn zone(&self) -> Zone {
        self.0.zone
    }

    /// The time bots and timers see.
    pub fn now_ms(&self) -> u64 {
        self.0.clock.now_ms()
    }

    /// Moves the clock forward (sim only) and lets due timers fire.
    ///
    /// # Errors
    /// As `Clock::advance`.
    pub fn advance(&self, ms: u64) -> Result<u64, String> {
        let now = self.0.clock.advance(ms)?;
        self.0.wake.notify_one();
        Ok(now)
    }

    /// Sets (or replaces) `bot`'s one-shot timer `name`, due `delay_ms`
    /// from now, remembering `chat`, the chat it was set in. Blocking: it
    /// returns once the timer is on disk.
    ///
    /// # Errors
    /// A name or payload over its cap, too many pending, or the database.
    pub fn set_after(
        &self,
        bot: &str,
        name: &str,
        delay_ms: u64,
        payload: &str,
        chat: Option<Chat>,
        max_pending: usize,
    ) -> Result<(), String> {
        check_name(name)?;
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(format!(
                "payload is {} bytes, at most {MAX_PAYLOAD_BYTES}",
                payload.len()
            ));
        }
        // A timer is never due sooner than `MIN_DELAY`: a bot re-arming
        // itself from `on-timer` cannot spin at the disk's speed.
        let delay_ms = delay_ms.max(MIN_DELAY.as_millis() as u64);
        let due = self.now_ms().saturating_add(delay_ms);
        let _writing = self.0.writer.lock().unwrap_or_else(|p| p.into_inner());
        let p = self.0.storage.oneshot_put(
            bot,
            name,
            due,
            payload,
            chat.map(Chat::to_stored),
            max_pending,
        )?;
        self.lock().insert((p.bot.clone(), p.name.clone()), p);
        self.0.wake.notify_one();
        Ok(())
    }

    /// Cancels `bot`'s one-shot timer `name`; whether there was one.
    /// Blocking.
    ///
    /// # Errors
    /// The database.
    pub fn cancel(&self, bot: &str, name: &str) -> Result<bool, String> {
        let _writing = self.0.writer.lock().unwrap_or_else(|p| p.into_inner());
        let removed = self.0.storage.oneshot_remove(bot, name, None)?;
        self.lock().remove(&(bot.to_string(), name.to_string()));
        Ok(removed)
    }

    /// Cancels every pending one-shot timer of `bot`; how many. Blocking.
    ///
    /// # Errors
    /// The database.
    pub fn cancel_all(&self, bot: &str) -> Result<usize, String> {
        let names: Vec<String> = self.pending(bot).into_iter().map(|p| p.name).collect();
        for name in &names {
            self.cancel(bot, name)?;
        }
        Ok(names.len())
    }

    /// Forgets the index entry of a timer that fired (or was found gone),
    /// unless it was set again meanwhile.
    pub(crate) fn forget(&self, p: &Pending) {
        let _writing = self.0.writer.lock().unwrap_or_else(|e| e.into_inner());
        let mut index = self.lock();
        let key = (p.bot.clone(), p.name.clone());
        if index.get(&key).is_some_and(|q| q.seq == p.seq) {
            index.remove(&key);
        }
    }

    /// `bot`'s pending one-shot timers.
    pub fn pending(&self, bot: &str) -> Vec<Pending> {
        self.lock()
            .values()
            .filter(|p| p.bot == bot)
            .cloned()
            .collect()
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), Pending>> {
        self.0.index.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Timer names: not empty, at most `MAX_NAME_BYTES`.
///
/// # Errors
/// Says which.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a timer needs a name".to_string());
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(format!(
            "timer name is {} bytes, at most {MAX_NAME_BYTES}",
            name.len()
        ));
    }
    Ok(())
}

/// Timers over a fresh database in a directory already removed (Linux keeps
/// the open file), with a movable clock: for unit tests.
#[cfg(test)]
pub(crate) fn scratch() -> Timers {
    let (_dir, storage) = crate::storage::temp();
    Timers::new(storage, Clock::new(true), Zone::Local).expect("a fresh database reads")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_follows_the_database_and_a_replaced_timer_is_not_forgotten() {
        let t = scratch();
        t.set_after("b", "x", 0, "one", None, 10).unwrap();
        let first = t.pending("b")[0].clone();
        // Rounded up to the shortest delay.
        assert!(first.due_ms >= t.now_ms() + MIN_DELAY.as_millis() as u64 - 50);
        t.set_after("b", "x", 5000, "two", None, 10).unwrap();
        let second = t.pending("b")[0].clone();
        assert_ne!(first.seq, second.seq);
        // The first firing's bookkeeping leaves the second alone.
        t.forget(&first);
        assert_eq!(t.pending("b"), vec![second.clone()]);
        assert!(t.cancel("b", "x").unwrap());
        assert!(t.pending("b").is_empty());
        t.set_after("b", "p", 10, "", None, 10).unwrap();
        t.set_after("b", "q", 10, "", None, 10).unwrap();
        t.set_after("c", "p", 10, "", None, 10).unwrap();
        assert_eq!(t.cancel_all("b").unwrap(), 2);
        assert_eq!(t.pending("c").len(), 1);
        t.cancel_all("c").unwrap();
        assert!(t.storage().oneshots().unwrap().is_empty());
        let big = "x".repeat(MAX_PAYLOAD_BYTES + 1);
        assert!(
            t.set_after("b", "y", 0, &big, None, 10)
                .unwrap_err()
                .contains("payload")
        );
    }
}
