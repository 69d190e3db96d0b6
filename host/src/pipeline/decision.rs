//! A decision about a message (`reply`, `shutup`) and carrying it out.
//!
//! The same shape comes from scripts and from the `post_api` answer. A reply
//! goes back where the message came from; a mute applies only to the sender
//! of a group message and only within QQ's 60 s to 30 days — anything else
//! is refused and logged, and the reply still goes.

use crate::model::{ChatKind, InboundMessage, MAX_MUTE_SECS, MIN_MUTE_SECS};
use crate::session::SessionHandle;

/// What to do about one message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// Text to send back; empty sends nothing.
    pub reply: Option<String>,
    /// Mute the sender for this many seconds.
    pub shutup: Option<u64>,
}

/// Why a mute in a decision was not carried out.
#[derive(Debug, PartialEq, Eq)]
pub enum ShutupRefusal {
    NotGroup,
    TooShort(u64),
    TooLong(u64),
}

impl Decision {
    /// Checks the mute against QQ's rules before anything is sent.
    pub fn shutup_refusal(&self, msg: &InboundMessage) -> Option<ShutupRefusal> {
        let secs = self.shutup?;
        if msg.kind != ChatKind::Group {
            return Some(ShutupRefusal::NotGroup);
        }
        if secs < MIN_MUTE_SECS {
            return Some(ShutupRefusal::TooShort(secs));
        }
        (secs > MAX_MUTE_SECS).then_some(ShutupRefusal::TooLong(secs))
    }
}

/// Who a decision's reply is from, for v2 send reports.
fn origin(by: &str) -> crate::model::SendOrigin {
    match by {
        "webhook" => crate::model::SendOrigin::Webhook,
        script => crate::model::SendOrigin::Script(script.to_string()),
    }
}

/// Carries out `d` for `msg`; failures are logged, never raised.
pub async fn apply(session: &SessionHandle, msg: &InboundMessage, d: &Decision, by: &str) {
    if let Some(reply) = d.reply.as_deref().filter(|r| !r.is_empty()) {
        match session.reply_target(msg) {
            Some(target) => match session.send_to(target, reply, origin(by)).await {
                Ok(id) => {
                    tracing::debug!(msg_id = %msg.id, handler = by, reply_id = %id, "reply sent")
                }
                Err(e) => {
                    tracing::warn!(msg_id = %msg.id, handler = by, error = %e, "reply failed")
                }
            },
            None => {
                tracing::warn!(msg_id = %msg.id, handler = by, "no way to reply to this message")
            }
        }
    }
    if let Some(secs) = d.shutup {
        if let Some(refusal) = d.shutup_refusal(msg) {
            tracing::warn!(msg_id = %msg.id, handler = by, ?refusal, "mute refused");
            return;
        }
        let (Some(group), Some(qq)) = (msg.group.as_ref().and_then(|g| g.number), msg.sender.qq)
        else {
            tracing::warn!(msg_id = %msg.id, handler = by, "mute refused: sender or group unknown");
            return;
        };
        if let Err(e) = session.shutup_member(group, qq, secs).await {
            tracing::warn!(msg_id = %msg.id, handler = by, error = %e, "mute failed");
        }
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
        }
    }

    #[test]
    fn mutes_are_for_group_messages_of_a_minute_or_more() {
        let d = Decision {
            reply: None,
            shutup: Some(60),
        };
        assert_eq!(d.shutup_refusal(&msg(ChatKind::Group)), None);
        assert_eq!(
            d.shutup_refusal(&msg(ChatKind::Friend)),
            Some(ShutupRefusal::NotGroup)
        );
        let d = Decision {
            reply: None,
            shutup: Some(30),
        };
        assert_eq!(
            d.shutup_refusal(&msg(ChatKind::Group)),
            Some(ShutupRefusal::TooShort(30))
        );
        let d = Decision {
            reply: None,
            shutup: Some(MAX_MUTE_SECS + 1),
        };
        assert_eq!(
            d.shutup_refusal(&msg(ChatKind::Group)),
            Some(ShutupRefusal::TooLong(MAX_MUTE_SECS + 1))
        );
    }
}
