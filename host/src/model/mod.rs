//! Openqq's objects and messages as Rust types.
//!
//! Owns: the contacts (user, friends, groups, members, discussions) and their
//! keyed lists (`Roster`), inbound messages and send targets. Does no I/O and
//! knows no dialect: the v1/v2 JSON shapes live in `render` and
//! `webhook::report`.

mod contact;
mod event;
mod ids;
mod message;
mod roster;

pub use contact::{
    Discuss, DiscussMember, Friend, Group, GroupMember, GroupRole, MemberRole, User,
};
pub use event::{DEFAULT_EVENTS, Event, SendOrigin, SentMessage};
pub use ids::{GroupNumber, MsgId, Qq};
pub use message::{ChatKind, ChatRef, InboundMessage, MemberRef, Person, SendTarget};
pub use roster::{Keyed, Roster};

/// QQ's shortest mute, in seconds.
pub const MIN_MUTE_SECS: u64 = 60;
/// QQ's longest mute: 30 days, in seconds.
pub const MAX_MUTE_SECS: u64 = 30 * 24 * 3600;
