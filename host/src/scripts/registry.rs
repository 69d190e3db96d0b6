//! The loaded scripts, in pipeline order, and how a message goes through
//! them.
//!
//! Each `Script` keeps its current version behind an `ArcSwap` and its
//! long-lived instances — one by default, up to one per pipeline lane with
//! `instances` — each behind an async mutex: calls to one instance are
//! serialised, different instances and scripts run in parallel. A chat
//! always goes to the same instance, so the state a bot keeps about a chat
//! stays in one place. A call pins the version it started with; a swap only
//! changes what the *next* call gets. A trap, a deadline or a memory-cap hit
//! drops that instance; the next call rebuilds it.

use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use arc_swap::ArcSwap;
use async_trait::async_trait;

use super::error::ScriptError;
use super::loaded::{Instance, LoadedScript, WitEvent};
use super::stats::{Outcome, ScriptStats};
use crate::model::InboundMessage;
use crate::pipeline::{Decision, Handled, Handler, spread};
use crate::session::SessionHandle;

/// One instance of a script and the one a swap prepared to replace it.
struct Slot {
    /// The live instance. Async mutex: it is held across the guest call.
    live: tokio::sync::Mutex<Option<Instance>>,
    /// An instance of the newest version, built and initialised by a swap,
    /// waiting for this slot's next call to adopt it.
    ready: std::sync::Mutex<Option<Instance>>,
}

impl Slot {
    fn new(live: Instance) -> Slot {
        Slot {
            live: tokio::sync::Mutex::new(Some(live)),
            ready: std::sync::Mutex::new(None),
        }
    }

    fn take_ready(&self) -> Option<Instance> {
        self.ready.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// One script, across all its versions.
pub struct Script {
    pub name: Arc<str>,
    current: ArcSwap<LoadedScript>,
    /// Never empty; its length is fixed for the script's life (a different
    /// `instances` setting makes a new `Script`).
    slots: Box<[Slot]>,
    pub stats: ScriptStats,
    /// How many times this script was swapped.
    generation: AtomicU64,
}

impl Script {
    /// A script with its first version's instances, already initialised.
    ///
    /// # Panics
    /// When `instances` is empty (the reloader always builds at least one).
    pub fn new(instances: Vec<Instance>) -> Script {
        let version = instances
            .first()
            .map(|i| i.version.clone())
            .expect("a script has at least one instance");
        Script {
            name: version.name.clone(),
            current: ArcSwap::new(version),
            slots: instances.into_iter().map(Slot::new).collect(),
            stats: ScriptStats::default(),
            generation: AtomicU64::new(0),
        }
    }

    /// As `new`, counting on from a script this one replaces.
    pub fn succeeding(old: &Script, instances: Vec<Instance>) -> Script {
        let next = Script::new(instances);
        next.generation
            .store(old.generation() + 1, Ordering::Relaxed);
        next
    }

    pub fn current(&self) -> Arc<LoadedScript> {
        self.current.load_full()
    }

    /// How many instances run side by side.
    pub fn instances(&self) -> usize {
        self.slots.len()
    }

    /// How many times this script was swapped.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    /// Makes `next` (already instantiated and initialised, one per slot)
    /// the version the next calls use. Calls in flight finish on the old
    /// one. A slot left without a prepared instance builds one on its next
    /// call.
    pub fn swap(&self, next: Vec<Instance>) {
        let Some(version) = next.first().map(|i| i.version.clone()) else {
            return;
        };
        for (slot, instance) in self.slots.iter().zip(next) {
            *slot.ready.lock().unwrap_or_else(|p| p.into_inner()) = Some(instance);
        }
        self.current.store(version);
        self.generation.fetch_add(1, Ordering::Relaxed);
    }

    /// The slot that serves `chat` (a message's or an event's chat key);
    /// account-wide events go to the first.
    fn slot_for(&self, chat: Option<&impl Hash>) -> &Slot {
        let i = chat.map_or(0, |c| spread(c, self.slots.len()));
        &self.slots[i.min(self.slots.len() - 1)]
    }

    /// Makes `live` hold an instance of the current version: keeps it when
    /// it is one, else adopts the instance a swap prepared, else builds one.
    async fn adopt_current(
        &self,
        slot: &Slot,
        live: &mut Option<Instance>,
        session: &SessionHandle,
    ) -> Result<(), ScriptError> {
        let current = self.current.load_full();
        if live
            .as_ref()
            .is_some_and(|i| Arc::ptr_eq(&i.version, &current))
        {
            return Ok(());
        }
        *live = match slot
            .take_ready()
            .filter(|r| Arc::ptr_eq(&r.version, &current))
        {
            Some(r) => Some(r),
            None => {
                *live = None;
                Some(current.instantiate(session.clone()).await?)
            }
        };
        Ok(())
    }

    /// Runs the script on `msg`. Failures are logged here and count as a pass.
    pub async fn call(&self, msg: &InboundMessage, session: &SessionHandle) -> Option<Decision> {
        let slot = self.slot_for(Some(&msg.chat_key()));
        let mut live = slot.live.lock().await;
        if let Err(e) = self.adopt_current(slot, &mut live, session).await {
            tracing::error!(script = %self.name, msg_id = %msg.id, error = %e, "cannot rebuild the script; message passed on");
            self.stats.record(Outcome::Trap, std::time::Duration::ZERO);
            return None;
        }
        let instance = live.as_mut()?;
        let started = Instant::now();
        let result = instance.on_message(msg).await;
        let took = started.elapsed();
        match result {
            Ok(Some(d)) => {
                self.stats.record(Outcome::Decision, took);
                Some(d)
            }
            Ok(None) => {
                self.stats.record(Outcome::Pass, took);
                None
            }
            Err(e) => {
                *live = None;
                let outcome = if matches!(e, ScriptError::Deadline { .. }) {
                    Outcome::Timeout
                } else {
                    Outcome::Trap
                };
                self.stats.record(outcome, took);
                tracing::error!(script = %self.name, msg_id = %msg.id, took_ms = took.as_millis() as u64, "{e}; instance dropped, message passed on");
                None
            }
        }
    }

    /// Delivers an event to this script if it exports `on-event`: to the
    /// instance of the chat it is about, once, however many instances run.
    /// Failures are logged and drop the instance, as for messages.
    pub async fn deliver(
        &self,
        event: &WitEvent,
        about: &crate::model::Event,
        session: &SessionHandle,
    ) {
        let name = about.name();
        let slot = self.slot_for(about.chat_key().as_ref());
        let mut live = slot.live.lock().await;
        if let Err(e) = self.adopt_current(slot, &mut live, session).await {
            tracing::error!(script = %self.name, event = name, error = %e, "cannot rebuild the script; event missed");
            return;
        }
        let Some(instance) = live.as_mut() else {
            return;
        };
        if !instance.wants_events() {
            return;
        }
        if let Err(e) = instance.on_event(event).await {
            *live = None;
            tracing::error!(script = %self.name, event = name, "{e}; instance dropped");
        }
    }
}

/// The scripts in pipeline order. Cheap to clone; the list itself is swapped
/// whole when scripts are added or removed.
#[derive(Clone)]
pub struct Registry {
    scripts: Arc<ArcSwap<Vec<Arc<Script>>>>,
    session: SessionHandle,
}

impl Registry {
    pub fn new(session: SessionHandle) -> Registry {
        Registry {
            scripts: Arc::new(ArcSwap::from_pointee(Vec::new())),
            session,
        }
    }

    pub fn session(&self) -> &SessionHandle {
        &self.session
    }

    /// The scripts now, in order.
    pub fn list(&self) -> Arc<Vec<Arc<Script>>> {
        self.scripts.load_full()
    }

    pub fn get(&self, name: &str) -> Option<Arc<Script>> {
        self.list().iter().find(|s| &*s.name == name).cloned()
    }

    /// Replaces the whole list (scripts added, removed or reordered).
    pub fn set(&self, scripts: Vec<Arc<Script>>) {
        self.scripts.store(Arc::new(scripts));
    }
}

impl Registry {
    /// Hands the session's events to every script that wants them, until
    /// the session goes away.
    pub async fn deliver_events(
        self,
        mut events: tokio::sync::broadcast::Receiver<Arc<crate::model::Event>>,
    ) {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            let event = match events.recv().await {
                Ok(e) => e,
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "bots fell behind on events: {n} lost");
                    continue;
                }
                Err(RecvError::Closed) => return,
            };
            let Some(wit) = super::loaded::event_to_wit(&event) else {
                continue;
            };
            for s in self.list().iter() {
                s.deliver(&wit, &event, &self.session).await;
            }
        }
    }
}

#[async_trait]
impl Handler for Registry {
    async fn handle(&self, msg: &InboundMessage) -> Option<Handled> {
        let scripts = self.list();
        for s in scripts.iter() {
            if let Some(decision) = s.call(msg, &self.session).await {
                return Some(Handled {
                    by: s.name.to_string(),
                    decision,
                });
            }
        }
        None
    }
}
