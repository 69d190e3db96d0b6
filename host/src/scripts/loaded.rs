//! One version of one script (`LoadedScript`) and a live instance of it
//! (`Instance`), with the per-call deadline, wall-clock limit and memory cap.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{ResourceTableError, TypedFunc};
use wasmtime::{CallHook, Store, Trap, UpdateDeadline};

use super::bindings::openqq::bot::types as wit;
use super::bindings::{v1, v2};

/// An event as bots see it.
pub type WitEvent = wit::Event;
use super::engine::{Linked, Prepared};
use super::error::{LoadStage, ScriptError};
use super::limits::{Sandbox, init_deadline, init_wall};
use super::state::{BotState, LogBudget};
use crate::grants::{Granted, Handling};
use crate::model::{ChatKind, ChatRef, Decision, InboundMessage, Person};
use crate::session::SessionHandle;
use crate::throttle::Throttle;

/// A compiled version of a script, with its settings.
pub struct LoadedScript {
    pub name: Arc<str>,
    pub path: std::path::PathBuf,
    pub prepared: Prepared,
    /// The flattened config table handed to `init`.
    pub config: Vec<(String, String)>,
    /// The guest's own running time per call.
    pub deadline: Duration,
    /// The whole call's time, waits included.
    pub wall: Duration,
    pub memory_mb: u64,
    /// Instances side by side (`instances`); chats are spread over them.
    pub instances: usize,
    /// The caps of `[limits]`.
    pub sandbox: Sandbox,
    /// What the bot may do beyond replying (`grants`).
    pub granted: Arc<Granted>,
    /// The log budget all instances of this version share.
    pub log: Arc<LogBudget>,
    /// The clock, the timers and the KV database the bot's imports use.
    pub timers: crate::timers::Timers,
    /// Failed sends and refused decisions are logged at most once per
    /// interval (a bot may cause one per message).
    pub refusals: Throttle,
    pub loaded_at: std::time::SystemTime,
    /// How trace steps name this version.
    pub traced: Arc<crate::trace::BotId>,
}

/// A live instance: reused across messages until it traps or a new version
/// replaces it.
pub struct Instance {
    pub version: Arc<LoadedScript>,
    store: Store<BotState>,
    exports: Exports,
    /// The timers its `init` declared.
    declared: Vec<crate::timers::Declared>,
}

/// A live instance's exports, by the world version it targets.
enum Exports {
    V1 {
        bot: v1::Bot,
        /// `on-event`, when the bot targets `bot-with-events`.
        on_event: Option<TypedFunc<(wit::Event,), ()>>,
    },
    V2(v2::Bot),
}

impl LoadedScript {
    /// A version of `spec` from its compiled code, granted `granted`, its
    /// KV and timers in `timers`' database.
    pub fn new(
        spec: &super::loader::ScriptSpec,
        prepared: Prepared,
        granted: Arc<Granted>,
        timers: crate::timers::Timers,
    ) -> LoadedScript {
        let name: Arc<str> = Arc::from(spec.name.as_str());
        let traced = Arc::new(crate::trace::BotId::new(
            name.clone(),
            &prepared.sha256,
            &prepared.world,
        ));
        LoadedScript {
            name,
            traced,
            path: spec.path.clone(),
            prepared,
            config: spec.config.clone(),
            deadline: spec.deadline,
            wall: spec.wall,
            memory_mb: spec.memory_mb,
            instances: spec.instances.max(1),
            sandbox: spec.sandbox,
            granted,
            log: Arc::new(LogBudget::new(&spec.sandbox)),
            timers,
            refusals: Throttle::new(super::limits::WARN_INTERVAL),
            loaded_at: std::time::SystemTime::now(),
        }
    }

    /// Instantiates this version and runs its `init`, within the init
    /// deadline and wall-clock limit. Sends `init` asked for stay queued in
    /// the instance: the caller carries them out (`Instance::take_queued`)
    /// once it keeps the instance.
    ///
    /// # Errors
    /// `ScriptError::Load` at the instantiate or init stage.
    pub async fn instantiate(
        self: &Arc<Self>,
        session: SessionHandle,
    ) -> Result<Instance, ScriptError> {
        let fail = |stage, reason: String| ScriptError::Load {
            script: self.name.to_string(),
            stage,
            reason,
        };
        let memory = usize::try_from(self.memory_mb.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
        let engine = self.prepared.pre.engine();
        let state = BotState::new(
            self.name.clone(),
            session.clone(),
            memory,
            self.sandbox,
            self.log.clone(),
            self.timers.clone(),
            self.granted.clone(),
        );
        let mut store = Store::new(engine, state);
        store.limiter(|s| &mut s.limiter);
        // The CPU clock stops while the guest is in the host (waiting on
        // HTTP, a sleep, the disk).
        store.call_hook(|mut ctx, hook| {
            match hook {
                CallHook::CallingHost => ctx.data_mut().in_host(true, Instant::now()),
                CallHook::ReturningFromHost => ctx.data_mut().in_host(false, Instant::now()),
                CallHook::CallingWasm | CallHook::ReturningFromWasm => {}
            }
            Ok(())
        });
        // At each tick: stop the call once its CPU deadline is spent, else
        // yield to the runtime so other tasks run.
        store.epoch_deadline_callback(|mut ctx| {
            if ctx.data_mut().cpu_tick(Instant::now()) {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        store.set_epoch_deadline(1);
        let deadline = init_deadline(self.deadline);
        let wall = init_wall(self.deadline, self.wall);
        store
            .data_mut()
            .begin("init", Handling::default(), deadline);
        store.data_mut().in_init = true;
        let started = tokio::time::timeout(wall, self.start(&mut store)).await;
        store.data_mut().in_init = false;
        store.data_mut().end();
        let exports = match started {
            Ok(Ok(Ok(started))) => started,
            Ok(Ok(Err(reason))) => {
                return Err(fail(LoadStage::Init, format!("init refused: {reason}")));
            }
            Ok(Err((stage, e))) => {
                let why = match classify(self, deadline, &store, e) {
                    ScriptError::Trap { reason, .. } => format!("init trapped: {reason}"),
                    limit => format!("init {}", limit_text(&limit)),
                };
                return Err(fail(stage, why));
            }
            Err(_) => {
                let limit = ScriptError::WallClock {
                    script: self.name.to_string(),
                    wall_ms: wall.as_millis() as u64,
                };
                return Err(fail(
                    LoadStage::Init,
                    format!("init {}", limit_text(&limit)),
                ));
            }
        };
        let declared = std::mem::take(&mut store.data_mut().declared);
        Ok(Instance {
            version: self.clone(),
            store,
            exports,
            declared,
        })
    }

    /// Instantiates and calls `init`: `Err` says at which stage it failed.
    async fn start(
        &self,
        store: &mut Store<BotState>,
    ) -> Result<Result<Exports, String>, (LoadStage, wasmtime::Error)> {
        // Instantiate untyped first, so 0.1.0's optional `on-event` export
        // can be looked up beside the world's typed exports.
        let instance = self
            .prepared
            .pre
            .instance_pre()
            .instantiate_async(&mut *store)
            .await
            .map_err(|e| (LoadStage::Instantiate, e))?;
        let instantiated = |e| (LoadStage::Instantiate, e);
        let exports = match &self.prepared.pre {
            Linked::V1(_) => Exports::V1 {
                bot: v1::Bot::new(&mut *store, &instance).map_err(instantiated)?,
                on_event: instance
                    .get_typed_func::<(wit::Event,), ()>(&mut *store, "on-event")
                    .ok(),
            },
            Linked::V2(_) => {
                Exports::V2(v2::Bot::new(&mut *store, &instance).map_err(instantiated)?)
            }
        };
        store.set_epoch_deadline(1);
        let init = match &exports {
            Exports::V1 { bot, .. } => bot.call_init(&mut *store, &self.config).await,
            Exports::V2(bot) => bot.call_init(&mut *store, &self.config).await,
        }
        .map_err(|e| (LoadStage::Init, e))?;
        Ok(init.map(|()| exports))
    }
}

/// "ran past its … limit …": what the error says after the script's name.
fn limit_text(e: &ScriptError) -> String {
    let text = e.to_string();
    match text.split_once(": ") {
        Some((_, rest)) => rest.to_string(),
        None => text,
    }
}

impl Instance {
    /// Whether this bot wants events (exports `on-event`).
    pub fn wants_events(&self) -> bool {
        match &self.exports {
            Exports::V1 { on_event, .. } => on_event.is_some(),
            Exports::V2(_) => true,
        }
    }

    /// Whether this bot can take timer calls (a 0.2.0 component).
    pub fn takes_timers(&self) -> bool {
        matches!(self.exports, Exports::V2(_))
    }

    /// The timers this instance's `init` declared.
    pub fn declared(&self) -> &[crate::timers::Declared] {
        &self.declared
    }

    /// The last call's first refusal by the bot's grants, if any.
    pub fn denied(&self) -> Option<String> {
        self.store.data().denied()
    }

    /// What the last call queued, to be carried out now, in order.
    pub fn take_queued(&mut self) -> Vec<super::actions::Queued> {
        self.store.data_mut().take_queued()
    }

    /// Calls `on-event` (a no-op for bots without it). After an `Err` the
    /// instance is poisoned, as for messages.
    pub async fn on_event(
        &mut self,
        event: &wit::Event,
        handling: Handling,
    ) -> Result<(), ScriptError> {
        let v = self.version.clone();
        self.store.data_mut().begin("event", handling, v.deadline);
        self.store.set_epoch_deadline(1);
        let result = match &self.exports {
            Exports::V1 { on_event: None, .. } => return Ok(()),
            Exports::V1 {
                on_event: Some(f), ..
            } => {
                let call = f.call_async(&mut self.store, (event.clone(),));
                tokio::time::timeout(v.wall, call).await
            }
            Exports::V2(bot) => {
                let call = bot.call_on_event(&mut self.store, event);
                tokio::time::timeout(v.wall, call).await
            }
        };
        self.store.data_mut().end();
        match result {
            Ok(r) => r.map_err(|e| classify(&v, v.deadline, &self.store, e)),
            Err(_) => Err(wall_clock(&v)),
        }
    }

    /// Calls `on-message`, within the deadline (the guest's running time)
    /// and the wall-clock limit (the whole call). After an `Err` the
    /// instance is poisoned and must be dropped (a trapped component — or
    /// one whose call was abandoned at the wall-clock limit — cannot be
    /// entered again).
    pub async fn on_message(
        &mut self,
        msg: &InboundMessage,
    ) -> Result<Option<Decision>, ScriptError> {
        let v = self.version.clone();
        self.store
            .data_mut()
            .begin(&msg.id, Handling::of_message(msg), v.deadline);
        self.store.data_mut().addressed = Some((msg.id.clone(), msg.addressing.clone()));
        // A dry run's store writes and timers are kept apart for the call.
        self.store.data_mut().dry_run = msg.trace.is_dry_run().then(Default::default);
        self.store.set_epoch_deadline(1);
        let message = to_wit(msg);
        // Dropping the call's future at the limit abandons the guest where
        // it waits; the caller drops this instance.
        let result = match &self.exports {
            Exports::V1 { bot, .. } => {
                let call = bot.call_on_message(&mut self.store, &message);
                tokio::time::timeout(v.wall, call).await
            }
            Exports::V2(bot) => {
                let call = bot.call_on_message(&mut self.store, &message);
                tokio::time::timeout(v.wall, call).await
            }
        };
        self.store.data_mut().end();
        if let Some(kept) = self.store.data_mut().dry_run.take()
            && let Some(said) = kept.summary(&v.name)
        {
            msg.trace.step(|| crate::trace::Step::note(said));
        }
        match result {
            Ok(Ok(d)) => Ok(d.map(|d| Decision {
                reply: d.reply,
                shutup: d.shutup.map(u64::from),
            })),
            Ok(Err(e)) => Err(classify(&v, v.deadline, &self.store, e)),
            Err(_) => Err(wall_clock(&v)),
        }
    }
}

impl Instance {
    /// Calls `on-timer(name, payload)` (0.2.0 bots; a no-op for others),
    /// with a message call's limits. After an `Err` the instance is
    /// poisoned, as for messages.
    pub async fn on_timer(
        &mut self,
        name: &str,
        payload: &str,
        handling: Handling,
    ) -> Result<(), ScriptError> {
        let Exports::V2(bot) = &self.exports else {
            return Ok(());
        };
        let v = self.version.clone();
        self.store
            .data_mut()
            .begin(&format!("timer:{name}"), handling, v.deadline);
        self.store.set_epoch_deadline(1);
        let call = bot.call_on_timer(&mut self.store, name, payload);
        let result = tokio::time::timeout(v.wall, call).await;
        self.store.data_mut().end();
        match result {
            Ok(r) => r.map_err(|e| classify(&v, v.deadline, &self.store, e)),
            Err(_) => Err(wall_clock(&v)),
        }
    }
}

fn wall_clock(v: &LoadedScript) -> ScriptError {
    ScriptError::WallClock {
        script: v.name.to_string(),
        wall_ms: v.wall.as_millis() as u64,
    }
}

/// Which limit, if any, ended a call that failed with `e`.
fn classify(
    v: &LoadedScript,
    deadline: Duration,
    store: &Store<BotState>,
    e: wasmtime::Error,
) -> ScriptError {
    let script = v.name.to_string();
    if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        return ScriptError::Deadline {
            script,
            deadline_ms: deadline.as_millis() as u64,
        };
    }
    let table_full = e.chain().any(|c| {
        matches!(
            c.downcast_ref::<ResourceTableError>(),
            Some(ResourceTableError::Full)
        )
    });
    if table_full {
        return ScriptError::Resources {
            script,
            limit: v.sandbox.max_resources,
        };
    }
    // The full wasm backtrace goes to the debug log; the reason says what
    // the guest said and which trap ended it.
    tracing::debug!(script = %script, "trap: {e:?}");
    let reason = trap_reason(store.data().last_error(), &e);
    if store.data().limiter.denied.is_some() {
        return ScriptError::Memory {
            script,
            limit_mb: v.memory_mb,
            reason,
        };
    }
    ScriptError::Trap { script, reason }
}

/// "<what the guest said>; wasm trap: <trap>", or the error chain when the
/// guest said nothing.
fn trap_reason(guest_said: Option<String>, e: &wasmtime::Error) -> String {
    // A `Trap` says "wasm trap: …" itself.
    let trap = match e.downcast_ref::<Trap>() {
        Some(t) => t.to_string(),
        None => format!("{e:#}"),
    };
    match guest_said {
        Some(said) => format!("{said} ({trap})"),
        None => trap,
    }
}

fn person(p: &Person) -> wit::Person {
    wit::Person {
        id: p.id.clone(),
        qq: p.qq.map(|q| q.0),
        name: p.name.clone(),
    }
}

fn chat(c: &ChatRef) -> wit::Chat {
    wit::Chat {
        id: c.id.clone(),
        number: c.number.map(|n| n.0),
        name: c.name.clone(),
    }
}

/// The WIT view of an event, for the events bots get (not stop or state
/// changes, which have nothing for a bot to do).
pub fn event_to_wit(e: &crate::model::Event) -> Option<wit::Event> {
    use crate::model::Event as E;
    let friend = |f: &crate::model::Friend| wit::Friend {
        id: f.id.clone(),
        qq: f.qq.0,
        nick: f.nick.clone(),
        markname: f.markname.clone(),
        category: f.category.clone(),
    };
    let change = |m: &crate::model::GroupMember, g: &crate::model::Group| wit::MemberChange {
        group: super::host::group_to_wit(g),
        member: super::host::member_to_wit(m),
    };
    Some(match e {
        E::Login { .. } => wit::Event::Login,
        E::NewFriend(f) => wit::Event::NewFriend(friend(f)),
        E::LoseFriend(f) => wit::Event::LoseFriend(friend(f)),
        E::NewGroupMember { member, group } => wit::Event::NewGroupMember(change(member, group)),
        E::LoseGroupMember { member, group } => wit::Event::LoseGroupMember(change(member, group)),
        E::Stop | E::StateChange { .. } => return None,
    })
}

/// The WIT view of a message.
pub fn to_wit(msg: &InboundMessage) -> wit::Message {
    wit::Message {
        id: msg.id.clone(),
        kind: match msg.kind {
            ChatKind::Friend => wit::ChatKind::Friend,
            ChatKind::Group => wit::ChatKind::Group,
            ChatKind::Discuss => wit::ChatKind::Discuss,
            ChatKind::Sess => wit::ChatKind::Sess,
        },
        time: msg.time,
        content: msg.content.clone(),
        sender: person(&msg.sender),
        receiver: person(&msg.receiver),
        group: msg.group.as_ref().map(chat),
        discuss: msg.discuss.as_ref().map(chat),
    }
}
