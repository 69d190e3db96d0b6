//! Who is addressed: a message is for the bot when it starts with the
//! configured prefix (`/ai hello`) or mentions the account (`@小灰 hello`).
//!
//! 0.2.0 messages do not say whom they mention, so a mention is found in
//! the text: `@` and one of the account's names — the name the message's
//! sender sees (`receiver.name`: in a group, the account's card) or the
//! account's own nick (`host::whoami`).

use openqq_bot::{Message, host};

/// The question a message asks the bot, without the prefix or the
/// mentions; `None` when the message is not for the bot (or asks nothing).
pub fn question(msg: &Message, prefix: &str) -> Option<String> {
    let text = msg.text().trim_start();
    if let Some(rest) = after_prefix(text, prefix) {
        return non_empty(rest);
    }
    // Ask the gateway for the account's nick only when there may be a
    // mention to match it against.
    if !text.contains('@') {
        return None;
    }
    let me = host::whoami();
    let names = [msg.receiver.name.as_str(), me.name.as_str()];
    let rest = without_mentions(text, &names)?;
    non_empty(&rest)
}

/// The text after `prefix`, when it starts with it: `/ai` matches `/ai
/// hello` but not `/aisle` (a prefix ending in a letter or digit needs a
/// break after it); the prefix's trailing spaces are not required (`/ai `
/// matches `/ai\nhello`). An empty prefix matches nothing.
fn after_prefix<'t>(text: &'t str, prefix: &str) -> Option<&'t str> {
    let prefix = prefix.trim_end();
    if prefix.is_empty() {
        return None;
    }
    let rest = text.strip_prefix(prefix)?;
    let joined = prefix.ends_with(char::is_alphanumeric) && rest.starts_with(char::is_alphanumeric);
    (!joined).then_some(rest)
}

/// `text` with every `@name` of `names` taken out, or `None` when there is
/// none. A mention ends where the name does, before a space, punctuation or
/// the end (so `@小灰` is not found in `@小灰灰`).
fn without_mentions(text: &str, names: &[&str]) -> Option<String> {
    let mut out = text.to_owned();
    let mut found = false;
    for name in names.iter().filter(|n| !n.trim().is_empty()) {
        let needle = format!("@{name}");
        let mut from = 0;
        while let Some(at) = out[from..].find(&needle).map(|i| i + from) {
            let end = at + needle.len();
            if out[end..].starts_with(char::is_alphanumeric) {
                from = end;
                continue;
            }
            out.replace_range(at..end, "");
            found = true;
            from = at;
        }
    }
    found.then_some(out)
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use openqq_bot::testing::{self, MockHost};

    fn ask(text: &str) -> Option<String> {
        question(&testing::group_message(555, 1, "Bob", text), "/ai ")
    }

    #[test]
    fn the_prefix_starts_a_question() {
        let _host = MockHost::new();
        assert_eq!(ask("/ai hello"), Some("hello".into()));
        assert_eq!(ask("  /ai\n多行\n问题 \n"), Some("多行\n问题".into()));
        assert_eq!(ask("/aisle"), None);
        assert_eq!(ask("/ai   "), None, "nothing asked");
        assert_eq!(ask("hello /ai"), None);
        assert_eq!(ask("hello"), None);
        let msg = testing::group_message(555, 1, "Bob", "问：天气");
        assert_eq!(question(&msg, "问："), Some("天气".into()));
        assert_eq!(question(&msg, ""), None);
    }

    #[test]
    fn a_mention_of_either_name_is_a_question() {
        let host = MockHost::new();
        // The account's nick (whoami) is 小灰; in this group its card is 灰灰.
        let mut msg = testing::group_message(555, 1, "Bob", "@灰灰 今天吃什么");
        msg.receiver.name = "灰灰".into();
        assert_eq!(question(&msg, "/ai"), Some("今天吃什么".into()));
        msg.content = "请问 @小灰，现在几点".into();
        assert_eq!(question(&msg, "/ai"), Some("请问 ，现在几点".into()));
        msg.content = "@小灰灰 不是我".into();
        assert_eq!(question(&msg, "/ai"), None);
        msg.content = "@小灰".into();
        assert_eq!(question(&msg, "/ai"), None, "nothing asked");
        msg.content = "@Alice hi".into();
        assert_eq!(question(&msg, "/ai"), None);
        assert!(host.logs().is_empty());
    }

    #[test]
    fn mentions_are_all_taken_out() {
        assert_eq!(
            without_mentions("@a hi @b and @a", &["a", "b", ""]),
            Some(" hi  and ".into())
        );
        assert_eq!(without_mentions("@ab", &["a"]), None);
    }
}
