//! What happens to the account besides received messages: its own sends and
//! contact changes. v2 clients get them as reports (spec §7); bots could too.

use super::contact::{Friend, Group, GroupMember};
use super::ids::MsgId;
use super::message::{ChatKind, SendTarget};

/// Who asked for a send (the v2 send report's `from`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOrigin {
    /// An HTTP API call.
    Api,
    /// A WebAssembly bot (its reply or its `host.send`), by script name.
    Script(String),
    /// A reply in a `post_api` answer.
    Webhook,
}

impl SendOrigin {
    /// The v2 report's `from`: `api` for the HTTP API, `code` for bots,
    /// `bot` for post_api replies.
    pub fn v2_from(&self) -> &'static str {
        match self {
            SendOrigin::Api => "api",
            SendOrigin::Script(_) => "code",
            SendOrigin::Webhook => "bot",
        }
    }
}

/// One message the account sent (or tried to).
#[derive(Debug, Clone, PartialEq)]
pub struct SentMessage {
    pub msg_id: MsgId,
    pub target: SendTarget,
    pub content: String,
    pub origin: SendOrigin,
    /// Seconds since the Unix epoch.
    pub time: u64,
    /// `Err((code, info))` when it did not go through.
    pub outcome: Result<(), (i64, String)>,
}

/// A change in the account's world (the v2 event names).
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A login; `is_scan` true when ids changed (a fresh login).
    Login {
        is_scan: bool,
    },
    Stop,
    StateChange {
        old: String,
        new: String,
    },
    NewFriend(Friend),
    LoseFriend(Friend),
    NewGroupMember {
        member: GroupMember,
        group: Group,
    },
    LoseGroupMember {
        member: GroupMember,
        group: Group,
    },
}

impl Event {
    pub fn name(&self) -> &'static str {
        match self {
            Event::Login { .. } => "login",
            Event::Stop => "stop",
            Event::StateChange { .. } => "state_change",
            Event::NewFriend(_) => "new_friend",
            Event::LoseFriend(_) => "lose_friend",
            Event::NewGroupMember { .. } => "new_group_member",
            Event::LoseGroupMember { .. } => "lose_group_member",
        }
    }

    /// The chat this event is about, keyed as `InboundMessage::chat_key`
    /// keys messages; `None` for account-wide events.
    pub fn chat_key(&self) -> Option<(ChatKind, u64, u64)> {
        match self {
            Event::NewFriend(f) | Event::LoseFriend(f) => Some((ChatKind::Friend, f.qq.0, 0)),
            Event::NewGroupMember { group, .. } | Event::LoseGroupMember { group, .. } => {
                Some((ChatKind::Group, group.gnumber.0, 0))
            }
            Event::Login { .. } | Event::Stop | Event::StateChange { .. } => None,
        }
    }

    /// Whether the v2 `check_event` buffer keeps it (not lifecycle events).
    pub fn buffered(&self) -> bool {
        !matches!(
            self,
            Event::Login { .. } | Event::Stop | Event::StateChange { .. }
        )
    }
}

/// The events the v2 original posted by default (`post_event_list`).
pub const DEFAULT_EVENTS: &[&str] = &[
    "login",
    "stop",
    "state_change",
    "new_group",
    "new_friend",
    "new_group_member",
    "lose_group",
    "lose_friend",
    "lose_group_member",
];
