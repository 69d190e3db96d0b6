//! Openqq's objects and messages as Rust types.
//!
//! Owns: the contacts (user, friends, groups, members, discussions) and their
//! keyed lists (`Roster`), inbound messages and send targets. Does no I/O and
//! knows no dialect: the v1/v2 JSON shapes live in `render` and
//! `webhook::report`.

mod addressing;
mod contact;
mod decision;
mod event;
mod ids;
mod message;
mod roster;

pub use addressing::{Addressing, Quoted, strip_leading_mention};
pub use contact::{
    Discuss, DiscussMember, Friend, Group, GroupMember, GroupRole, MemberRole, User,
};
pub use decision::{
    Decided, DecidedBy, Decision, MAX_MUTE_SECS, MIN_MUTE_SECS, ShutupRefusal, mute_secs,
};
pub use event::{DEFAULT_EVENTS, Event, SendOrigin, SentMessage};
pub use ids::{GroupNumber, MsgId, Qq};
pub use message::{ChatKind, ChatRef, InboundMessage, MemberRef, Person, SendTarget};
pub use roster::{Keyed, Roster};
