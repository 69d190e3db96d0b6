//! Chats as grants name them: `group:552603`, `friend:*`, `*`.
//!
//! A chat is a kind and a stable number: the group's number, the friend's
//! or temp-chat member's QQ number, a discussion's backend key. Session ids
//! change at every login, so grants never use them; discussions have no
//! stable number at all, so they are granted only as `discuss:*`.

use std::fmt;

use crate::model::{ChatKind, InboundMessage, SendTarget};

/// One concrete chat: where a message came from or a send goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Chat {
    pub kind: ChatKind,
    pub number: u64,
}

impl Chat {
    /// The chat a message belongs to (its reply goes there).
    pub fn of_message(msg: &InboundMessage) -> Chat {
        let (kind, number, _) = msg.chat_key();
        Chat { kind, number }
    }

    /// The chat an event is about; `None` for account-wide events.
    pub fn of_event(event: &crate::model::Event) -> Option<Chat> {
        event
            .chat_key()
            .map(|(kind, number, _)| Chat { kind, number })
    }

    /// Where a resolved send goes.
    pub fn of_target(t: &SendTarget) -> Chat {
        let (kind, number) = match t {
            SendTarget::Friend { qq, .. } => (ChatKind::Friend, qq.0),
            SendTarget::Group { gnumber, .. } => (ChatKind::Group, gnumber.0),
            SendTarget::Discuss { key, .. } => (ChatKind::Discuss, *key),
            SendTarget::GroupSess { qq, .. } | SendTarget::DiscussSess { qq, .. } => {
                (ChatKind::Sess, qq.0)
            }
        };
        Chat { kind, number }
    }

    /// The chat as the database stores it: a kind code and the number.
    pub fn to_stored(self) -> (u8, u64) {
        let code = match self.kind {
            ChatKind::Friend => 0,
            ChatKind::Group => 1,
            ChatKind::Discuss => 2,
            ChatKind::Sess => 3,
        };
        (code, self.number)
    }

    /// A chat the database stored; `None` for a code this version does not
    /// know.
    pub fn from_stored((code, number): (u8, u64)) -> Option<Chat> {
        let kind = match code {
            0 => ChatKind::Friend,
            1 => ChatKind::Group,
            2 => ChatKind::Discuss,
            3 => ChatKind::Sess,
            _ => return None,
        };
        Some(Chat { kind, number })
    }

    pub fn friend(qq: u64) -> Chat {
        Chat {
            kind: ChatKind::Friend,
            number: qq,
        }
    }

    pub fn group(number: u64) -> Chat {
        Chat {
            kind: ChatKind::Group,
            number,
        }
    }
}

impl fmt::Display for Chat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", kind_name(self.kind), self.number)
    }
}

fn kind_name(k: ChatKind) -> &'static str {
    match k {
        ChatKind::Friend => "friend",
        ChatKind::Group => "group",
        ChatKind::Discuss => "discuss",
        ChatKind::Sess => "sess",
    }
}

/// One entry of a chat grant: a kind, and one number or all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChatPattern {
    pub kind: ChatKind,
    /// `None` for `kind:*`.
    pub number: Option<u64>,
}

impl ChatPattern {
    /// Parses `kind:number` or `kind:*`.
    ///
    /// # Errors
    /// An unknown kind, a number that is not one, or a discussion by number.
    pub fn parse(s: &str) -> Result<ChatPattern, String> {
        let (kind, rest) = s
            .split_once(':')
            .ok_or_else(|| format!("`{s}`: expected `group:NUMBER`, `friend:*`, … or `*`"))?;
        let kind = match kind {
            "group" => ChatKind::Group,
            "friend" => ChatKind::Friend,
            "discuss" => ChatKind::Discuss,
            "sess" => ChatKind::Sess,
            other => {
                return Err(format!(
                    "`{s}`: unknown chat kind `{other}` (group, friend, discuss or sess)"
                ));
            }
        };
        let number = match rest {
            "*" => None,
            _ if kind == ChatKind::Discuss => {
                return Err(format!(
                    "`{s}`: discussions have no stable number; grant `discuss:*`"
                ));
            }
            n => Some(n.parse::<u64>().map_err(|_| {
                format!("`{s}`: `{n}` is not a number (a group number or a QQ number, or `*`)")
            })?),
        };
        Ok(ChatPattern { kind, number })
    }

    fn matches(&self, chat: Chat) -> bool {
        self.kind == chat.kind && self.number.is_none_or(|n| n == chat.number)
    }
}

impl fmt::Display for ChatPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.number {
            Some(n) => write!(f, "{}:{n}", kind_name(self.kind)),
            None => write!(f, "{}:*", kind_name(self.kind)),
        }
    }
}

/// A set of chats: every chat, or the ones listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatSet {
    Every,
    Only(Vec<ChatPattern>),
}

impl ChatSet {
    /// No chat at all.
    pub fn none() -> ChatSet {
        ChatSet::Only(Vec::new())
    }

    /// Parses a grant's list; `*` anywhere grants every chat.
    ///
    /// # Errors
    /// The first entry that does not parse, with why.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<ChatSet, String> {
        let mut only = Vec::with_capacity(entries.len());
        for e in entries {
            match e.as_ref().trim() {
                "*" => return Ok(ChatSet::Every),
                s => only.push(ChatPattern::parse(s)?),
            }
        }
        Ok(ChatSet::Only(only))
    }

    pub fn allows(&self, chat: Chat) -> bool {
        match self {
            ChatSet::Every => true,
            ChatSet::Only(list) => list.iter().any(|p| p.matches(chat)),
        }
    }

    /// The entries as the config writes them (`["*"]` for every chat).
    pub fn entries(&self) -> Vec<String> {
        match self {
            ChatSet::Every => vec!["*".to_string()],
            ChatSet::Only(list) => list.iter().map(ToString::to_string).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(kind: ChatKind, number: u64) -> Chat {
        Chat { kind, number }
    }

    #[test]
    fn patterns_match_their_kind_and_number() {
        let set = ChatSet::parse(&["group:552603", "friend:*"]).unwrap();
        assert!(set.allows(chat(ChatKind::Group, 552603)));
        assert!(!set.allows(chat(ChatKind::Group, 1)));
        assert!(set.allows(chat(ChatKind::Friend, 42)));
        assert!(!set.allows(chat(ChatKind::Sess, 42)));
        assert!(!set.allows(chat(ChatKind::Discuss, 7)));
        assert_eq!(set.entries(), ["group:552603", "friend:*"]);
    }

    #[test]
    fn a_star_grants_every_chat_and_an_empty_list_none() {
        assert_eq!(ChatSet::parse(&["group:1", "*"]).unwrap(), ChatSet::Every);
        let none = ChatSet::parse::<&str>(&[]).unwrap();
        assert!(!none.allows(chat(ChatKind::Friend, 1)));
    }

    #[test]
    fn a_stored_chat_reads_back_as_itself() {
        for kind in [
            ChatKind::Friend,
            ChatKind::Group,
            ChatKind::Discuss,
            ChatKind::Sess,
        ] {
            let c = chat(kind, 552603);
            assert_eq!(Chat::from_stored(c.to_stored()), Some(c));
        }
        assert_eq!(Chat::from_stored((9, 1)), None);
    }

    #[test]
    fn bad_entries_say_what_is_wrong() {
        for (bad, says) in [
            ("552603", "expected"),
            ("room:1", "unknown chat kind"),
            ("group:abc", "not a number"),
            ("discuss:5", "no stable number"),
            ("group:", "not a number"),
        ] {
            let e = ChatSet::parse(&[bad]).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
