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
use crate::model::{Addressing, MemberRole, Qq, Quoted};

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
    let me = cache.me().or_else(|| m.self_id.qq());
    let mut addressing = addressing(&segments, me, &content, |qq| {
        qq.parse().ok().and_then(|q| cache.name_of(group, Qq(q)))
    });
    if matches!(from, RawChat::Group(_)) {
        addressing.role = match m.sender.role.0.as_str() {
            "owner" => Some(MemberRole::Owner),
            "admin" => Some(MemberRole::Admin),
            "member" => Some(MemberRole::Member),
            // Absent or unknown: the session's contacts say.
            _ => None,
        };
    }
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
        addressing,
    })
}

/// What the segments address: `at` segments (`qq=all` is @all), the first
/// `reply` segment, and the text after a leading mention of the account.
/// A quote's sender and text are taken from the segment when it carries
/// them (`qq`/`user_id`, `text`: some implementations add them); the
/// gateway does not ask QQ (`get_msg`) — a round trip per quote would hold
/// the chat's next message, and most bots need only the id.
fn addressing(
    segments: &[cq::Segment],
    me: Option<Qq>,
    content: &str,
    at_name: impl Fn(&str) -> Option<String>,
) -> Addressing {
    let mut a = Addressing::default();
    for seg in segments {
        match seg.kind.as_str() {
            "at" => match seg.get("qq").as_deref().map(str::trim) {
                Some("all") => a.at_all = true,
                Some(qq) => {
                    if let Ok(n) = qq.parse() {
                        a.mention(Qq(n), me);
                    }
                }
                None => {}
            },
            "reply" if a.reply_to.is_none() => {
                if let Some(id) = seg.get("id").filter(|id| !id.is_empty()) {
                    a.reply_to = Some(Quoted {
                        id,
                        sender: seg
                            .get("qq")
                            .or_else(|| seg.get("user_id"))
                            .and_then(|q| q.trim().parse().ok())
                            .map(Qq),
                        text: seg.get("text"),
                    });
                }
            }
            _ => {}
        }
    }
    // The body: past quotes and blank text, then past a mention of the
    // account — cut at the segment, so no name has to match.
    let blank = |s: &cq::Segment| {
        s.kind == "reply" || (s.kind == "text" && s.get("text").is_none_or(|t| t.trim().is_empty()))
    };
    let lead = segments.iter().take_while(|s| blank(s)).count();
    let is_me = |s: &cq::Segment| {
        s.kind == "at"
            && me.is_some_and(|me| s.get("qq").is_some_and(|q| q.trim() == me.to_string()))
    };
    a.body = match segments.get(lead) {
        Some(s) if is_me(s) => cq::render(&segments[lead + 1..], at_name)
            .trim()
            .to_string(),
        // No leading mention: the text as it is, trailing space cut.
        _ => content.trim_end().to_string(),
    };
    a
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
