//! What can go wrong in the session, in terms callers branch on.

use crate::model::MsgId;

/// The kind of contact a look-up did not find; each maps to an Openqq code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    Friend,
    Group,
    Discuss,
    GroupMember,
    DiscussMember,
    /// A temp send named neither a group nor a discussion.
    SessChat,
}

impl Missing {
    /// The Openqq status text for this miss (spec §4), also what bots see.
    pub fn status(self) -> &'static str {
        match self {
            Missing::Friend => "friend not found",
            Missing::Group => "group not found",
            Missing::Discuss => "discuss not found",
            Missing::GroupMember => "group member not found",
            Missing::DiscussMember => "discuss member not found",
            Missing::SessChat => "discuss member or group member  not found",
        }
    }
}

/// How a send failed once it reached the outbox; each maps to an Openqq code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendFailure {
    /// The link failed and no retries were allowed (`-1`).
    Transport,
    /// No answer in time; the message may or may not have gone (`-2`).
    Unknown,
    /// QQ refused it (`-3`).
    Refused,
    /// Every attempt failed (`-5`).
    GaveUp,
}

impl SendFailure {
    pub fn code(self) -> i64 {
        match self {
            SendFailure::Transport => -1,
            SendFailure::Unknown => -2,
            SendFailure::Refused => -3,
            SendFailure::GaveUp => -5,
        }
    }
}

/// A session operation that did not succeed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SessionError {
    #[error("{}", .0.status())]
    NotFound(Missing),
    /// Mute/kick: the group was not found (`object not found`).
    #[error("object not found")]
    GroupObjectNotFound,
    /// Mute/kick: a listed member was not found.
    #[error("member {0} not found")]
    MemberNotFound(String),
    /// Mute/kick: the member list was empty.
    #[error("member id empty")]
    MemberListEmpty,
    #[error("content missing")]
    ContentMissing,
    /// QQ's rules forbid it (bot not admin, target owner/admin, mute < 60 s).
    #[error("refused: {0}")]
    Refused(String),
    /// The send was queued as `msg_id` but did not go through.
    #[error("send {msg_id} failed: {info}")]
    Send {
        msg_id: MsgId,
        failure: SendFailure,
        info: String,
    },
    /// The gateway is stopping.
    #[error("the session is shutting down")]
    Closed,
}
