//! One version of one script (`LoadedScript`) and a live instance of it
//! (`Instance`), with the per-call deadline and memory cap.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::TypedFunc;
use wasmtime::{Store, Trap, UpdateDeadline};

use super::bindings::Bot;
use super::bindings::openqq::bot::types as wit;

/// An event as bots see it.
pub type WitEvent = wit::Event;
use super::engine::Prepared;
use super::error::{LoadStage, ScriptError};
use super::limits::init_deadline;
use super::state::BotState;
use crate::model::{ChatKind, ChatRef, InboundMessage, Person};
use crate::pipeline::Decision;
use crate::session::SessionHandle;

/// A compiled version of a script, with its settings.
pub struct LoadedScript {
    pub name: Arc<str>,
    pub path: std::path::PathBuf,
    pub prepared: Prepared,
    /// The flattened config table handed to `init`.
    pub config: Vec<(String, String)>,
    pub deadline: Duration,
    pub memory_mb: u64,
    /// Instances side by side (`instances`); chats are spread over them.
    pub instances: usize,
    pub loaded_at: std::time::SystemTime,
}

/// A live instance: reused across messages until it traps or a new version
/// replaces it.
pub struct Instance {
    pub version: Arc<LoadedScript>,
    store: Store<BotState>,
    bot: Bot,
    /// `on-event`, when the bot targets `bot-with-events`.
    on_event: Option<TypedFunc<(wit::Event,), ()>>,
}

impl LoadedScript {
    /// Instantiates this version and runs its `init`.
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
        let mut store = Store::new(engine, BotState::new(self.name.clone(), session, memory));
        store.limiter(|s| &mut s.limiter);
        // Each tick past the deadline check: stop the call if it is over
        // time, else yield to the runtime so other tasks run.
        store.epoch_deadline_callback(|ctx| match ctx.data().deadline {
            Some(d) if Instant::now() >= d => Ok(UpdateDeadline::Interrupt),
            _ => Ok(UpdateDeadline::Yield(1)),
        });
        store.set_epoch_deadline(1);
        store
            .data_mut()
            .begin("init", Instant::now() + init_deadline(self.deadline));
        // Instantiate untyped first, so the optional `on-event` export can be
        // looked up beside the world's typed exports.
        let instance = self
            .prepared
            .pre
            .instance_pre()
            .instantiate_async(&mut store)
            .await
            .map_err(|e| fail(LoadStage::Instantiate, format!("{e:#}")))?;
        let bot = Bot::new(&mut store, &instance)
            .map_err(|e| fail(LoadStage::Instantiate, format!("{e:#}")))?;
        let on_event = instance
            .get_typed_func::<(wit::Event,), ()>(&mut store, "on-event")
            .ok();
        store.set_epoch_deadline(1);
        let result = bot.call_init(&mut store, &self.config).await;
        store.data_mut().end();
        match result {
            Ok(Ok(())) => Ok(Instance {
                version: self.clone(),
                store,
                bot,
                on_event,
            }),
            Ok(Err(reason)) => Err(fail(LoadStage::Init, format!("init refused: {reason}"))),
            Err(e) => {
                let why = trap_reason(store.data().last_error(), &e);
                tracing::debug!(script = %self.name, "init trap: {e:?}");
                Err(fail(LoadStage::Init, format!("init trapped: {why}")))
            }
        }
    }
}

impl Instance {
    /// Whether this bot wants events (exports `on-event`).
    pub fn wants_events(&self) -> bool {
        self.on_event.is_some()
    }

    /// Calls `on-event` (a no-op for bots without it). After an `Err` the
    /// instance is poisoned, as for messages.
    pub async fn on_event(&mut self, event: &wit::Event) -> Result<(), ScriptError> {
        let Some(f) = self.on_event else {
            return Ok(());
        };
        let v = self.version.clone();
        self.store
            .data_mut()
            .begin("event", Instant::now() + v.deadline);
        self.store.set_epoch_deadline(1);
        let result = f.call_async(&mut self.store, (event.clone(),)).await;
        self.store.data_mut().end();
        let denied = self.store.data().limiter.denied;
        let guest_said = self.store.data().last_error();
        result.map_err(|e| classify(&v.name, v.deadline, v.memory_mb, denied, guest_said, e))
    }

    /// Calls `on-message`. After an `Err` the instance is poisoned and must
    /// be dropped (a trapped component cannot be entered again).
    pub async fn on_message(
        &mut self,
        msg: &InboundMessage,
    ) -> Result<Option<Decision>, ScriptError> {
        let v = &self.version;
        self.store
            .data_mut()
            .begin(&msg.id, Instant::now() + v.deadline);
        self.store.set_epoch_deadline(1);
        let result = self
            .bot
            .call_on_message(&mut self.store, &to_wit(msg))
            .await;
        self.store.data_mut().end();
        let denied = self.store.data().limiter.denied;
        let guest_said = self.store.data().last_error();
        match result {
            Ok(d) => Ok(d.map(|d| Decision {
                reply: d.reply,
                shutup: d.shutup.map(u64::from),
            })),
            Err(e) => Err(classify(
                &v.name,
                v.deadline,
                v.memory_mb,
                denied,
                guest_said,
                e,
            )),
        }
    }
}

fn classify(
    name: &str,
    deadline: Duration,
    memory_mb: u64,
    denied: Option<usize>,
    guest_said: Option<String>,
    e: wasmtime::Error,
) -> ScriptError {
    let script = name.to_string();
    if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        return ScriptError::Deadline {
            script,
            deadline_ms: deadline.as_millis() as u64,
        };
    }
    // The full wasm backtrace goes to the debug log; the reason says what
    // the guest said and which trap ended it.
    tracing::debug!(script, "trap: {e:?}");
    let reason = trap_reason(guest_said, &e);
    if denied.is_some() {
        return ScriptError::Memory {
            script,
            limit_mb: memory_mb,
            reason,
        };
    }
    ScriptError::Trap { script, reason }
}

/// "<what the guest said>; wasm trap: <trap>", or the error chain when the
/// guest said nothing.
fn trap_reason(guest_said: Option<String>, e: &wasmtime::Error) -> String {
    let trap = match e.downcast_ref::<Trap>() {
        Some(t) => format!("wasm trap: {t}"),
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
        E::Stop | E::StateChange { .. } | E::NewGroup(_) | E::LoseGroup(_) => return None,
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
