//! The loaded scripts, in pipeline order, and how a message goes through
//! them.
//!
//! Each `Script` keeps its current version behind an `ArcSwap` and its
//! long-lived instances — one by default, up to one per pipeline lane with
//! `instances` — each behind an async mutex: calls to one instance are
//! serialised, different instances and scripts run in parallel. A chat
//! always goes to the same instance, so the state a bot keeps about a chat
//! stays in one place — except for a bot granted `http`, whose messages go
//! to any free instance (4 by default), so one call waiting seconds on a
//! web API does not hold up the bot's other chats. A call pins the version it started with; a swap only
//! changes what the *next* call gets.
//!
//! What a misbehaving bot can cost the others is bounded:
//! - a call ends at its deadline (running) or its wall-clock limit (waiting),
//!   and the instance is dropped;
//! - a message waits for the instance as long as the calls ahead of it take
//!   — each bounded so — but passes the bot by (counted as skipped) when one
//!   holder keeps it longer than the wall-clock limit plus `LOCK_GRACE` (an
//!   `init` rebuilding a dropped instance);
//! - the sends a call queued go out after it has released the instance;
//! - from the second failure (trap, limit, failed rebuild) within
//!   `FAILURE_WINDOW`, the instance is not rebuilt for a pause that doubles
//!   with each further failure (`Sandbox::pause_after`); messages meanwhile
//!   pass on at once, counted as skipped. Successes in between do not reset
//!   the count (a bot that fails on one chat's messages only is paused too);
//!   failures age out of the window, and a swap or a reload clears them.

use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use async_trait::async_trait;

use super::actions::{carry_out, queue_effects};
use super::error::ScriptError;
use super::host::over_chars;
use super::limits::{LOCK_GRACE, MAX_MUTE_SECS, MIN_MUTE_SECS, WARN_INTERVAL};
use super::loaded::{Instance, LoadedScript, WitEvent};
use super::slot::{Held, Live, Slot};
use super::stats::{Outcome, ScriptStats};
use crate::grants::Chat;
use crate::model::{Decided, DecidedBy, Decision, InboundMessage};
use crate::pipeline::{Effects, Handler, spread};
use crate::session::SessionHandle;
use crate::throttle::Throttle;
use crate::trace::{BotOutcome, Field, Handle, Header, Kind, Step, Traces};

/// Failures this recent count towards a pause.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// One script, across all its versions.
pub struct Script {
    pub name: Arc<str>,
    current: ArcSwap<LoadedScript>,
    /// The timers the serving version's `init` declared.
    declared: ArcSwap<Vec<crate::timers::Declared>>,
    /// Never empty; its length is fixed for the script's life (a different
    /// `instances` setting makes a new `Script`).
    slots: Box<[Slot]>,
    pub stats: ScriptStats,
    /// How many times this script was swapped.
    generation: AtomicU64,
    /// Bumped by a swap or a reload: every slot's failures are forgotten.
    clears: AtomicU64,
    skip_log: Throttle,
    /// Off: the bot stays loaded (instances, KV, counters) but is asked
    /// nothing — no message, event or timer (`/admin/scripts/<name>/disable`).
    enabled: AtomicBool,
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
        let declared = instances
            .first()
            .map(|i| i.declared().to_vec())
            .unwrap_or_default();
        Script {
            name: version.name.clone(),
            current: ArcSwap::new(version),
            declared: ArcSwap::from_pointee(declared),
            slots: instances.into_iter().map(Slot::new).collect(),
            stats: ScriptStats::default(),
            generation: AtomicU64::new(0),
            clears: AtomicU64::new(0),
            skip_log: Throttle::new(WARN_INTERVAL),
            enabled: AtomicBool::new(true),
        }
    }

    /// As `new`, counting on from a script this one replaces.
    pub fn succeeding(old: &Script, instances: Vec<Instance>) -> Script {
        let next = Script::new(instances);
        next.generation
            .store(old.generation() + 1, Ordering::Relaxed);
        next.set_enabled(old.enabled());
        next
    }

    pub fn current(&self) -> Arc<LoadedScript> {
        self.current.load_full()
    }

    /// Whether the bot is asked about messages, events and timers.
    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Turns the bot on or off without unloading it.
    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
    }

    /// A trace's step about this bot: `version` is the one the call used
    /// (the current one when there was no call).
    fn step(
        &self,
        version: Option<&LoadedScript>,
        outcome: BotOutcome,
        detail: Option<String>,
        took: Duration,
    ) -> Step {
        let id = match version {
            Some(v) => v.traced.clone(),
            None => self.current().traced.clone(),
        };
        Step::Bot {
            id,
            outcome,
            detail,
            us: u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
        }
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
    /// call. Failure pauses end.
    pub fn swap(&self, next: Vec<Instance>) {
        let Some(version) = next.first().map(|i| i.version.clone()) else {
            return;
        };
        let declared = next
            .first()
            .map(|i| i.declared().to_vec())
            .unwrap_or_default();
        for (slot, instance) in self.slots.iter().zip(next) {
            *slot.ready.lock().unwrap_or_else(|p| p.into_inner()) = Some(instance);
        }
        self.current.store(version);
        self.declared.store(Arc::new(declared));
        self.generation.fetch_add(1, Ordering::Relaxed);
        self.clear_failures();
    }

    /// The timers the serving version declared.
    pub fn declared(&self) -> Arc<Vec<crate::timers::Declared>> {
        self.declared.load_full()
    }

    /// Forgets every slot's failures and ends their pauses (a reload: the
    /// operator asked for the bot to be tried again).
    pub fn clear_failures(&self) {
        self.clears.fetch_add(1, Ordering::Relaxed);
        self.stats.clear_pause();
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

    /// Whether the slot is in a failure pause now (a swap or reload since
    /// the last failure ends it).
    fn paused(&self, live: &mut Live) -> bool {
        let clears = self.clears.load(Ordering::Relaxed);
        if live.cleared != clears {
            live.cleared = clears;
            live.failures.clear();
            live.paused_until = None;
        }
        live.paused_until.is_some_and(|t| Instant::now() < t)
    }

    /// Counts a failure of the slot's instance (already dropped) and starts
    /// the pause it earns; says so after `what` in one log line.
    fn failed(&self, live: &mut Live, e: &ScriptError, what: &str, msg_id: &str, took: Duration) {
        let now = Instant::now();
        while live
            .failures
            .front()
            .is_some_and(|&t| now.duration_since(t) > FAILURE_WINDOW)
        {
            live.failures.pop_front();
        }
        live.failures.push_back(now);
        let count = u32::try_from(live.failures.len()).unwrap_or(u32::MAX);
        let pause = self.current().sandbox.pause_after(count);
        live.paused_until = (!pause.is_zero()).then(|| now + pause);
        self.stats.note_failure(e.to_string(), count, pause);
        let limit = e.limit().unwrap_or("trap");
        let took_ms = took.as_millis() as u64;
        if pause.is_zero() {
            tracing::error!(script = %self.name, %msg_id, took_ms, limit, "{e}; instance dropped, {what}");
        } else {
            tracing::error!(script = %self.name, %msg_id, took_ms, limit, failures = count, pause_ms = pause.as_millis() as u64,
                "{e}; instance dropped, {what}; {count} failures within a minute: not rebuilt for {} ms, messages pass on meanwhile",
                pause.as_millis());
        }
    }

    /// Counts a message passed on without a call, and says so at most once
    /// per interval.
    fn skipped(&self, msg_id: &str, why: &str, trace: &Handle) {
        trace.step(|| {
            self.step(
                None,
                BotOutcome::Skipped,
                Some(why.to_string()),
                Duration::ZERO,
            )
        });
        self.stats.record_skip();
        if let Some(more) = self.skip_log.allow() {
            tracing::warn!(script = %self.name, %msg_id, held_back = more, "message passed on without calling the bot: {why}");
        }
    }

    /// The slot a message is handled in, held. A chat keeps to its own
    /// slot — unless the bot may wait on HTTP: then any free instance
    /// takes the message, so a call waiting seconds for an answer holds
    /// up no other chat while another instance is free (such a bot keeps
    /// per-chat state in its KV store, not in one instance's memory).
    async fn hold_for_message(&self, msg: &InboundMessage) -> Option<(&Slot, Held<'_>)> {
        if self.current().granted.waits_on_http() {
            // A free slot in a failure pause is no use: it would pass the
            // message on while a healthy one sits idle.
            let free = self.slots.iter().find_map(|s| {
                let mut live = s.try_hold()?;
                (!self.paused(&mut live)).then_some((s, live))
            });
            if free.is_some() {
                return free;
            }
        }
        let slot = self.slot_for(Some(&msg.chat_key()));
        let patience = self.current().wall + LOCK_GRACE;
        Some((slot, slot.hold(patience).await?))
    }

    /// Runs the script on `msg`. Failures are logged here and count as a
    /// pass; sends the call queued go out after the instance is released.
    pub async fn call(
        &self,
        msg: &InboundMessage,
        session: &SessionHandle,
        effects: &mut Effects,
    ) -> Option<Decision> {
        let trace = &msg.trace;
        if !self.enabled() {
            trace.step(|| self.step(None, BotOutcome::Disabled, None, Duration::ZERO));
            return None;
        }
        if !self.current().granted.listens(Chat::of_message(msg)) {
            self.stats.record_other_chat();
            trace.step(|| self.step(None, BotOutcome::OtherChat, None, Duration::ZERO));
            return None;
        }
        let Some((slot, mut live)) = self.hold_for_message(msg).await else {
            self.skipped(
                &msg.id,
                "its instance has been held longer than the wall-clock limit (rebuilding)",
                trace,
            );
            return None;
        };
        if self.paused(&mut live) {
            self.skipped(&msg.id, "it is paused after failing repeatedly", trace);
            return None;
        }
        let started = Instant::now();
        if let Err(e) = self.adopt_current(slot, &mut live.instance, session).await {
            self.stats.record(Outcome::Trap, started.elapsed());
            trace.step(|| {
                self.step(
                    None,
                    bot_outcome(&e),
                    Some(e.to_string()),
                    started.elapsed(),
                )
            });
            self.failed(
                &mut live,
                &e,
                "message passed on",
                &msg.id,
                started.elapsed(),
            );
            return None;
        }
        let instance = live.instance.as_mut()?;
        let version = instance.version.clone();
        let result = instance.on_message(msg).await;
        let queued = instance.take_queued();
        let denied = if trace.is_on() {
            instance.denied()
        } else {
            None
        };
        let took = started.elapsed();
        let outcome = match result {
            Ok(d) => Ok(d),
            Err(e) => {
                live.instance = None;
                self.stats.record(outcome_of(&e), took);
                trace
                    .step(|| self.step(Some(&version), bot_outcome(&e), Some(e.to_string()), took));
                self.failed(&mut live, &e, "message passed on", &msg.id, took);
                Err(())
            }
        };
        drop(live);
        // In the trace as in QQ: the bot's step, then its own sends, then
        // its decision's reply.
        let decided = match outcome {
            Err(()) => None,
            Ok(None) => {
                self.stats.record(Outcome::Pass, took);
                trace.step(|| {
                    let outcome = match denied {
                        Some(_) => BotOutcome::Denied,
                        None => BotOutcome::Pass,
                    };
                    self.step(
                        Some(&version),
                        outcome,
                        denied.map(|d| format!("denied: {d}")),
                        took,
                    )
                });
                None
            }
            Ok(Some(d)) => {
                let (d, refused) = self.within_caps(d, msg, &version);
                let outcome = if d.is_some() {
                    Outcome::Decision
                } else {
                    Outcome::Refused
                };
                self.stats.record(outcome, took);
                trace.step(|| {
                    let outcome = match &d {
                        None => BotOutcome::Denied,
                        Some(d) if d.reply.as_deref().is_some_and(|r| !r.is_empty()) => {
                            BotOutcome::Reply
                        }
                        Some(d) if d.shutup.is_some() => BotOutcome::Mute,
                        // An empty reply and no mute: nothing to do.
                        Some(_) => BotOutcome::Pass,
                    };
                    let detail = refused.or_else(|| denied.map(|d| format!("denied: {d}")));
                    self.step(Some(&version), outcome, detail, took)
                });
                d
            }
        };
        queue_effects(session, &version, queued, effects, trace);
        decided
    }

    /// The decision without what breaks a cap (a reply over
    /// `max_reply_chars`, a mute outside QQ's 60 s–30 days), each refusal
    /// logged naming the bot and the limit (at most once per interval);
    /// `None` when nothing is left to do, so the message passes on; with
    /// what was refused, if anything.
    fn within_caps(
        &self,
        mut d: Decision,
        msg: &InboundMessage,
        version: &LoadedScript,
    ) -> (Option<Decision>, Option<String>) {
        let mut refused = Vec::new();
        let max = version.sandbox.max_reply_chars;
        if let Some(chars) = d.reply.as_deref().and_then(|r| over_chars(r, max)) {
            refused.push(format!(
                "reply refused: {chars} characters, over [limits] max_reply_chars = {max}"
            ));
            d.reply = None;
        }
        if let Some(secs) = d
            .shutup
            .filter(|s| !(MIN_MUTE_SECS..=MAX_MUTE_SECS).contains(s))
        {
            refused.push(format!(
                "mute refused: {secs} s is outside QQ's {MIN_MUTE_SECS} s to {MAX_MUTE_SECS} s (30 days)"
            ));
            d.shutup = None;
        }
        if refused.is_empty() {
            return (Some(d), None);
        }
        let nothing_left = d.reply.is_none() && d.shutup.is_none();
        if let Some(held_back) = version.refusals.allow() {
            let then = if nothing_left {
                "; nothing is left of the decision: message passed on"
            } else {
                ""
            };
            tracing::error!(script = %self.name, msg_id = %msg.id, held_back, "{}{then}", refused.join("; "));
        }
        ((!nothing_left).then_some(d), Some(refused.join("; ")))
    }

    /// Delivers an event to this script if it exports `on-event`: to the
    /// instance of the chat it is about, once, however many instances run.
    /// Failures are logged and drop the instance, as for messages.
    pub async fn deliver(
        &self,
        event: &WitEvent,
        about: &crate::model::Event,
        session: &SessionHandle,
        trace: &Handle,
    ) {
        let name = about.name();
        if !self.enabled() {
            trace.step(|| self.step(None, BotOutcome::Disabled, None, Duration::ZERO));
            return;
        }
        if let Some(chat) = Chat::of_event(about)
            && !self.current().granted.listens(chat)
        {
            trace.step(|| self.step(None, BotOutcome::OtherChat, None, Duration::ZERO));
            return;
        }
        let slot = self.slot_for(about.chat_key().as_ref());
        let patience = self.current().wall + LOCK_GRACE;
        let Some(mut live) = slot.hold(patience).await else {
            self.skipped(
                name,
                "its instance has been held longer than the wall-clock limit (event missed)",
                trace,
            );
            return;
        };
        if self.paused(&mut live) {
            self.skipped(
                name,
                "it is paused after failing repeatedly (event missed)",
                trace,
            );
            return;
        }
        let started = Instant::now();
        if let Err(e) = self.adopt_current(slot, &mut live.instance, session).await {
            trace.step(|| {
                self.step(
                    None,
                    bot_outcome(&e),
                    Some(e.to_string()),
                    started.elapsed(),
                )
            });
            self.failed(&mut live, &e, "event missed", name, started.elapsed());
            return;
        }
        let Some(instance) = live.instance.as_mut() else {
            return;
        };
        if !instance.wants_events() {
            return;
        }
        let version = instance.version.clone();
        let result = instance
            .on_event(event, crate::grants::Handling::of_event(about))
            .await;
        let queued = instance.take_queued();
        let took = started.elapsed();
        let denied = trace.is_on().then(|| instance.denied()).flatten();
        match result {
            Ok(()) => trace.step(|| {
                called(
                    self.step(Some(&version), BotOutcome::Pass, None, took),
                    denied,
                )
            }),
            Err(e) => {
                live.instance = None;
                trace
                    .step(|| self.step(Some(&version), bot_outcome(&e), Some(e.to_string()), took));
                self.failed(&mut live, &e, "event missed", name, took);
            }
        }
        drop(live);
        if !queued.is_empty() {
            carry_out(session, &version, queued, trace).await;
        }
    }
}

impl Script {
    /// Calls `on-timer(name, payload)` on the first instance, which no
    /// message or event call holds meanwhile. Failures are logged, counted
    /// and paused like a message's; sends go out after the call.
    pub async fn fire_timer(
        &self,
        name: &str,
        payload: &str,
        chat: Option<Chat>,
        session: &SessionHandle,
        trace: &Handle,
    ) -> crate::timers::Fired {
        use crate::timers::Fired;
        // A 0.1.0 version cannot take timers: say so without holding the
        // slot its chats need.
        if !matches!(self.current().prepared.pre, super::engine::Linked::V2(_)) {
            trace.step(|| Step::note("a 0.1.0 bot cannot take timers"));
            return Fired::Absent;
        }
        // Disabled: its one-shot timers stay pending until it is enabled.
        if !self.enabled() {
            trace.step(|| self.step(None, BotOutcome::Disabled, None, Duration::ZERO));
            return Fired::Absent;
        }
        let what = format!("timer:{name}");
        let slot = &self.slots[0];
        let patience = self.current().wall + LOCK_GRACE;
        let Some(mut live) = slot.hold(patience).await else {
            self.skipped(
                &what,
                "its instance has been held longer than the wall-clock limit (timer delayed)",
                trace,
            );
            return Fired::Later;
        };
        if self.paused(&mut live) {
            self.skipped(
                &what,
                "it is paused after failing repeatedly (timer delayed)",
                trace,
            );
            return Fired::Later;
        }
        let started = Instant::now();
        if let Err(e) = self.adopt_current(slot, &mut live.instance, session).await {
            trace.step(|| {
                self.step(
                    None,
                    bot_outcome(&e),
                    Some(e.to_string()),
                    started.elapsed(),
                )
            });
            self.failed(&mut live, &e, "timer missed", &what, started.elapsed());
            return Fired::Called;
        }
        let Some(instance) = live.instance.as_mut() else {
            return Fired::Later;
        };
        if !instance.takes_timers() {
            return Fired::Absent;
        }
        let version = instance.version.clone();
        // A timer set in a chat the bot no longer serves handles none.
        let handling = crate::grants::Handling {
            chat: chat.filter(|c| version.granted.listens(*c)),
            sender: None,
        };
        let result = instance.on_timer(name, payload, handling).await;
        let queued = instance.take_queued();
        let took = started.elapsed();
        let denied = trace.is_on().then(|| instance.denied()).flatten();
        match &result {
            Ok(()) => {
                self.stats.record_timer(None);
                trace.step(|| {
                    called(
                        self.step(Some(&version), BotOutcome::Pass, None, took),
                        denied,
                    )
                });
            }
            Err(e) => {
                live.instance = None;
                self.stats.record_timer(Some(outcome_of(e)));
                trace.step(|| self.step(Some(&version), bot_outcome(e), Some(e.to_string()), took));
                self.failed(&mut live, e, "timer call lost", &what, took);
            }
        }
        drop(live);
        if !queued.is_empty() {
            carry_out(session, &version, queued, trace).await;
        }
        Fired::Called
    }
}

/// A call's step, `denied` when a grant refused something it asked.
fn called(step: Step, denied: Option<String>) -> Step {
    match (step, denied) {
        (Step::Bot { id, us, .. }, Some(d)) => Step::Bot {
            id,
            outcome: BotOutcome::Denied,
            detail: Some(format!("denied: {d}")),
            us,
        },
        (step, _) => step,
    }
}

/// How a failed call shows in a trace.
fn bot_outcome(e: &ScriptError) -> BotOutcome {
    match e {
        ScriptError::Deadline { .. } => BotOutcome::Deadline,
        ScriptError::WallClock { .. } => BotOutcome::Wall,
        ScriptError::Memory { .. } => BotOutcome::Memory,
        ScriptError::Resources { .. } => BotOutcome::Resource,
        ScriptError::Trap { .. } | ScriptError::Load { .. } => BotOutcome::Trap,
    }
}

fn outcome_of(e: &ScriptError) -> Outcome {
    match e {
        ScriptError::Deadline { .. } => Outcome::Timeout,
        ScriptError::WallClock { .. } => Outcome::WallClock,
        _ => Outcome::Trap,
    }
}

/// The scripts in pipeline order. Cheap to clone; the list itself is swapped
/// whole when scripts are added or removed.
#[derive(Clone)]
pub struct Registry {
    scripts: Arc<ArcSwap<Vec<Arc<Script>>>>,
    session: SessionHandle,
    timers: crate::timers::Timers,
    /// Notified when the list changes (the timer scheduler listens).
    changed: Arc<tokio::sync::Notify>,
    /// Where events and timer calls are traced (messages are traced by the
    /// pipeline, which begins their traces).
    traces: Traces,
}

impl Registry {
    pub fn new(session: SessionHandle, timers: crate::timers::Timers) -> Registry {
        Registry {
            scripts: Arc::new(ArcSwap::from_pointee(Vec::new())),
            session,
            timers,
            changed: Arc::new(tokio::sync::Notify::new()),
            traces: Traces::off(),
        }
    }

    /// Traces events and timer calls into `traces`.
    pub fn traced(mut self, traces: Traces) -> Registry {
        self.traces = traces;
        self
    }

    /// The trace ring (`/admin/trace` reads it).
    pub fn traces(&self) -> &Traces {
        &self.traces
    }

    /// Enables or disables the bot `name`; `None` when no such bot is
    /// loaded. A reload keeps the setting.
    pub fn set_enabled(&self, name: &str, on: bool) -> Option<bool> {
        let script = self.get(name)?;
        // Its one-shot timers due meanwhile wait as for an absent bot, and
        // fire at the scheduler's next look (within a minute) once enabled.
        script.set_enabled(on);
        tracing::info!(
            script = name,
            enabled = on,
            "bot {}",
            if on { "enabled" } else { "disabled" }
        );
        Some(on)
    }

    pub fn session(&self) -> &SessionHandle {
        &self.session
    }

    /// The clock, timers and KV database bots use.
    pub fn timers(&self) -> &crate::timers::Timers {
        &self.timers
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
        self.changed.notify_one();
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
            let trace = self.traces.begin(|| {
                let mut h = Header::new(Kind::Event);
                h.set(Field::Id, "event").set(Field::Content, event.name());
                if let Some(chat) = Chat::of_event(&event) {
                    h.set(Field::Chat, chat);
                }
                h
            });
            for s in self.list().iter() {
                s.deliver(&wit, &event, &self.session, &trace).await;
            }
        }
    }
}

impl crate::timers::TimerBots for Registry {
    fn declared(&self) -> Vec<(Arc<str>, Arc<Vec<crate::timers::Declared>>)> {
        self.list()
            .iter()
            .map(|s| (s.name.clone(), s.declared()))
            .collect()
    }

    fn fire(
        &self,
        bot: Arc<str>,
        name: String,
        payload: String,
        chat: Option<Chat>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = crate::timers::Fired> + Send>> {
        let registry = self.clone();
        Box::pin(async move {
            match registry.get(&bot) {
                Some(s) => {
                    let trace = registry.traces.begin(|| {
                        let mut h = Header::new(Kind::Timer);
                        h.set(Field::Id, format_args!("timer:{bot}")).content(&name);
                        if let Some(chat) = chat {
                            h.set(Field::Chat, chat);
                        }
                        h
                    });
                    s.fire_timer(&name, &payload, chat, &registry.session, &trace)
                        .await
                }
                None => crate::timers::Fired::Absent,
            }
        })
    }

    fn changed(&self) -> Arc<tokio::sync::Notify> {
        self.changed.clone()
    }
}

#[async_trait]
impl Handler for Registry {
    async fn handle(&self, msg: &InboundMessage, effects: &mut Effects) -> Option<Decided> {
        let scripts = self.list();
        for s in scripts.iter() {
            if let Some(decision) = s.call(msg, &self.session, effects).await {
                return Some(Decided {
                    by: DecidedBy::Script(s.name.clone()),
                    decision,
                });
            }
        }
        None
    }
}
