//! Inbound messages and outbound targets, in the session's terms.

use serde::{Deserialize, Serialize};

use super::ids::{GroupNumber, Qq};

/// Where a message was said (the Openqq report `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatKind {
    /// Private chat with a friend (`message`).
    Friend,
    /// A group (`group_message`).
    Group,
    /// A discussion (`discuss_message`).
    Discuss,
    /// A temp chat started from a group or a discussion (`sess_message`).
    Sess,
}

impl ChatKind {
    /// The v1 report `type` for this kind.
    pub fn v1_type(self) -> &'static str {
        match self {
            ChatKind::Friend => "message",
            ChatKind::Group => "group_message",
            ChatKind::Discuss => "discuss_message",
            ChatKind::Sess => "sess_message",
        }
    }
}

/// A person as seen in one message: session id, number (when known), and the
/// name shown in that chat.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Person {
    pub id: String,
    pub qq: Option<Qq>,
    pub name: String,
}

/// A group or discussion as seen in one message.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChatRef {
    /// `gid` or `did`.
    pub id: String,
    /// `gnumber`; `None` for discussions.
    pub number: Option<GroupNumber>,
    /// The backend's stable key for a discussion (0 for groups).
    pub key: u64,
    pub name: String,
}

/// A message the account received, normalised by the session: ids and display
/// names filled in from the contact cache. Serialised as the journal
/// records it (`crate::journal`): every field but the trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundMessage {
    /// QQ's id for the message (the report's `msg_id`).
    pub id: String,
    pub kind: ChatKind,
    /// Seconds since the Unix epoch.
    pub time: u64,
    pub content: String,
    pub sender: Person,
    pub receiver: Person,
    /// For group messages, and sess messages via a group.
    pub group: Option<ChatRef>,
    /// For discussion messages, and sess messages via a discussion.
    pub discuss: Option<ChatRef>,
    /// Who it addresses: role, mentions, quote (0.2.0 `addressing`).
    /// Journals written before it existed read as addressing nobody.
    #[serde(default)]
    pub addressing: super::Addressing,
    /// What happens to the message, step by step (`crate::trace`); off
    /// unless the pipeline began a trace for it. Never part of equality,
    /// never journaled.
    #[serde(skip)]
    pub trace: crate::trace::Handle,
}

impl InboundMessage {
    /// A key naming the chat this message belongs to: messages with equal keys
    /// must be handled in order.
    pub fn chat_key(&self) -> (ChatKind, u64, u64) {
        let sender = self.sender.qq.map_or(0, |q| q.0);
        match self.kind {
            ChatKind::Friend => (self.kind, sender, 0),
            ChatKind::Group => (
                self.kind,
                self.group
                    .as_ref()
                    .and_then(|g| g.number)
                    .map_or(0, |n| n.0),
                0,
            ),
            ChatKind::Discuss => (self.kind, self.discuss.as_ref().map_or(0, |d| d.key), 0),
            ChatKind::Sess => (
                self.kind,
                sender,
                self.group
                    .as_ref()
                    .and_then(|g| g.number)
                    .map_or(0, |n| n.0),
            ),
        }
    }
}

/// A resolved place to send to. It carries both the session ids (what the
/// client asked for; recorded by the simulator) and the stable numbers (what a
/// backend delivers to).
#[derive(Debug, Clone, PartialEq)]
pub enum SendTarget {
    Friend {
        id: String,
        qq: Qq,
    },
    Group {
        gid: String,
        gnumber: GroupNumber,
    },
    Discuss {
        did: String,
        key: u64,
    },
    GroupSess {
        gid: String,
        gnumber: GroupNumber,
        id: String,
        qq: Qq,
    },
    DiscussSess {
        did: String,
        key: u64,
        id: String,
        qq: Qq,
    },
}

impl SendTarget {
    /// The Openqq send route that addresses this target.
    pub fn action(&self) -> &'static str {
        match self {
            SendTarget::Friend { .. } => "send_message",
            SendTarget::Group { .. } => "send_group_message",
            SendTarget::Discuss { .. } => "send_discuss_message",
            SendTarget::GroupSess { .. } | SendTarget::DiscussSess { .. } => "send_sess_message",
        }
    }
}

/// A resolved group member, for mute and kick: session ids beside numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberRef {
    pub gid: String,
    pub gnumber: GroupNumber,
    pub id: String,
    pub qq: Qq,
}
