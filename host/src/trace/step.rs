//! One thing that happened to a traced message, in the JSON shape the
//! console and `/admin/trace` show (`kind` names the step).

use std::borrow::Cow;
use std::sync::Arc;

use serde::{Serialize, Serializer};

/// A bot version as its trace steps name it, made once per version (a step
/// then costs a reference count, not three strings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BotId {
    #[serde(serialize_with = "text")]
    pub bot: Arc<str>,
    /// The version's sha256, first 12 hex digits.
    pub version: Box<str>,
    /// Its world version, e.g. `0.2.0`.
    pub world: Box<str>,
}

impl BotId {
    /// `world` as the engine names it (`openqq:bot/bot@0.2.0`).
    pub fn new(bot: Arc<str>, sha256: &str, world: &str) -> BotId {
        BotId {
            bot,
            version: sha256.get(..12).unwrap_or(sha256).into(),
            world: world.rsplit_once('@').map_or(world, |(_, w)| w).into(),
        }
    }
}

/// Who made a send: a bot (by its shared name: no copy per send) or a
/// fixed name (`webhook`, `api`, a native handler).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    Named(&'static str),
    Bot(Arc<str>),
}

impl Who {
    pub fn as_str(&self) -> &str {
        match self {
            Who::Named(n) => n,
            Who::Bot(b) => b,
        }
    }
}

impl Serialize for Who {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A shared `BotId`, written as its fields (serde's `rc` feature would
/// rebuild every crate that uses serde for this one line).
fn bot_id<S: Serializer>(id: &Arc<BotId>, s: S) -> Result<S::Ok, S::Error> {
    (**id).serialize(s)
}

fn text<S: Serializer>(t: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(t)
}

/// A message id as text, as everywhere in the API.
fn as_text<S: Serializer>(id: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
    match id {
        Some(id) => s.collect_str(id),
        None => s.serialize_none(),
    }
}

/// One step of a trace.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Step {
    /// A bot was asked (or passed by without a call: `skipped`, `disabled`,
    /// `other_chat`).
    Bot {
        #[serde(flatten, serialize_with = "bot_id")]
        id: Arc<BotId>,
        outcome: BotOutcome,
        /// The trap message, the denial or the reason it was skipped.
        #[serde(skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
        /// How long the call took, in microseconds (0 without a call).
        us: u64,
    },
    /// The message was posted to the webhook (`post_api`).
    Webhook {
        /// `None` when no answer came (connection refused, timeout).
        status: Option<u16>,
        ms: u64,
        /// Whether its answer was carried out (a reply or a mute).
        acted: bool,
        /// Why the answer was not acted on, or why the post failed.
        #[serde(skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// A send the message caused: a reply, or a bot's `host.send`.
    Send {
        #[serde(serialize_with = "as_text")]
        msg_id: Option<u64>,
        outcome: Done,
        #[serde(skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
        /// Transport faults retried before the outcome.
        retries: u32,
        /// A bot's name, `webhook` or `api`.
        by: Who,
    },
    Mute {
        qq: String,
        outcome: Done,
        #[serde(skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    Kick {
        qq: String,
        outcome: Done,
        #[serde(skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// Anything else worth saying: a full chat line, no webhook, a dropped
    /// report, a panic.
    Fallback {
        detail: Cow<'static, str>,
        /// The message was lost here (the webhook's backlog was full).
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        dropped: bool,
    },
}

impl Step {
    /// A note that says something happened (not a loss).
    pub fn note(detail: impl Into<Cow<'static, str>>) -> Step {
        Step::Fallback {
            detail: detail.into(),
            dropped: false,
        }
    }
}

/// How a bot's turn with a message ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BotOutcome {
    /// It decided a reply (perhaps with a mute).
    Reply,
    /// It decided a mute only.
    Mute,
    /// It passed the message on.
    Pass,
    /// A grant or a cap refused what it asked (the message passed on).
    Denied,
    /// Stopped at its CPU deadline.
    Deadline,
    /// Stopped at its wall-clock limit.
    Wall,
    Trap,
    Memory,
    Resource,
    /// Not called: paused after failing, or its instance held too long.
    Skipped,
    /// Not called: disabled by the operator.
    Disabled,
    /// Not called: the chat is outside its `chats` grant.
    OtherChat,
}

impl BotOutcome {
    /// Words for a verdict: "keyword-reply passed".
    pub fn verb(self) -> &'static str {
        match self {
            BotOutcome::Reply => "replied",
            BotOutcome::Mute => "muted the sender",
            BotOutcome::Pass => "passed",
            BotOutcome::Denied => "was denied",
            BotOutcome::Deadline => "ran past its deadline",
            BotOutcome::Wall => "ran past its wall-clock limit",
            BotOutcome::Trap => "trapped",
            BotOutcome::Memory => "hit its memory cap",
            BotOutcome::Resource => "hit its resource cap",
            BotOutcome::Skipped => "was skipped",
            BotOutcome::Disabled => "is disabled",
            BotOutcome::OtherChat => "does not serve this chat",
        }
    }
}

/// Whether a send, mute or kick went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Done {
    Ok,
    Failed,
}

impl<T, E> From<&Result<T, E>> for Done {
    fn from(r: &Result<T, E>) -> Done {
        if r.is_ok() { Done::Ok } else { Done::Failed }
    }
}

/// A step and when it happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stamped {
    /// Microseconds since the trace began.
    pub at_us: u64,
    #[serde(flatten)]
    pub step: Step,
}
