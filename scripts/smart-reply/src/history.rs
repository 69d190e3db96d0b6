//! A short history per chat, in the bot's KV store: the last exchanges
//! (a question and its answer), sent with each new question so the model
//! follows the conversation. It survives swaps and restarts.
//!
//! KV layout: `h/<chat>` → JSON `[{"role":"user","content":…},
//! {"role":"assistant","content":…}, …]`, oldest first, where `<chat>` is
//! `group:<number>`, `friend:<qq>`, `sess:<qq>` or `discuss:<id>`.

use openqq_bot::{ChatKind, Message, kv};
use serde::{Deserialize, Serialize};

/// Who said a line, as chat-completion APIs name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

/// One line of a conversation: a chat-completion `message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Turn {
    pub role: Role,
    pub content: String,
}

impl Turn {
    pub fn new(role: Role, content: impl Into<String>) -> Turn {
        Turn {
            role,
            content: content.into(),
        }
    }
}

/// The KV key of the history of `msg`'s chat; `None` for a chat with no
/// stable name (a sender or group the gateway has no number for).
pub fn key(msg: &Message) -> Option<String> {
    let chat = match msg.kind {
        ChatKind::Group => format!("group:{}", msg.group_number()?),
        ChatKind::Friend => format!("friend:{}", msg.sender_qq()?),
        ChatKind::Sess => format!("sess:{}", msg.sender_qq()?),
        ChatKind::Discuss => format!("discuss:{}", msg.discuss_id()?),
    };
    Some(format!("h/{chat}"))
}

/// The history stored at `key`, oldest first (empty when there is none).
///
/// # Errors
///
/// The store failed, or the value is not a history (then it is replaced at
/// the next save).
pub fn load(key: &str) -> Result<Vec<Turn>, kv::Error> {
    Ok(kv::get_json(key)?.unwrap_or_default())
}

/// Stores the last `max_exchanges` exchanges of `turns` at `key`. When the
/// store's quota refuses that much, older exchanges are dropped until it
/// fits (one long answer should not stop the history for good).
///
/// # Errors
///
/// The store failed, or even the last exchange does not fit.
pub fn save(key: &str, turns: &[Turn], max_exchanges: usize) -> Result<(), kv::Error> {
    let mut keep = &turns[turns.len().saturating_sub(max_exchanges * 2)..];
    if keep.is_empty() {
        kv::delete(key)?;
        return Ok(());
    }
    loop {
        match kv::set_json(key, keep) {
            Err(kv::Error::Quota(_)) if keep.len() > 2 => keep = &keep[2..],
            other => return other,
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use openqq_bot::testing::{self, MockHost};

    fn exchanges(n: usize) -> Vec<Turn> {
        (0..n)
            .flat_map(|i| {
                [
                    Turn::new(Role::User, format!("q{i}")),
                    Turn::new(Role::Assistant, format!("a{i}")),
                ]
            })
            .collect()
    }

    #[test]
    fn keys_name_the_chat() {
        let _host = MockHost::new();
        let key_of = |m: Message| key(&m);
        assert_eq!(
            key_of(testing::group_message(555, 1, "a", "x")),
            Some("h/group:555".into())
        );
        assert_eq!(
            key_of(testing::friend_message(7, "a", "x")),
            Some("h/friend:7".into())
        );
        assert_eq!(
            key_of(testing::sess_message(555, 7, "a", "x")),
            Some("h/sess:7".into())
        );
        assert_eq!(
            key_of(testing::discuss_message("d1", 7, "a", "x")),
            Some("h/discuss:d1".into())
        );
        let mut unknown = testing::friend_message(7, "a", "x");
        unknown.sender.qq = None;
        assert_eq!(key(&unknown), None);
    }

    #[test]
    fn saved_histories_keep_the_last_exchanges_as_json() {
        let _host = MockHost::new();
        assert_eq!(load("h/x"), Ok(vec![]));
        save("h/x", &exchanges(4), 3).unwrap();
        let kept = load("h/x").unwrap();
        assert_eq!(kept, exchanges(4)[2..]);
        let stored = kv::get_str("h/x").unwrap().unwrap();
        assert!(
            stored.starts_with(r#"[{"role":"user","content":"q1"},{"role":"assistant""#),
            "{stored}"
        );
        save("h/x", &exchanges(4), 0).unwrap();
        assert_eq!(kv::get("h/x"), Ok(None), "no history kept");
    }

    #[test]
    fn a_full_store_drops_older_exchanges_first() {
        let host = MockHost::new();
        // Room for about two exchanges of this size.
        host.kv_quota(200, 200);
        save("h/x", &exchanges(5), 5).unwrap();
        let kept = load("h/x").unwrap();
        assert!(kept.len() >= 2 && kept.len() < 10, "{kept:?}");
        assert_eq!(kept.last(), exchanges(5).last());
        host.kv_quota(10, 200);
        assert!(matches!(
            save("h/x", &exchanges(1), 5),
            Err(kv::Error::Quota(_))
        ));
    }
}
