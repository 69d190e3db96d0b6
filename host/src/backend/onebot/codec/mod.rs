//! OneBot v11 frames as Rust values: action requests and responses, events,
//! and the `data` of the actions we call. Pure: no I/O, no clocks.
//!
//! Lenient by design (`spec/onebot.md` §6): four implementations disagree on
//! types, so ids are `i64` read from numbers *or* numeric strings, display
//! strings accept numbers and `null`, every field has a default, and an event
//! kind we do not know decodes to `Event::Other` instead of an error.
//!
//! This file is the frame itself: one text frame is decoded here into a
//! response or an event, told apart by `post_type`, and quoted in logs by
//! `excerpt`. The parts, one concept each:
//!
//! | module | holds |
//! |---|---|
//! | `scalars.rs` | `Id`, `Text`, `Flag`: the lenient field types |
//! | `action.rs` | the request frame we send and the `ActionResponse` we read |
//! | `event.rs` | events (`message`, `notice`, `meta_event`, the rest) and their de-duplication keys |
//! | `data.rs` | the records in an action's `data` (login, contacts, send result) |

mod action;
mod data;
mod event;
mod scalars;

use serde_json::Value;

pub use self::action::{ActionResponse, request};
pub use self::data::{
    FriendEntry, GroupEntry, LoginInfo, MemberEntry, SendResult, Status, StrangerInfo, list, object,
};
pub use self::event::{Event, Incoming, MessageEvent, Meta, Notice};
pub use self::scalars::Id;
// Named only by tests, which build records by hand; the code reads these
// through the records' fields.
#[cfg(test)]
pub use self::{
    event::MessageSender,
    scalars::{Flag, Text},
};

/// A frame we could not use at all (not JSON, not an object).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("undecodable OneBot frame: {0}")]
pub struct CodecError(pub String);

/// One decoded frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Response(ActionResponse),
    Event(Incoming),
}

/// How much of a frame a log line quotes.
pub const EXCERPT_CHARS: usize = 200;

/// The start of `text`, at most `EXCERPT_CHARS` characters, cut on a
/// character boundary, with `…` when cut.
pub fn excerpt(text: &str) -> String {
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// Decodes one text frame. A frame with `post_type` is an event, anything
/// else a response (how nonebot and koishi tell them apart, `spec` §1.1).
///
/// # Errors
/// Not JSON, or not a JSON object.
pub fn decode(text: &str) -> Result<Frame, CodecError> {
    let value: Value = serde_json::from_str(text).map_err(|e| CodecError(e.to_string()))?;
    let Value::Object(obj) = value else {
        return Err(CodecError("not a JSON object".into()));
    };
    match obj.get("post_type") {
        Some(pt) => {
            let post_type = pt.as_str().unwrap_or_default().to_string();
            Ok(Frame::Event(event::decode_event(post_type, obj)))
        }
        None => action::decode_response(obj).map(Frame::Response),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_short_and_cut_between_characters() {
        assert_eq!(excerpt("abc"), "abc");
        let long = "群".repeat(EXCERPT_CHARS + 5);
        let e = excerpt(&long);
        assert_eq!(e.chars().count(), EXCERPT_CHARS + 1);
        assert!(e.ends_with('…'));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode("not json").is_err());
        assert!(decode("[1,2]").is_err());
        assert!(decode(r#"{"status": {"x": 1}}"#).is_ok());
    }
}

#[cfg(test)]
mod props;
