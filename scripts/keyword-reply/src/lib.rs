//! Keyword reply: answers messages that contain configured keywords, and
//! mutes group members who use banned words.
//!
//! Config (every key optional):
//!
//! ```toml
//! [bots.config]
//! reply = { ping = "pong", "早上好" = "早！" } # keyword = reply, tried in this order
//! banned = ["spam", "广告"]                   # arrives as banned.0, banned.1
//! banned_reply = "请文明发言"                  # the default
//! shutup_seconds = 60                         # the default
//! ```
//!
//! For every message, in this order:
//!
//! 1. Content exactly `/boom` (nothing else, not even a newline): panic with
//!    `keyword-reply: boom requested`, so the gateway sees a trap and logs it.
//! 2. A group message whose content contains a banned word: reply
//!    `banned_reply` and mute the sender for `shutup_seconds`. In other chats
//!    banned words do nothing special.
//! 3. The first `reply.<keyword>` rule whose keyword the content contains:
//!    reply with its text.
//! 4. Otherwise pass the message on.
//!
//! Matching is plain, case-sensitive substring search on the raw content.
//! Init fails on an empty keyword or banned word (either would match every
//! message) and on a `shutup_seconds` that is not plain digits fitting a u32.
//!
//! The Python, JavaScript, C and Zig versions (`scripts/keyword-reply-*`)
//! behave the same, down to the error texts.

use openqq_bot::{Bot, Config, Decision, Message};

const DEFAULT_BANNED_REPLY: &str = "请文明发言";
const DEFAULT_SHUTUP_SECONDS: u32 = 60;

/// The keyword-reply bot: its rules, read once at init.
#[derive(Debug)]
pub struct KeywordReply {
    /// (keyword, reply) in config order; the first match wins.
    rules: Vec<(String, String)>,
    banned: Vec<String>,
    banned_reply: String,
    shutup_seconds: u32,
}

impl Bot for KeywordReply {
    fn init(config: &Config) -> Result<Self, String> {
        let mut rules = Vec::new();
        for (keyword, reply) in config.prefixed("reply.") {
            if keyword.is_empty() {
                return Err("keyword-reply: empty keyword in 'reply.'".into());
            }
            rules.push((keyword.to_owned(), reply.to_owned()));
        }
        let mut banned = Vec::new();
        for (key, word) in config.prefixed("banned.") {
            if word.is_empty() {
                return Err(format!(
                    "keyword-reply: empty banned word in 'banned.{key}'"
                ));
            }
            banned.push(word.to_owned());
        }
        let shutup_seconds = match config.get("shutup_seconds") {
            Some(value) => seconds(value).ok_or_else(|| {
                format!(
                    "keyword-reply: shutup_seconds must be a whole number of seconds, got '{value}'"
                )
            })?,
            None => DEFAULT_SHUTUP_SECONDS,
        };
        openqq_bot::info!(
            "keyword-reply (rust): loaded {} reply rules and {} banned words",
            rules.len(),
            banned.len()
        );
        Ok(KeywordReply {
            rules,
            banned,
            banned_reply: config
                .get_or("banned_reply", DEFAULT_BANNED_REPLY)
                .to_owned(),
            shutup_seconds,
        })
    }

    fn on_message(&mut self, msg: &Message) -> Option<Decision> {
        let content = msg.content.as_str();
        if content == "/boom" {
            panic!("keyword-reply: boom requested");
        }
        if msg.is_group() && self.banned.iter().any(|w| content.contains(w.as_str())) {
            return Some(Decision::reply(&self.banned_reply).shutup(self.shutup_seconds));
        }
        self.rules
            .iter()
            .find(|(keyword, _)| content.contains(keyword.as_str()))
            .map(|(_, reply)| Decision::reply(reply))
    }
}

/// Plain ASCII digits that fit a u32: stricter than `u32::from_str` (which
/// takes `+60`), so every language's version accepts the same values.
fn seconds(value: &str) -> Option<u32> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

openqq_bot::export_bot!(KeywordReply);

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use openqq_bot::Level;
    use openqq_bot::testing::{self, MockHost};

    fn bot(pairs: &[(&str, &str)]) -> KeywordReply {
        KeywordReply::init(&pairs.iter().copied().collect()).unwrap()
    }

    fn init_error(pairs: &[(&str, &str)]) -> String {
        KeywordReply::init(&pairs.iter().copied().collect()).unwrap_err()
    }

    fn sample() -> KeywordReply {
        bot(&[
            ("reply.hello", "hi!"),
            ("reply.hell", "not this one"),
            ("reply.天气", "晴"),
            ("banned.0", "spam"),
            ("banned.1", "广告"),
        ])
    }

    #[test]
    fn first_matching_keyword_replies() {
        let _host = MockHost::new();
        let mut b = sample();
        let mut says = |text| b.on_message(&testing::friend_message(1, "a", text));
        assert_eq!(says("well hello there"), Some(Decision::reply("hi!")));
        assert_eq!(says("what the hell"), Some(Decision::reply("not this one")));
        assert_eq!(says("今天天气怎么样"), Some(Decision::reply("晴")));
        assert_eq!(says("Hello"), None);
        assert_eq!(says("nothing here"), None);
    }

    #[test]
    fn banned_words_mute_in_groups_before_keywords() {
        let _host = MockHost::new();
        let mut b = sample();
        let msg = testing::group_message(9, 1, "a", "hello, buy spam");
        assert_eq!(
            b.on_message(&msg),
            Some(Decision::reply("请文明发言").shutup(60))
        );
        let msg = testing::group_message(9, 1, "a", "广告");
        assert_eq!(b.on_message(&msg).and_then(|d| d.shutup), Some(60));
    }

    #[test]
    fn banned_words_do_nothing_special_outside_groups() {
        let _host = MockHost::new();
        let mut b = sample();
        let msg = testing::friend_message(1, "a", "hello, buy spam");
        assert_eq!(b.on_message(&msg), Some(Decision::reply("hi!")));
        let msg = testing::sess_message(9, 1, "a", "spam");
        assert_eq!(b.on_message(&msg), None);
        let msg = testing::discuss_message("d", 1, "a", "spam");
        assert_eq!(b.on_message(&msg), None);
    }

    #[test]
    fn banned_reply_and_mute_length_are_configurable() {
        let _host = MockHost::new();
        let mut b = bot(&[
            ("banned.0", "spam"),
            ("banned_reply", "别刷了"),
            ("shutup_seconds", "600"),
        ]);
        let msg = testing::group_message(9, 1, "a", "spam");
        assert_eq!(
            b.on_message(&msg),
            Some(Decision::reply("别刷了").shutup(600))
        );
    }

    #[test]
    fn init_logs_what_it_loaded() {
        let host = MockHost::new();
        sample();
        assert!(host.logged(
            Level::Info,
            "keyword-reply (rust): loaded 3 reply rules and 2 banned words"
        ));
    }

    #[test]
    fn bad_mute_length_fails_init() {
        let _host = MockHost::new();
        for value in ["a minute", "", "+60", " 60", "-1", "4294967296"] {
            assert_eq!(
                init_error(&[("shutup_seconds", value)]),
                format!(
                    "keyword-reply: shutup_seconds must be a whole number of seconds, got '{value}'"
                )
            );
        }
        assert_eq!(
            bot(&[("shutup_seconds", "4294967295")]).shutup_seconds,
            u32::MAX
        );
    }

    #[test]
    fn empty_keywords_and_banned_words_fail_init() {
        let _host = MockHost::new();
        assert_eq!(
            init_error(&[("reply.", "everything")]),
            "keyword-reply: empty keyword in 'reply.'"
        );
        assert_eq!(
            init_error(&[("banned.0", "a"), ("banned.1", "")]),
            "keyword-reply: empty banned word in 'banned.1'"
        );
    }

    #[test]
    #[should_panic(expected = "keyword-reply: boom requested")]
    fn boom_panics() {
        let _host = MockHost::new();
        sample().on_message(&testing::group_message(9, 1, "a", "/boom"));
    }

    #[test]
    fn boom_must_be_the_whole_content() {
        let _host = MockHost::new();
        let mut b = sample();
        for text in ["say /boom", "/boom\n", " /boom"] {
            assert_eq!(b.on_message(&testing::friend_message(1, "a", text)), None);
        }
    }
}
