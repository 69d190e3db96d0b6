//! Conveniences on the generated WIT types.

use crate::{Address, ChatKind, Decision, Destination, MemberRole, Message};

impl Message {
    /// Whether this came from a private chat with a friend.
    pub fn is_friend(&self) -> bool {
        self.kind == ChatKind::Friend
    }

    /// Whether this came from a QQ group.
    pub fn is_group(&self) -> bool {
        self.kind == ChatKind::Group
    }

    /// Whether this came from a discussion group.
    pub fn is_discuss(&self) -> bool {
        self.kind == ChatKind::Discuss
    }

    /// Whether this came from a temp chat with a stranger (through a group or
    /// a discussion).
    pub fn is_sess(&self) -> bool {
        self.kind == ChatKind::Sess
    }

    /// The text without trailing spaces and newlines; `content` keeps them.
    pub fn text(&self) -> &str {
        self.content.trim_end()
    }

    /// The sender's stable QQ number, when the gateway knows it.
    pub fn sender_qq(&self) -> Option<u64> {
        self.sender.qq
    }

    /// The sender's per-login session id.
    pub fn sender_id(&self) -> &str {
        &self.sender.id
    }

    /// The sender's display name: a friend's remark or nick, a member's card
    /// or nick.
    pub fn sender_name(&self) -> &str {
        &self.sender.name
    }

    /// The group's stable number, for group messages and temp chats that came
    /// through a group.
    pub fn group_number(&self) -> Option<u64> {
        self.group.as_ref().and_then(|g| g.number)
    }

    /// The group's per-login session id (`gid`).
    pub fn group_id(&self) -> Option<&str> {
        self.group.as_ref().map(|g| g.id.as_str())
    }

    /// The group's name.
    pub fn group_name(&self) -> Option<&str> {
        self.group.as_ref().map(|g| g.name.as_str())
    }

    /// The discussion's per-login session id (`did`), for discussion messages
    /// and temp chats that came through a discussion.
    pub fn discuss_id(&self) -> Option<&str> {
        self.discuss.as_ref().map(|d| d.id.as_str())
    }

    /// The discussion's name.
    pub fn discuss_name(&self) -> Option<&str> {
        self.discuss.as_ref().map(|d| d.name.as_str())
    }
}

impl MemberRole {
    /// `owner`, `admin` or `member`, as QQ and the Openqq API spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberRole::Owner => "owner",
            MemberRole::Admin => "admin",
            MemberRole::Member => "member",
        }
    }
}

impl Decision {
    /// Reply with `text` where the message came from.
    pub fn reply(text: impl Into<String>) -> Self {
        Decision {
            reply: Some(text.into()),
            shutup: None,
        }
    }

    /// Mute the sender for `seconds` without replying (group messages only;
    /// QQ refuses less than 60).
    pub fn shutup_only(seconds: u32) -> Self {
        Decision {
            reply: None,
            shutup: Some(seconds),
        }
    }

    /// Also mute the sender for `seconds`: `Decision::reply("…").shutup(60)`.
    #[must_use]
    pub fn shutup(mut self, seconds: u32) -> Self {
        self.shutup = Some(seconds);
        self
    }
}

/// Neither a reply nor a mute: the message counts as handled.
impl Default for Decision {
    fn default() -> Self {
        Decision {
            reply: None,
            shutup: None,
        }
    }
}

impl Destination {
    /// A friend, by QQ number.
    pub fn friend(qq: u64) -> Self {
        Destination::Friend(Address::Number(qq))
    }

    /// A group, by group number.
    pub fn group(number: u64) -> Self {
        Destination::Group(Address::Number(number))
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::testing;

    #[test]
    fn accessors_follow_the_chat_kind() {
        let f = testing::friend_message(10001, "Alice", "hi there \n");
        assert!(f.is_friend() && !f.is_group() && !f.is_discuss() && !f.is_sess());
        assert_eq!(f.text(), "hi there");
        assert_eq!(f.content, "hi there \n");
        assert_eq!(f.sender_qq(), Some(10001));
        assert_eq!(f.sender_name(), "Alice");
        assert_eq!(f.group_number(), None);

        let g = testing::group_message(555, 10002, "Bob", "yo");
        assert!(g.is_group());
        assert_eq!(g.group_number(), Some(555));
        assert!(g.group_id().is_some());
        assert_eq!(g.discuss_id(), None);

        let d = testing::discuss_message("d1", 10003, "Carol", "x");
        assert!(d.is_discuss());
        assert_eq!(d.discuss_id(), Some("d1"));
        assert_eq!(d.group_number(), None);

        let s = testing::sess_message(555, 10004, "Dave", "x");
        assert!(s.is_sess());
        assert_eq!(s.group_number(), Some(555));
    }

    #[test]
    fn decision_builders() {
        assert_eq!(
            Decision::reply("a").shutup(60),
            Decision {
                reply: Some("a".into()),
                shutup: Some(60)
            }
        );
        assert_eq!(Decision::shutup_only(90).reply, None);
        assert_eq!(Decision::default().shutup, None);
        assert_eq!(
            Destination::group(7),
            Destination::Group(Address::Number(7))
        );
    }
}
