//! Who a message addresses: the sender's role, the mentions, the quote — the
//! 0.2.0 `addressing` interface's fields, in the session's terms.
//!
//! Backends fill them from what the message itself says (OneBot segments
//! and `sender.role`; the simulator's JSON); the session completes the role
//! from its contacts. Never part of the Openqq reports (`spec/openqq.md`'s
//! shapes are a compatibility contract).

use serde::{Deserialize, Serialize};

use super::contact::MemberRole;
use super::ids::Qq;

/// The addressing of one message. Every field has an empty default, so a
/// message from a backend that knows none of this is simply not addressed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Addressing {
    /// The sender's role in the group (group messages, and temp chats
    /// through a group when known).
    pub role: Option<MemberRole>,
    /// The numbers mentioned, in order, each once (the account's own
    /// included when it was mentioned).
    pub mentions: Vec<Qq>,
    /// Whether the account was mentioned. @all does not count (`at_all`).
    pub at_me: bool,
    /// Whether everyone was mentioned (@全体成员).
    pub at_all: bool,
    /// The message this one quotes, if any.
    pub reply_to: Option<Quoted>,
    /// The text without a leading mention of the account, trailing
    /// whitespace trimmed: what a command parser reads.
    pub body: String,
}

/// A quoted message: its id always, its sender and text when the message
/// itself carried them (the gateway never asks QQ: a round trip per quote
/// would hold the chat's next message).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Quoted {
    pub id: String,
    pub sender: Option<Qq>,
    pub text: Option<String>,
}

impl Addressing {
    /// Records a mention of `qq` (once), and whether it is the account `me`.
    pub fn mention(&mut self, qq: Qq, me: Option<Qq>) {
        if Some(qq) == me {
            self.at_me = true;
        }
        if !self.mentions.contains(&qq) {
            self.mentions.push(qq);
        }
    }
}

/// `text` without a leading mention of the account: `@` followed by one of
/// `names` (the account's card, nick or number) and the spaces after it.
/// Trailing whitespace is trimmed. For backends whose text is all they have
/// (the simulator); OneBot cuts the mention at its segment instead.
pub fn strip_leading_mention(text: &str, names: &[&str]) -> String {
    let start = text.trim_start();
    let rest = start.strip_prefix('@').and_then(|after| {
        names
            .iter()
            .filter(|n| !n.is_empty())
            // The longest name first: a card that starts with the nick.
            .fold(None::<&str>, |best, n| match after.strip_prefix(n) {
                Some(r) if best.is_none_or(|b| r.len() < b.len()) => Some(r),
                _ => best,
            })
    });
    match rest {
        Some(r) => r.trim().to_string(),
        None => text.trim_end().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leading_mention_of_the_account_is_cut() {
        let names = ["小灰", "小灰灰", "1234567"];
        assert_eq!(strip_leading_mention("@小灰 /roll 3\n", &names), "/roll 3");
        assert_eq!(strip_leading_mention(" @小灰灰help", &names), "help");
        assert_eq!(strip_leading_mention("@1234567 hi", &names), "hi");
        // Someone else, or a mention further on: the text stays.
        assert_eq!(strip_leading_mention("@小明 hi ", &names), "@小明 hi");
        assert_eq!(strip_leading_mention("hi @小灰", &names), "hi @小灰");
        assert_eq!(strip_leading_mention("@小灰", &names), "");
    }

    #[test]
    fn mentions_are_kept_once_in_order() {
        let mut a = Addressing::default();
        a.mention(Qq(2), Some(Qq(1)));
        a.mention(Qq(1), Some(Qq(1)));
        a.mention(Qq(2), Some(Qq(1)));
        assert_eq!(a.mentions, [Qq(2), Qq(1)]);
        assert!(a.at_me);
    }

    #[test]
    fn missing_fields_read_as_empty() {
        let a: Addressing = serde_json::from_str(r#"{"at_me": true}"#).unwrap();
        assert!(a.at_me && a.mentions.is_empty() && a.role.is_none());
        let back: Addressing = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
        assert_eq!(a, back);
    }
}
