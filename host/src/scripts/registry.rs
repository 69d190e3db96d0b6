//! The loaded scripts, in pipeline order, and how a message goes through
//! them.
//!
//! Each `Script` slot keeps its current version behind an `ArcSwap` and one
//! long-lived instance behind an async mutex: calls to one script are
//! serialised, different scripts run in parallel. A call pins the version it
//! started with; a swap only changes what the *next* call gets. A trap, a
//! deadline or a memory-cap hit drops the instance; the next call rebuilds it.

use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use async_trait::async_trait;

use super::error::ScriptError;
use super::loaded::{Instance, LoadedScript};
use super::stats::{Outcome, ScriptStats};
use crate::model::InboundMessage;
use crate::pipeline::{Decision, Handled, Handler};
use crate::session::SessionHandle;

/// One script, across all its versions.
pub struct Script {
    pub name: Arc<str>,
    current: ArcSwap<LoadedScript>,
    /// The live instance. Async mutex: it is held across the guest call.
    instance: tokio::sync::Mutex<Option<Instance>>,
    /// An instance of the newest version, built and initialised by a swap,
    /// waiting for the next call to adopt it.
    ready: std::sync::Mutex<Option<Instance>>,
    pub stats: ScriptStats,
    /// How many times this script was swapped.
    pub generation: std::sync::atomic::AtomicU64,
}

impl Script {
    /// A slot for a first version and its already initialised instance.
    pub fn new(first: Instance) -> Script {
        let version = first.version.clone();
        Script {
            name: version.name.clone(),
            current: ArcSwap::new(version),
            instance: tokio::sync::Mutex::new(Some(first)),
            ready: std::sync::Mutex::new(None),
            stats: ScriptStats::default(),
            generation: Default::default(),
        }
    }

    pub fn current(&self) -> Arc<LoadedScript> {
        self.current.load_full()
    }

    /// How many times this script was swapped.
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Makes `next` (already instantiated and initialised) the version the
    /// next call uses. Calls in flight finish on the old one.
    pub fn swap(&self, next: Instance) {
        let version = next.version.clone();
        *self.ready.lock().unwrap_or_else(|p| p.into_inner()) = Some(next);
        self.current.store(version);
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Makes `slot` hold an instance of the current version: keeps it when
    /// it is one, else adopts the instance a swap prepared, else builds one.
    async fn adopt_current(
        &self,
        slot: &mut Option<Instance>,
        session: &SessionHandle,
    ) -> Result<(), ScriptError> {
        let current = self.current.load_full();
        if slot
            .as_ref()
            .is_some_and(|i| Arc::ptr_eq(&i.version, &current))
        {
            return Ok(());
        }
        let ready = self.ready.lock().unwrap_or_else(|p| p.into_inner()).take();
        *slot = Some(match ready.filter(|r| Arc::ptr_eq(&r.version, &current)) {
            Some(r) => r,
            None => {
                *slot = None;
                current.instantiate(session.clone()).await?
            }
        });
        Ok(())
    }

    /// Runs the script on `msg`. Failures are logged here and count as a pass.
    pub async fn call(&self, msg: &InboundMessage, session: &SessionHandle) -> Option<Decision> {
        let mut slot = self.instance.lock().await;
        if let Err(e) = self.adopt_current(&mut slot, session).await {
            tracing::error!(script = %self.name, msg_id = %msg.id, error = %e, "cannot rebuild the script; message passed on");
            self.stats.record(Outcome::Trap, std::time::Duration::ZERO);
            return None;
        }
        let instance = slot.as_mut()?;
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
                *slot = None;
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
}

impl Script {
    /// Delivers an event to this script if it exports `on-event`. Failures
    /// are logged and drop the instance, as for messages.
    pub async fn deliver(
        &self,
        event: &super::loaded::WitEvent,
        name: &str,
        session: &SessionHandle,
    ) {
        let mut slot = self.instance.lock().await;
        if let Err(e) = self.adopt_current(&mut slot, session).await {
            tracing::error!(script = %self.name, event = name, error = %e, "cannot rebuild the script; event missed");
            return;
        }
        let Some(instance) = slot.as_mut() else {
            return;
        };
        if !instance.wants_events() {
            return;
        }
        if let Err(e) = instance.on_event(event).await {
            *slot = None;
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
        mut events: tokio::sync::broadcast::Receiver<crate::session::SessionEvent>,
    ) {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            let event = match events.recv().await {
                Ok(crate::session::SessionEvent::Event(e)) => e,
                Ok(_) => continue,
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
                s.deliver(&wit, event.name(), &self.session).await;
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
