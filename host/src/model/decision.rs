//! A decision about a received message, and who made it.
//!
//! The same shape comes from native handlers, the WebAssembly bots and the
//! `post_api` answer; the session carries it out (`SessionHandle::act`). A
//! reply goes back where the message came from; a mute applies only to the
//! sender of a group message and only within QQ's 60 s to 30 days.

use std::fmt;
use std::sync::Arc;

use super::{ChatKind, InboundMessage, SendOrigin};

/// QQ's shortest mute, in seconds.
pub const MIN_MUTE_SECS: u64 = 60;
/// QQ's longest mute: 30 days, in seconds.
pub const MAX_MUTE_SECS: u64 = 30 * 24 * 3600;

/// What to do about one message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// Text to send back; empty sends nothing.
    pub reply: Option<String>,
    /// Mute the sender for this many seconds.
    pub shutup: Option<u64>,
}

/// Who decided: a native handler (benchmarks, tests), a bot by its script
/// name, or the `post_api` receiver. A bot named `webhook` stays a bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecidedBy {
    Native(&'static str),
    Script(Arc<str>),
    Webhook,
}

impl DecidedBy {
    /// Who a reply is from, for v2 send reports.
    pub fn origin(&self) -> SendOrigin {
        match self {
            // A native handler stands in for a bot.
            DecidedBy::Native(name) => SendOrigin::Script((*name).to_string()),
            DecidedBy::Script(name) => SendOrigin::Script(name.to_string()),
            DecidedBy::Webhook => SendOrigin::Webhook,
        }
    }
}

impl fmt::Display for DecidedBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecidedBy::Native(name) => write!(f, "native:{name}"),
            DecidedBy::Script(name) => write!(f, "script:{name}"),
            DecidedBy::Webhook => f.write_str("webhook"),
        }
    }
}

/// A decision and its maker.
#[derive(Debug, Clone, PartialEq)]
pub struct Decided {
    pub by: DecidedBy,
    pub decision: Decision,
}

/// Why a mute was not carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutupRefusal {
    NotGroup,
    TooShort(u64),
    TooLong(u64),
}

impl fmt::Display for ShutupRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShutupRefusal::NotGroup => {
                f.write_str("only the sender of a group message can be muted")
            }
            ShutupRefusal::TooShort(s) => {
                write!(f, "mute of {s} s is under the {MIN_MUTE_SECS} s minimum")
            }
            ShutupRefusal::TooLong(s) => write!(
                f,
                "mute of {s} s is over QQ's 30-day maximum ({MAX_MUTE_SECS} s)"
            ),
        }
    }
}

/// A mute's length checked against QQ's range, as the backends take it.
///
/// # Errors
/// `TooShort` / `TooLong` outside 60 s–30 days.
pub fn mute_secs(secs: u64) -> Result<u32, ShutupRefusal> {
    if secs < MIN_MUTE_SECS {
        return Err(ShutupRefusal::TooShort(secs));
    }
    if secs > MAX_MUTE_SECS {
        return Err(ShutupRefusal::TooLong(secs));
    }
    u32::try_from(secs).map_err(|_| ShutupRefusal::TooLong(secs))
}

impl Decision {
    /// Checks the mute against QQ's rules before anything is sent.
    pub fn shutup_refusal(&self, msg: &InboundMessage) -> Option<ShutupRefusal> {
        let secs = self.shutup?;
        if msg.kind != ChatKind::Group {
            return Some(ShutupRefusal::NotGroup);
        }
        mute_secs(secs).err()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Person;

    fn msg(kind: ChatKind) -> InboundMessage {
        InboundMessage {
            id: "1".into(),
            kind,
            time: 0,
            content: String::new(),
            sender: Person::default(),
            receiver: Person::default(),
            group: None,
            discuss: None,
            addressing: Default::default(),
            trace: Default::default(),
        }
    }

    fn mute(secs: u64) -> Decision {
        Decision {
            reply: None,
            shutup: Some(secs),
        }
    }

    #[test]
    fn mutes_are_for_group_messages_within_qqs_range() {
        let group = msg(ChatKind::Group);
        assert_eq!(mute(60).shutup_refusal(&group), None);
        assert_eq!(mute(MAX_MUTE_SECS).shutup_refusal(&group), None);
        assert_eq!(
            mute(60).shutup_refusal(&msg(ChatKind::Friend)),
            Some(ShutupRefusal::NotGroup)
        );
        assert_eq!(
            mute(30).shutup_refusal(&group),
            Some(ShutupRefusal::TooShort(30))
        );
        assert_eq!(
            mute(MAX_MUTE_SECS + 1).shutup_refusal(&group),
            Some(ShutupRefusal::TooLong(MAX_MUTE_SECS + 1))
        );
        assert_eq!(mute_secs(u64::MAX), Err(ShutupRefusal::TooLong(u64::MAX)));
    }

    #[test]
    fn a_bot_named_webhook_is_still_a_bot() {
        let by = DecidedBy::Script("webhook".into());
        assert_ne!(by, DecidedBy::Webhook);
        assert_eq!(by.origin(), SendOrigin::Script("webhook".into()));
        assert_eq!(DecidedBy::Webhook.origin(), SendOrigin::Webhook);
    }
}
