//! Stable numbers and message ids.
//!
//! Per-login session ids (`id`, `gid`, `gcode`, `did`) are plain strings: they
//! are opaque handles that only the session's contact index gives meaning to.
//! The numbers below are stable across logins and are what backends speak.

use std::fmt;

/// A user's QQ number (Openqq `qq`, v2 `uid`); stable across logins.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct Qq(pub u64);

/// A group's number (Openqq `gnumber`, v2 group `uid`); stable across logins.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupNumber(pub u64);

/// The gateway's id for a message it sent (`msg_id`): a JSON number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MsgId(pub u64);

macro_rules! display_inner {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}
display_inner!(Qq, GroupNumber, MsgId);
