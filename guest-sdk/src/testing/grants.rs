//! Grants in the mock: off by default (every call allowed, so tests that do
//! not care need not grant), enforced with the gateway's rules and words
//! once a test sets them ([`MockHost::enforce_grants`]).

use super::{MockHost, State, with_state};
use crate::http::Target;
use crate::{Address, Bot, ChatKind, Decision, Destination, Message};

/// What a bot is granted, named as in its `[[scripts]]` entry of the
/// gateway's config. Start from [`Grants::least`] and add:
///
/// ```
/// use openqq_bot::testing::{self, Grants, MockHost};
/// use openqq_bot::{Destination, GroupRole, host};
///
/// let mock = MockHost::new();
/// mock.add_group(testing::group(555, "family", GroupRole::Attend));
/// mock.add_group(testing::group(556, "work", GroupRole::Attend));
/// mock.enforce_grants(Grants::least().send_to("group:555"));
/// assert_eq!(host::send(Destination::group(555), "hi"), Ok(1));
/// let refused = host::send(Destination::group(556), "hi").unwrap_err();
/// assert!(refused.starts_with("denied: send to group:556: not in send_to"));
/// assert_eq!(mock.denials().len(), 1);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grants {
    send_to: Vec<String>,
    moderate: Vec<String>,
    http: Vec<String>,
}

impl Grants {
    /// Least privilege, a bot with no grants: it may reply where the
    /// message came from and mute its sender there, nothing else.
    pub fn least() -> Self {
        Grants::default()
    }

    /// Also `host::send` to `chat`: `"group:552603"`, `"friend:10001"`,
    /// `"friend:*"`, `"sess:*"`, `"discuss:*"`.
    #[must_use]
    pub fn send_to(mut self, chat: &str) -> Self {
        self.send_to.push(chat.to_owned());
        self
    }

    /// Also mute, unmute and kick anyone in `group`: `"group:552603"` or
    /// `"group:*"`.
    #[must_use]
    pub fn moderate(mut self, group: &str) -> Self {
        self.moderate.push(group.to_owned());
        self
    }

    /// Also send HTTP requests to `origin`: `"https://api.example.com"`,
    /// `"http://127.0.0.1:8080"` (scheme, host and port must match).
    #[must_use]
    pub fn http(mut self, origin: &str) -> Self {
        self.http.push(origin.to_owned());
        self
    }
}

/// A chat as grants name it: `group:555`, `friend:10001`, `discuss:<id>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct MockChat {
    kind: ChatKind,
    /// The stable number; a discussion's session id (discussions have no
    /// number, and are granted only as `discuss:*`).
    key: String,
}

impl std::fmt::Display for MockChat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", kind_name(self.kind), self.key)
    }
}

fn kind_name(kind: ChatKind) -> &'static str {
    match kind {
        ChatKind::Friend => "friend",
        ChatKind::Group => "group",
        ChatKind::Discuss => "discuss",
        ChatKind::Sess => "sess",
    }
}

impl MockChat {
    pub(super) fn group(number: u64) -> MockChat {
        MockChat {
            kind: ChatKind::Group,
            key: number.to_string(),
        }
    }

    /// The chat a message belongs to (its reply goes there).
    fn of_message(msg: &Message) -> MockChat {
        let qq = || {
            msg.sender_qq()
                .map_or_else(|| msg.sender_id().to_owned(), |q| q.to_string())
        };
        let key = match msg.kind {
            ChatKind::Friend | ChatKind::Sess => qq(),
            ChatKind::Group => msg.group_number().map_or_else(
                || msg.group_id().unwrap_or("").to_owned(),
                |n| n.to_string(),
            ),
            ChatKind::Discuss => msg.discuss_id().unwrap_or("").to_owned(),
        };
        MockChat {
            kind: msg.kind,
            key,
        }
    }

    /// Where a send goes, with session ids resolved through the mock's
    /// contacts where it knows them.
    fn of_destination(s: &State, to: &Destination) -> MockChat {
        let friend = |a: &Address| match a {
            Address::Number(n) => n.to_string(),
            Address::Id(id) => s
                .friends
                .iter()
                .find(|f| &f.id == id)
                .map_or_else(|| id.clone(), |f| f.qq.to_string()),
        };
        let group = |a: &Address| match a {
            Address::Number(n) => n.to_string(),
            Address::Id(id) => s
                .groups
                .iter()
                .find(|g| &g.id == id)
                .map_or_else(|| id.clone(), |g| g.number.to_string()),
        };
        let member = |a: &Address| match a {
            Address::Number(n) => n.to_string(),
            Address::Id(id) => s
                .members
                .iter()
                .find(|(_, m)| &m.id == id)
                .map_or_else(|| id.clone(), |(_, m)| m.qq.to_string()),
        };
        let (kind, key) = match to {
            Destination::Friend(a) => (ChatKind::Friend, friend(a)),
            Destination::Group(a) => (ChatKind::Group, group(a)),
            Destination::Discuss(did) => (ChatKind::Discuss, did.clone()),
            Destination::GroupTemp(t) => (ChatKind::Sess, member(&t.member)),
            Destination::DiscussTemp(t) => (ChatKind::Sess, member(&t.member)),
        };
        MockChat { kind, key }
    }

    fn allowed_by(&self, patterns: &[String]) -> bool {
        patterns.iter().any(|p| match p.split_once(':') {
            Some((kind, key)) => kind == kind_name(self.kind) && (key == "*" || key == self.key),
            None => false,
        })
    }
}

/// What the call in progress is handling: a message's chat and sender
/// (none in a timer call).
#[derive(Clone, Debug, Default)]
pub(super) struct Handling {
    chat: Option<MockChat>,
    sender: Option<u64>,
}

impl MockHost {
    /// Enforces `grants` from now on, as the gateway would for a bot with
    /// that `[[scripts]]` entry: `host::send` beyond the chat being handled
    /// needs `send_to`, moderation beyond muting that message's sender needs
    /// `moderate`, HTTP needs `http`. A refusal is an `Err` starting
    /// `denied:` (for HTTP, [`ErrorCode::HttpRequestDenied`](crate::http::ErrorCode)),
    /// recorded in [`denials`](Self::denials).
    ///
    /// The chat being handled is known only to calls made through
    /// [`MockHost::on_message`]; a bot's `on_message` called directly (or
    /// `on_timer`) handles no chat, as a timer call in the gateway.
    pub fn enforce_grants(&self, grants: Grants) {
        with_state(|s| s.grants = Some(grants));
    }

    /// Calls `bot.on_message(msg)` handling `msg`'s chat and sender, so
    /// enforced grants let it act there without `send_to` or `moderate`.
    pub fn on_message<B: Bot>(&self, bot: &mut B, msg: &Message) -> Option<Decision> {
        with_state(|s| {
            s.handling = Handling {
                chat: Some(MockChat::of_message(msg)),
                sender: msg.sender_qq(),
            }
        });
        let decision = bot.on_message(msg);
        with_state(|s| s.handling = Handling::default());
        decision
    }

    /// Every refusal by enforced grants so far, oldest first, as the bot
    /// saw it (`denied: send to group:556: …`).
    pub fn denials(&self) -> Vec<String> {
        with_state(|s| s.denials.clone())
    }
}

/// Records a refusal; the error the bot sees.
fn deny(s: &mut State, reason: String) -> String {
    let text = format!("denied: {reason}");
    s.denials.push(text.clone());
    text
}

/// Whether enforced grants let the call in progress send to `to`.
pub(super) fn may_send(s: &mut State, to: &Destination) -> Result<(), String> {
    let Some(grants) = &s.grants else {
        return Ok(());
    };
    let chat = MockChat::of_destination(s, to);
    let here = s.handling.chat.as_ref() == Some(&chat);
    if here || chat.allowed_by(&grants.send_to) {
        return Ok(());
    }
    let reason = match s.handling.chat {
        Some(_) => format!("send to {chat}: not the chat being handled, and not in send_to"),
        None => format!("send to {chat}: not in send_to (a timer call handles no chat)"),
    };
    Err(deny(s, reason))
}

/// Whether enforced grants let the call in progress `verb` (`mute`,
/// `unmute`, `kick`) `member` of `group`: muting the sender of the message
/// being handled, in its group, needs no grant.
pub(super) fn may_moderate(
    s: &mut State,
    verb: &str,
    group: u64,
    member: u64,
) -> Result<(), String> {
    let Some(grants) = &s.grants else {
        return Ok(());
    };
    let chat = MockChat::group(group);
    let own_sender = verb == "mute"
        && s.handling.chat.as_ref() == Some(&chat)
        && s.handling.sender == Some(member);
    if own_sender || chat.allowed_by(&grants.moderate) {
        return Ok(());
    }
    Err(deny(s, format!("{verb} in {chat}: not in moderate")))
}

/// Whether enforced grants let the bot reach `origin` (`scheme://host:port`,
/// the port always written), as the gateway compares them.
pub(super) fn may_fetch(s: &mut State, origin: &str) -> Result<(), String> {
    let Some(grants) = &s.grants else {
        return Ok(());
    };
    let granted = |g: &String| Target::parse(g).is_ok_and(|t| t.origin() == origin);
    if grants.http.iter().any(granted) {
        return Ok(());
    }
    // The gateway names the URL's authority as written: no default port.
    let named = origin
        .strip_suffix(":443")
        .filter(|o| o.starts_with("https://"))
        .or_else(|| {
            origin
                .strip_suffix(":80")
                .filter(|o| o.starts_with("http://"))
        })
        .unwrap_or(origin);
    Err(deny(s, format!("http to {named}: not in http")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, MockHost};
    use crate::{GroupRole, GroupTemp, host};

    struct Relay;

    impl Bot for Relay {
        fn init(_: &crate::Config) -> Result<Self, String> {
            Ok(Relay)
        }
        fn on_message(&mut self, msg: &Message) -> Option<Decision> {
            let to = match msg.group_number() {
                Some(g) => Destination::group(g),
                None => Destination::friend(msg.sender_qq()?),
            };
            Some(Decision::reply(match host::send(to, "relayed") {
                Ok(_) => "ok".to_owned(),
                Err(e) => e,
            }))
        }
    }

    #[test]
    fn without_enforced_grants_everything_goes() {
        let mock = MockHost::new();
        mock.add_group(testing::group(555, "a", GroupRole::Attend));
        assert_eq!(host::send(Destination::group(555), "x"), Ok(1));
        assert!(mock.denials().is_empty());
    }

    #[test]
    fn the_chat_being_handled_needs_no_grant_elsewhere_does() {
        let mock = MockHost::new();
        mock.add_group(testing::group(555, "a", GroupRole::Attend));
        mock.add_friend(testing::friend(10001, "Alice"));
        mock.enforce_grants(Grants::least().send_to("friend:*"));
        let mut bot = Relay;
        let in_group = testing::group_message(555, 10001, "Alice", "hi");
        assert_eq!(
            mock.on_message(&mut bot, &in_group).and_then(|d| d.reply),
            Some("ok".into())
        );
        // Called directly, no chat is being handled: as a timer call.
        let reply = bot.on_message(&in_group).and_then(|d| d.reply).unwrap();
        assert_eq!(
            reply,
            "denied: send to group:555: not in send_to (a timer call handles no chat)"
        );
        assert_eq!(host::send(Destination::friend(10001), "x"), Ok(2));
        let temp = Destination::GroupTemp(GroupTemp {
            group: Address::Number(555),
            member: Address::Number(10001),
        });
        assert_eq!(
            MockChat::of_destination(&State::default(), &temp).to_string(),
            "sess:10001"
        );
        assert_eq!(mock.denials(), [reply]);
    }
}
