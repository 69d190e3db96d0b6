//! Forward: copies every friend message into a group.
//!
//! Config, in the bot's `[[scripts]]` entry of the gateway's config:
//!
//! ```toml
//! [[scripts]]
//! path = "target/bots/forward.wasm"
//! send_to = ["group:123456"]   # the grant: it may send to that group
//! config = { group = 123456, prefix = "[转发] " }
//! ```
//!
//! - `group` (required): the group number to forward to.
//! - `prefix`: put before each copy; `[转发] ` by default.
//!
//! The `send_to` grant is needed: a bot may send only to the chat of the
//! message it is handling unless granted more, and forwarding sends a
//! friend's message somewhere else. Without it every forward is refused
//! (`denied: send to group:123456: not the chat being handled, and not in
//! send_to`), logged by the bot and counted by the gateway in
//! `/admin/scripts` (`denied`).
//!
//! A friend message is sent to the group as `<prefix><sender name>: <content>`
//! with `host::send`. The bot then answers `None` whether or not the send
//! worked, so the message still reaches later bots and the webhook: forwarding
//! is a side effect, not an answer. A failed send is logged as a warning.
//! Messages from other chats pass untouched.

use openqq_bot::{Bot, Config, Decision, Destination, Message, host};

const DEFAULT_PREFIX: &str = "[转发] ";

/// The forward bot: where to and how to label.
#[derive(Debug)]
pub struct Forward {
    group: u64,
    prefix: String,
}

impl Bot for Forward {
    fn init(config: &Config) -> Result<Self, String> {
        Ok(Forward {
            group: config.require("group")?,
            prefix: config.get_or("prefix", DEFAULT_PREFIX).to_owned(),
        })
    }

    fn on_message(&mut self, msg: &Message) -> Option<Decision> {
        if !msg.is_friend() {
            return None;
        }
        let text = format!("{}{}: {}", self.prefix, msg.sender_name(), msg.content);
        if let Err(why) = host::send(Destination::group(self.group), &text) {
            openqq_bot::warn!("cannot forward to group {}: {why}", self.group);
        }
        None
    }
}

openqq_bot::export_bot!(Forward);

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use openqq_bot::testing::{self, Grants, MockHost};
    use openqq_bot::{GroupRole, Level};

    fn forward(pairs: &[(&str, &str)]) -> Forward {
        Forward::init(&pairs.iter().copied().collect()).unwrap()
    }

    #[test]
    fn friend_messages_go_to_the_group_and_pass_on() {
        let host = MockHost::new();
        host.add_group(testing::group(555, "family", GroupRole::Attend));
        let mut f = forward(&[("group", "555")]);
        assert_eq!(
            f.on_message(&testing::friend_message(1, "Alice", "hi\n")),
            None
        );
        let sends = host.sends();
        assert_eq!(sends.len(), 1);
        assert_eq!(sends[0].to, Destination::group(555));
        assert_eq!(sends[0].content, "[转发] Alice: hi\n");
        assert_eq!(sends[0].result, Ok(1));
        assert!(host.logs().is_empty());
    }

    #[test]
    fn prefix_is_configurable() {
        let host = MockHost::new();
        host.add_group(testing::group(555, "family", GroupRole::Attend));
        let mut f = forward(&[("group", " 555 "), ("prefix", "")]);
        f.on_message(&testing::friend_message(1, "Alice", "hi"));
        assert_eq!(host.sends()[0].content, "Alice: hi");
    }

    #[test]
    fn failed_sends_are_logged() {
        let host = MockHost::new();
        let mut f = forward(&[("group", "555")]);
        assert_eq!(
            f.on_message(&testing::friend_message(1, "Alice", "hi")),
            None
        );
        assert!(host.logged(Level::Warn, "cannot forward to group 555: group not found"));
    }

    #[test]
    fn forwarding_needs_the_send_to_grant() {
        let host = MockHost::new();
        host.add_group(testing::group(555, "family", GroupRole::Attend));
        let mut f = forward(&[("group", "555")]);
        let msg = testing::friend_message(1, "Alice", "hi");

        host.enforce_grants(Grants::least());
        assert_eq!(host.on_message(&mut f, &msg), None);
        let refused = "denied: send to group:555: not the chat being handled, and not in send_to";
        assert_eq!(host.sends()[0].result, Err(refused.to_owned()));
        assert!(host.logged(
            Level::Warn,
            &format!("cannot forward to group 555: {refused}")
        ));

        host.enforce_grants(Grants::least().send_to("group:555"));
        assert_eq!(host.on_message(&mut f, &msg), None);
        assert_eq!(host.sends()[1].result, Ok(1));
        assert_eq!(host.denials(), [refused]);
    }

    #[test]
    fn other_chats_pass_without_sending() {
        let host = MockHost::new();
        let mut f = forward(&[("group", "555")]);
        assert_eq!(
            f.on_message(&testing::group_message(555, 1, "a", "x")),
            None
        );
        assert_eq!(f.on_message(&testing::sess_message(555, 1, "a", "x")), None);
        assert_eq!(
            f.on_message(&testing::discuss_message("d", 1, "a", "x")),
            None
        );
        assert!(host.sends().is_empty());
    }

    #[test]
    fn group_must_be_a_number() {
        let _host = MockHost::new();
        let missing = Forward::init(&Config::default()).unwrap_err();
        assert_eq!(missing, "config `group` is required");
        let bad = Forward::init(&Config::from_iter([("group", "family")])).unwrap_err();
        assert!(bad.starts_with("config `group`: "), "{bad}");
    }
}
