//! Knowledge base: learns answers to questions, per group and per friend, and
//! gives them back. What it learns lives in the bot's KV store, so it
//! survives hot swaps, rebuilds and gateway restarts.
//!
//! Config (every key optional):
//!
//! ```toml
//! [bots.config]
//! operators = [10001, 10002]  # QQ numbers that may teach everywhere (operators.0, …)
//! admins_may_teach = true     # group owners and admins may teach in their group (default)
//! friends_may_teach = false   # a friend may teach in its own private chat (default: no)
//! ```
//!
//! In a group (by its number) or a friend chat:
//!
//! - `learn Q=A` (or `学习 Q=A`; `＝` works too) stores answer `A` for
//!   question `Q` in this chat, replacing an older one. Both are trimmed; the
//!   answer may span lines.
//! - `forget Q` (or `忘记 Q`) removes it.
//! - A message whose text (trimmed) equals a learned question gets its answer.
//!
//! Only teachers may learn and forget: an operator; in a group, its owner or
//! an admin (looked up with `host::group_member`) unless `admins_may_teach =
//! false`; in a friend chat, the friend when `friends_may_teach = true`.
//! Others get `你没有权限 / not allowed: …`. A full store is reported as
//! `知识库已满 / store full: <the quota>`; nothing is changed then.
//! Discussions and temp chats pass untouched, as does everything that is not
//! a command or a learned question.
//!
//! KV layout: `g/<group number>/<Q>` and `f/<friend qq>/<Q>`, the answer as
//! UTF-8 text. The gateway's key quota (`kv_max_key_bytes`, 256 by default)
//! bounds a question, the value quota an answer.

use std::time::Duration;

use openqq_bot::{Bot, Config, Decision, Level, MemberRole, Message, Throttle, host, kv};

/// QQ's own limit for one message: a longer answer could never be sent.
pub const MAX_ANSWER_CHARS: usize = 4500;

const USAGE: &str = "用法 / usage: learn 问题=答案, forget 问题";

/// The knowledge-base bot: who may teach. The answers are in the KV store.
#[derive(Debug)]
pub struct KnowledgeBase {
    operators: Vec<u64>,
    admins_may_teach: bool,
    friends_may_teach: bool,
    /// A store that keeps failing would otherwise warn at every message.
    store_trouble: Throttle,
}

/// What a message asks of the bot.
#[derive(Debug, PartialEq, Eq)]
enum Command<'a> {
    /// `learn …`: the rest, not parsed yet.
    Learn(&'a str),
    /// `forget …`: the question.
    Forget(&'a str),
}

impl<'a> Command<'a> {
    fn parse(text: &'a str) -> Option<Self> {
        const WORDS: [(&str, bool); 4] = [
            ("learn", true),
            ("学习", true),
            ("forget", false),
            ("忘记", false),
        ];
        WORDS.iter().find_map(|&(word, learn)| {
            let rest = text.strip_prefix(word)?;
            // `learner` is not `learn`; `学习一下` is not a command either.
            if !(rest.is_empty() || rest.starts_with(char::is_whitespace)) {
                return None;
            }
            let rest = rest.trim();
            Some(if learn {
                Command::Learn(rest)
            } else {
                Command::Forget(rest)
            })
        })
    }
}

impl Bot for KnowledgeBase {
    fn init(config: &Config) -> Result<Self, String> {
        let bot = KnowledgeBase {
            operators: config.list("operators")?,
            admins_may_teach: config.parse_or("admins_may_teach", true)?,
            friends_may_teach: config.parse_or("friends_may_teach", false)?,
            store_trouble: Throttle::new(Duration::from_secs(60)),
        };
        openqq_bot::info!(
            "knowledge-base: {} operators, group admins {}, friends {}",
            bot.operators.len(),
            if bot.admins_may_teach {
                "teach"
            } else {
                "do not teach"
            },
            if bot.friends_may_teach {
                "teach"
            } else {
                "do not teach"
            },
        );
        Ok(bot)
    }

    fn on_message(&mut self, msg: &Message) -> Option<Decision> {
        let scope = scope(msg)?;
        let text = msg.text().trim();
        if let Some(command) = Command::parse(text) {
            if !self.may_teach(msg) {
                return Some(Decision::reply(
                    "你没有权限 / not allowed: only operators and group admins can teach me",
                ));
            }
            let reply = match command {
                Command::Learn(rest) => self.learn(&scope, rest),
                Command::Forget(question) => self.forget(&scope, question),
            };
            return Some(Decision::reply(reply));
        }
        if text.is_empty() {
            return None;
        }
        match kv::get_str(&format!("{scope}{text}")) {
            Ok(answer) => answer.map(Decision::reply),
            Err(e) => {
                self.store_trouble
                    .log(Level::Warn, &format!("knowledge-base: cannot look up: {e}"));
                None
            }
        }
    }
}

/// The KV prefix of the chat's knowledge: `g/<number>/` or `f/<qq>/`; `None`
/// for chats the bot does not serve.
fn scope(msg: &Message) -> Option<String> {
    if msg.is_group() {
        msg.group_number().map(|g| format!("g/{g}/"))
    } else if msg.is_friend() {
        msg.sender_qq().map(|qq| format!("f/{qq}/"))
    } else {
        None
    }
}

impl KnowledgeBase {
    fn may_teach(&self, msg: &Message) -> bool {
        let Some(qq) = msg.sender_qq() else {
            return false;
        };
        if self.operators.contains(&qq) {
            return true;
        }
        if msg.is_friend() {
            return self.friends_may_teach;
        }
        self.admins_may_teach
            && msg
                .group_number()
                .and_then(|g| host::group_member(g, qq))
                .is_some_and(|m| matches!(m.role, MemberRole::Owner | MemberRole::Admin))
    }

    fn learn(&mut self, scope: &str, rest: &str) -> String {
        let Some((question, answer)) = rest.split_once(['=', '＝']) else {
            return USAGE.to_owned();
        };
        let (question, answer) = (question.trim(), answer.trim());
        if question.is_empty() || answer.is_empty() {
            return USAGE.to_owned();
        }
        if Command::parse(question).is_some() {
            return format!("不能学习命令 / cannot learn a command: {question}");
        }
        if answer.chars().count() > MAX_ANSWER_CHARS {
            return format!("答案太长 / answer too long: over {MAX_ANSWER_CHARS} characters");
        }
        let key = format!("{scope}{question}");
        let known = match kv::get(&key) {
            Ok(old) => old.is_some(),
            Err(e) => return self.store_failed(&e),
        };
        match kv::set_str(&key, answer) {
            Ok(()) if known => format!("更新了 / updated: {question}"),
            Ok(()) => format!("记住了 / learned: {question}"),
            Err(e) => self.store_failed(&e),
        }
    }

    fn forget(&mut self, scope: &str, question: &str) -> String {
        if question.is_empty() {
            return USAGE.to_owned();
        }
        match kv::delete(&format!("{scope}{question}")) {
            Ok(true) => format!("忘记了 / forgot: {question}"),
            Ok(false) => format!("我不知道 / I don't know: {question}"),
            Err(e) => self.store_failed(&e),
        }
    }

    /// The reply for a failed store call; failures other than a full store
    /// are logged too.
    fn store_failed(&mut self, e: &kv::Error) -> String {
        match e {
            kv::Error::Quota(why) => format!("知识库已满 / store full: {why}"),
            _ => {
                self.store_trouble
                    .log(Level::Warn, &format!("knowledge-base: {e}"));
                format!("存储出错 / store error: {e}")
            }
        }
    }
}

openqq_bot::export_bot!(KnowledgeBase);

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use openqq_bot::testing::{self, MockHost};

    const OP: u64 = 10001;
    const G: u64 = 552603;

    fn bot(pairs: &[(&str, &str)]) -> KnowledgeBase {
        KnowledgeBase::init(&pairs.iter().copied().collect()).unwrap()
    }

    fn with_operator() -> KnowledgeBase {
        bot(&[("operators.0", "10001")])
    }

    fn in_group(b: &mut KnowledgeBase, qq: u64, text: &str) -> Option<String> {
        b.on_message(&testing::group_message(G, qq, "someone", text))
            .and_then(|d| d.reply)
    }

    fn from_friend(b: &mut KnowledgeBase, qq: u64, text: &str) -> Option<String> {
        b.on_message(&testing::friend_message(qq, "friend", text))
            .and_then(|d| d.reply)
    }

    #[test]
    fn an_operator_teaches_and_everyone_in_the_group_gets_the_answer() {
        let host = MockHost::new();
        let mut b = with_operator();
        assert_eq!(in_group(&mut b, 42, "网址"), None);
        assert_eq!(
            in_group(&mut b, OP, "learn 网址 = https://example.org\n"),
            Some("记住了 / learned: 网址".into())
        );
        assert_eq!(
            in_group(&mut b, 42, "网址"),
            Some("https://example.org".into())
        );
        assert_eq!(
            in_group(&mut b, 43, " 网址 \n"),
            Some("https://example.org".into())
        );
        assert_eq!(in_group(&mut b, 42, "网址呢"), None, "whole text only");
        // Stored where the layout says.
        assert_eq!(
            host.kv_entries(),
            [(format!("g/{G}/网址"), b"https://example.org".to_vec())]
        );
        // Another group and a friend chat know nothing of it.
        let other = testing::group_message(G + 1, 42, "x", "网址");
        assert_eq!(b.on_message(&other), None);
        assert_eq!(from_friend(&mut b, 42, "网址"), None);
        // Discussions and temp chats are not served at all.
        assert_eq!(
            b.on_message(&testing::discuss_message("d", OP, "x", "learn a=b")),
            None
        );
        assert_eq!(
            b.on_message(&testing::sess_message(G, OP, "x", "网址")),
            None
        );
    }

    #[test]
    fn answers_survive_a_new_instance() {
        let _host = MockHost::new();
        let mut b = with_operator();
        in_group(&mut b, OP, "学习 规则=不许刷屏\n第二条：友善").unwrap();
        drop(b);
        // A swap or a rebuild: a fresh instance reads the same store.
        let mut b = with_operator();
        assert_eq!(
            in_group(&mut b, 42, "规则"),
            Some("不许刷屏\n第二条：友善".into())
        );
    }

    #[test]
    fn relearning_updates_and_forget_removes() {
        let _host = MockHost::new();
        let mut b = with_operator();
        in_group(&mut b, OP, "learn a＝1").unwrap();
        assert_eq!(
            in_group(&mut b, OP, "learn a=2"),
            Some("更新了 / updated: a".into())
        );
        assert_eq!(in_group(&mut b, 42, "a"), Some("2".into()));
        assert_eq!(
            in_group(&mut b, OP, "forget a"),
            Some("忘记了 / forgot: a".into())
        );
        assert_eq!(in_group(&mut b, 42, "a"), None);
        assert_eq!(
            in_group(&mut b, OP, "忘记 a"),
            Some("我不知道 / I don't know: a".into())
        );
    }

    #[test]
    fn only_teachers_may_learn_or_forget() {
        let host = MockHost::new();
        host.add_member(G, testing::member(50, "admin", MemberRole::Admin));
        host.add_member(G, testing::member(51, "owner", MemberRole::Owner));
        host.add_member(G, testing::member(52, "member", MemberRole::Member));
        let mut b = with_operator();
        let refused = Some(
            "你没有权限 / not allowed: only operators and group admins can teach me".to_owned(),
        );
        assert_eq!(in_group(&mut b, 52, "learn x=y"), refused);
        assert_eq!(
            in_group(&mut b, 99, "learn x=y"),
            refused,
            "not even a member"
        );
        assert_eq!(in_group(&mut b, 42, "x"), None);
        assert_eq!(
            in_group(&mut b, 50, "learn x=y"),
            Some("记住了 / learned: x".into())
        );
        assert_eq!(in_group(&mut b, 52, "forget x"), refused);
        assert_eq!(
            in_group(&mut b, 51, "forget x"),
            Some("忘记了 / forgot: x".into())
        );

        // Admins of one group teach only there.
        let elsewhere = testing::group_message(G + 1, 50, "admin", "learn x=y");
        assert_eq!(b.on_message(&elsewhere).and_then(|d| d.reply), refused);

        let mut strict = bot(&[("operators.0", "10001"), ("admins_may_teach", "false")]);
        assert_eq!(in_group(&mut strict, 50, "learn x=y"), refused);
        assert_eq!(
            in_group(&mut strict, OP, "learn x=y"),
            Some("记住了 / learned: x".into())
        );

        // A sender without a known QQ number is nobody.
        let mut anonymous = testing::group_message(G, OP, "op", "learn x=z");
        anonymous.sender.qq = None;
        assert_eq!(b.on_message(&anonymous).and_then(|d| d.reply), refused);
    }

    #[test]
    fn friend_chats_have_their_own_knowledge() {
        let host = MockHost::new();
        let mut b = with_operator();
        assert!(
            from_friend(&mut b, 42, "learn hi=yo")
                .unwrap()
                .contains("not allowed")
        );
        assert_eq!(
            from_friend(&mut b, OP, "learn hi=yo"),
            Some("记住了 / learned: hi".into())
        );
        assert_eq!(from_friend(&mut b, OP, "hi"), Some("yo".into()));
        assert_eq!(from_friend(&mut b, 42, "hi"), None);

        let mut open = bot(&[("friends_may_teach", "true")]);
        assert_eq!(
            from_friend(&mut open, 42, "learn hi=hey"),
            Some("记住了 / learned: hi".into())
        );
        assert_eq!(from_friend(&mut open, 42, "hi"), Some("hey".into()));
        assert_eq!(from_friend(&mut open, OP, "hi"), Some("yo".into()));
        let keys: Vec<_> = host.kv_entries().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["f/10001/hi", "f/42/hi"]);
    }

    #[test]
    fn malformed_commands_get_the_usage() {
        let _host = MockHost::new();
        let mut b = with_operator();
        for text in [
            "learn",
            "learn x",
            "learn =y",
            "learn x=",
            "learn  = ",
            "forget",
            "忘记  ",
        ] {
            assert_eq!(in_group(&mut b, OP, text), Some(USAGE.into()), "{text:?}");
        }
        assert_eq!(
            in_group(&mut b, OP, "learn forget x=y"),
            Some("不能学习命令 / cannot learn a command: forget x".into())
        );
        let long = format!("learn q={}", "长".repeat(MAX_ANSWER_CHARS + 1));
        assert!(
            in_group(&mut b, OP, &long)
                .unwrap()
                .contains("answer too long")
        );
        // Words that merely start like a command are ordinary messages.
        assert_eq!(in_group(&mut b, OP, "learner"), None);
        assert_eq!(in_group(&mut b, OP, "学习一下"), None);
    }

    #[test]
    fn a_full_store_is_reported_and_changes_nothing() {
        let host = MockHost::new();
        host.kv_quota(16, 71);
        let mut b = with_operator();
        let reply = in_group(&mut b, OP, "learn big=0123456789abcdefg").unwrap();
        assert_eq!(
            reply,
            "知识库已满 / store full: value is 17 bytes, over kv_max_value_bytes = 16"
        );
        in_group(&mut b, OP, "learn a=0123456789").unwrap(); // `g/552603/a`: 10 + 10 + 32 bytes
        let reply = in_group(&mut b, OP, "learn b=0123456789").unwrap();
        assert!(
            reply.starts_with("知识库已满 / store full: ")
                && reply.contains("kv_max_total_bytes = 71"),
            "{reply}"
        );
        assert_eq!(in_group(&mut b, 42, "b"), None);
        assert_eq!(in_group(&mut b, 42, "a"), Some("0123456789".into()));
    }

    #[test]
    fn a_failing_store_is_reported_and_logged_once_a_minute() {
        let host = MockHost::new();
        let mut b = with_operator();
        host.kv_fail(Some(kv::Error::Store("disk full".into())));
        assert_eq!(
            in_group(&mut b, OP, "learn a=b"),
            Some("存储出错 / store error: store failed: disk full".into())
        );
        for _ in 0..5 {
            assert_eq!(in_group(&mut b, 42, "a"), None);
        }
        let warnings = host
            .logs()
            .into_iter()
            .filter(|l| l.level == Level::Warn)
            .count();
        assert_eq!(warnings, 1);
    }

    #[test]
    fn bad_config_fails_init() {
        let _host = MockHost::new();
        for (key, value) in [
            ("operators.0", "alice"),
            ("admins_may_teach", "yes"),
            ("friends_may_teach", "1"),
        ] {
            let err = KnowledgeBase::init(&Config::from_iter([(key, value)])).unwrap_err();
            assert!(err.contains(key), "{err}");
        }
    }
}
