//! A OneBot message event → a `RawInbound`: the chat it came from, the
//! sender, the text as Openqq clients read it (`@name`s from the contacts,
//! faces and images as `cq::render` spells them).
//!
//! The account's own messages are not inbound messages (some
//! implementations report them: they would feed bots their own replies).
//! A message that cannot be placed is dropped with a warning that says what
//! it was.

use super::super::codec::{self, Id, MessageEvent};
use super::super::contacts::Cache;
use super::super::cq;
use crate::backend::{RawChat, RawInbound};
use crate::model::Qq;

/// The message, or `None` when it is the account's own or cannot be placed.
pub(super) fn convert(cache: &Cache, m: MessageEvent) -> Option<RawInbound> {
    let Some(sender) = m.user_id.qq() else {
        warn_dropped(&m, "no usable user_id (the sender)");
        return None;
    };
    if Some(sender) == cache.me() || m.self_id.qq() == Some(sender) {
        return None;
    }
    let from = match m.message_type.0.as_str() {
        "group" => match m.group_id.and_then(Id::group) {
            Some(n) => RawChat::Group(n),
            None => {
                warn_dropped(&m, "a group message without a usable group_id");
                return None;
            }
        },
        "private" if m.sub_type.0 == "group" => {
            m.temp_group().map_or(RawChat::Friend, RawChat::GroupSess)
        }
        "private" => RawChat::Friend,
        _ => {
            // `discuss` (CQHTTP v4) or an extension: nowhere to put it.
            warn_dropped(&m, "an unknown message_type");
            return None;
        }
    };
    let mut segments = cq::segments(&m.message);
    if segments.is_empty() {
        segments = cq::parse(&m.raw_message.0);
    }
    let group = match from {
        RawChat::Group(n) | RawChat::GroupSess(n) => Some(n),
        _ => None,
    };
    let content = cq::render(&segments, |qq| {
        qq.parse().ok().and_then(|q| cache.name_of(group, Qq(q)))
    });
    let time = u64::try_from(m.time.0)
        .ok()
        .filter(|&t| t > 0)
        .unwrap_or_else(crate::clock::unix_now);
    Some(RawInbound {
        msg_id: m.message_id.0.to_string(),
        time,
        from,
        sender,
        content,
    })
}

/// Says at `warn` that a message was dropped, why, and what it was (its
/// identifying fields and the start of its text).
fn warn_dropped(m: &MessageEvent, reason: &str) {
    let what = format!(
        "message_type={:?} sub_type={:?} message_id={} user_id={} group_id={} raw_message={:?}",
        m.message_type.0,
        m.sub_type.0,
        m.message_id.0,
        m.user_id.0,
        m.group_id
            .map_or_else(|| "none".to_string(), |g| g.0.to_string()),
        m.raw_message.0,
    );
    tracing::warn!(
        backend = "onebot",
        reason,
        frame = %codec::excerpt(&what),
        "dropped a message"
    );
}
