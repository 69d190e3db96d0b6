//! One instance slot of a script: the live instance behind an async
//! mutex (held across a guest call), when its holder took it, and the
//! instance a swap prepared for it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::loaded::Instance;

/// One instance of a script and the one a swap prepared to replace it.
pub struct Slot {
    /// The live instance and its failures. Async mutex: it is held across
    /// the guest call.
    live: tokio::sync::Mutex<Live>,
    /// When the current holder of `live` took it; `None` when free.
    held_since: std::sync::Mutex<Option<Instant>>,
    /// An instance of the newest version, built and initialised by a swap,
    /// waiting for this slot's next call to adopt it.
    pub ready: std::sync::Mutex<Option<Instance>>,
}

/// What a slot's mutex guards.
pub struct Live {
    pub instance: Option<Instance>,
    /// When the recent failures happened (within `FAILURE_WINDOW`).
    pub failures: VecDeque<Instant>,
    /// Until when the instance is not rebuilt.
    pub paused_until: Option<Instant>,
    /// The script's `clears` when `failures` was last counted: a swap or a
    /// reload since then starts over.
    pub cleared: u64,
}

/// The slot's instance, held; marks the slot free again when dropped.
pub struct Held<'a> {
    live: tokio::sync::MutexGuard<'a, Live>,
    since: &'a std::sync::Mutex<Option<Instant>>,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        *self.since.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

impl std::ops::Deref for Held<'_> {
    type Target = Live;
    fn deref(&self) -> &Live {
        &self.live
    }
}

impl std::ops::DerefMut for Held<'_> {
    fn deref_mut(&mut self) -> &mut Live {
        &mut self.live
    }
}

impl Slot {
    pub fn new(live: Instance) -> Slot {
        Slot {
            live: tokio::sync::Mutex::new(Live {
                instance: Some(live),
                failures: VecDeque::new(),
                paused_until: None,
                cleared: 0,
            }),
            held_since: std::sync::Mutex::new(None),
            ready: std::sync::Mutex::new(None),
        }
    }

    pub fn take_ready(&self) -> Option<Instance> {
        self.ready.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    fn holder_since(&self) -> Option<Instant> {
        *self.held_since.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the instance if no call holds it now.
    pub fn try_hold(&self) -> Option<Held<'_>> {
        let live = self.live.try_lock().ok()?;
        *self.held_since.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        Some(Held {
            live,
            since: &self.held_since,
        })
    }

    /// Takes the instance, waiting for the calls ahead; `None` when the one
    /// holding it has held it past `patience` (it is rebuilding, or stuck
    /// past its limits): the caller passes the bot by.
    pub async fn hold(&self, patience: Duration) -> Option<Held<'_>> {
        loop {
            let holder = self.holder_since();
            let until = holder.unwrap_or_else(Instant::now) + patience;
            match tokio::time::timeout_at(until.into(), self.live.lock()).await {
                Ok(live) => {
                    *self.held_since.lock().unwrap_or_else(|p| p.into_inner()) =
                        Some(Instant::now());
                    return Some(Held {
                        live,
                        since: &self.held_since,
                    });
                }
                // The same holder all along: it is the one that is slow.
                Err(_) if self.holder_since() == holder => return None,
                // Others came and went: wait for the one holding it now.
                Err(_) => continue,
            }
        }
    }
}
