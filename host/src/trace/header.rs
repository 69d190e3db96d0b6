//! What is known of a message (or event, or timer call) when its trace
//! begins: its texts packed in one string, so a trace costs one allocation
//! for them, not six.

use std::fmt::{Display, Write};

use serde::Serialize;

/// What a trace is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Message,
    Event,
    Timer,
}

/// A text of the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The message's `msg_id`; for events and timers a prefix the trace's
    /// number completes (`Header::numbered`).
    Id,
    /// The chat in the grants' syntax (`group:123`).
    Chat,
    ChatName,
    Sender,
    SenderQq,
    /// At most `CONTENT_CHARS` characters (`Header::content` cuts it).
    Content,
}

const FIELDS: usize = 6;

/// A trace's header being built, then kept.
#[derive(Debug, Clone)]
pub struct Header {
    pub kind: Kind,
    /// Unix milliseconds, when received.
    pub at_ms: u64,
    /// `Field::Id` is a prefix: the id is `<id>:<seq>` (`event:17`).
    pub numbered: bool,
    /// A dry run (`/admin/dry-run`): the message was typed by an operator
    /// and nothing it caused reached QQ or the webhook.
    pub dry_run: bool,
    text: String,
    /// Where each field is in `text`, when set.
    spans: [Option<(u32, u32)>; FIELDS],
}

impl Header {
    /// A header of `kind`, received now.
    pub fn new(kind: Kind) -> Header {
        Header {
            kind,
            at_ms: crate::clock::unix_now_ms(),
            numbered: kind != Kind::Message,
            dry_run: false,
            text: String::with_capacity(96),
            spans: [None; FIELDS],
        }
    }

    /// Sets `field` to `value` written out (set each field once).
    pub fn set(&mut self, field: Field, value: impl Display) -> &mut Header {
        let start = self.text.len();
        // Writing into a `String` cannot fail.
        let _ = write!(self.text, "{value}");
        self.spans[field as usize] = Some((clamp(start), clamp(self.text.len())));
        self
    }

    /// Sets the content, cut to `CONTENT_CHARS` characters.
    pub fn content(&mut self, text: &str) -> &mut Header {
        self.set(Field::Content, super::truncated(text))
    }

    pub fn get(&self, field: Field) -> Option<&str> {
        let (a, b) = self.spans[field as usize]?;
        self.text.get(a as usize..b as usize)
    }
}

/// Texts are bounded (content is cut): a field past 4 GiB cannot happen.
fn clamp(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
