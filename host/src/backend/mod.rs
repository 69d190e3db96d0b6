//! The way to QQ: a `Backend` logs in, delivers sends and moderation, and
//! pushes inbound events.
//!
//! Owns: the `Backend` trait, the events a backend emits, and its errors.
//! Must not: know Openqq dialects or HTTP. Backends speak stable numbers; the
//! session owns per-login ids (`IdScheme` says how to make them).
//!
//! Implementations: `sim` (an embedded simulated QQ world) and `onebot` (real
//! QQ through a OneBot v11 implementation).

pub mod onebot;
pub mod sim;

use async_trait::async_trait;

use crate::model::{
    Discuss, Friend, Group, GroupNumber, MemberRef, MsgId, Qq, Roster, SendTarget, User,
};

/// What a fresh login yields: the account and every contact, without session
/// ids (the session assigns them). Each list is in QQ's order and indexed by
/// number.
#[derive(Debug, Clone, Default)]
pub struct LoginSnapshot {
    pub user: User,
    pub friends: Roster<Friend>,
    pub groups: Roster<Group>,
    pub discusses: Roster<Discuss>,
}

/// How the session makes per-login ids for this backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdScheme {
    /// Fresh random ids at every login, as Web QQ did (the simulator).
    PerLogin,
    /// Ids equal the stable numbers (OneBot has no session ids).
    Numbers,
}

/// A message as a backend delivers it: stable numbers only.
#[derive(Debug, Clone, PartialEq)]
pub struct RawInbound {
    /// QQ's id for the message.
    pub msg_id: String,
    pub time: u64,
    pub from: RawChat,
    pub sender: Qq,
    pub content: String,
    /// Who it addresses, as far as the backend knows (the session adds the
    /// role from its contacts when the backend gave none).
    pub addressing: crate::model::Addressing,
}

/// The chat a raw message arrived in.
#[derive(Debug, Clone, PartialEq)]
pub enum RawChat {
    Friend,
    Group(GroupNumber),
    /// A discussion, by the backend's stable key.
    Discuss(u64),
    GroupSess(GroupNumber),
    DiscussSess(u64),
}

/// Something that happened on the QQ side.
#[derive(Debug, Clone, PartialEq)]
pub enum BackendEvent {
    Message(RawInbound),
    /// The contact list changed in a way the backend can describe. Only a
    /// member or friend who was not there before is a join or an add: the
    /// session reports those as new (`new_group_member`, `new_friend`).
    MemberJoined {
        group: GroupNumber,
        member: crate::model::GroupMember,
    },
    MemberLeft {
        group: GroupNumber,
        member: Qq,
    },
    /// An already known member's details changed (card, role, last-speak
    /// time…): the contacts follow silently, it is not a join. A member the
    /// session does not know is left alone (a join must come first).
    MemberUpdated {
        group: GroupNumber,
        member: crate::model::GroupMember,
    },
    FriendAdded(Friend),
    /// An already known friend's details changed (nick, remark): silent,
    /// like `MemberUpdated`.
    FriendUpdated(Friend),
    FriendRemoved(Qq),
    /// The link to QQ went down / came back (contacts should be re-synced).
    Down,
    Up,
    /// The link stayed up but the contacts changed on the QQ side in a way
    /// the events above cannot describe: read them again.
    Resync,
}

/// Why a backend call failed. The outbox retries only `Down` (nothing was
/// sent); never a `Timeout` (it may have been sent: a retry could send it
/// twice) nor a refusal.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BackendError {
    /// The link to QQ is down; nothing was sent.
    #[error("backend unavailable: {0}")]
    Down(String),
    /// No answer in time; the outcome is unknown.
    #[error("no answer from QQ in time (outcome unknown)")]
    Timeout,
    /// QQ refused the action.
    #[error("refused by QQ: {reason}")]
    Rejected { retcode: i64, reason: String },
    /// The target does not exist on the QQ side.
    #[error("not found: {0}")]
    NotFound(String),
    /// QQ answered something we could not understand.
    #[error("protocol error: {0}")]
    Protocol(String),
}

impl BackendError {
    /// Whether a retry is safe: only when nothing was sent.
    pub fn is_transient(&self) -> bool {
        matches!(self, BackendError::Down(_))
    }
}

/// A way to reach QQ.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// A short name for logs (`sim`, `onebot`).
    fn name(&self) -> &'static str;

    fn id_scheme(&self) -> IdScheme;

    /// Logs in afresh (or re-syncs) and returns the account and contacts.
    async fn login(&self) -> Result<LoginSnapshot, BackendError>;

    /// Delivers a text message; `msg_id` is the gateway's id for it.
    async fn send(&self, msg_id: MsgId, to: &SendTarget, content: &str)
    -> Result<(), BackendError>;

    /// Mutes a group member for `seconds`.
    async fn shutup(&self, target: &MemberRef, seconds: u32) -> Result<(), BackendError>;

    /// Removes a member from a group.
    async fn kick(&self, target: &MemberRef) -> Result<(), BackendError>;

    /// Where the link to QQ stands (`/metrics`); a backend without a link
    /// (the simulator) is always up.
    fn link(&self) -> LinkStatus {
        LinkStatus::ALWAYS_UP
    }
}

/// Where a backend's link to QQ stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkStatus {
    /// One of `LINK_STATES`.
    pub state: &'static str,
    /// Connections made after the first one.
    pub reconnects: u64,
}

/// The states a link can be in: not connected yet, up, down, down because
/// QQ's side refused our access token.
pub const LINK_STATES: [&str; 4] = ["connecting", "up", "down", "auth_refused"];

impl LinkStatus {
    pub const ALWAYS_UP: LinkStatus = LinkStatus {
        state: "up",
        reconnects: 0,
    };

    pub fn is_up(&self) -> bool {
        self.state == "up"
    }
}
