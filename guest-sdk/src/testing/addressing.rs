//! The mock behind [`Message::addressing`](crate::Message::addressing):
//! what the test said about a message, by its id.

use super::{MockHost, with_state};
use crate::{Addressed, Message};

impl MockHost {
    /// Says what `msg` addresses (its role, mentions, quote, body), as the
    /// gateway would for the message being handled. Start from
    /// [`Addressed::plain`] and change what the test needs, or use the
    /// shorthands [`as_admin`](Self::as_admin) and friends.
    pub fn address(&self, msg: &Message, addressed: Addressed) {
        with_state(|s| {
            s.addressed.insert(msg.id.clone(), addressed);
        });
    }

    /// What `msg` addresses now (as set, or plain).
    pub fn addressing_of(&self, msg: &Message) -> Addressed {
        of(&msg.id).unwrap_or_else(|| Addressed::plain(msg))
    }

    /// Makes `msg`'s sender have `role` in its group.
    pub fn with_role(&self, msg: &Message, role: crate::MemberRole) {
        let a = Addressed {
            role: Some(role),
            ..self.addressing_of(msg)
        };
        self.address(msg, a);
    }

    /// Makes `msg` start with a mention of the account: `at_me`, the
    /// account among the mentions, and `body` the text after `@name `.
    pub fn mentioning_me(&self, msg: &Message) {
        let mut a = self.addressing_of(msg);
        let me = super::SELF_QQ;
        a.at_me = true;
        if !a.mentions.contains(&me) {
            a.mentions.insert(0, me);
        }
        let text = msg.text().trim_start();
        a.body = match text.strip_prefix('@') {
            // `@name rest`: the name runs to the first space.
            Some(after) => after
                .split_once(char::is_whitespace)
                .map_or("", |(_, rest)| rest)
                .trim()
                .to_owned(),
            None => text.to_owned(),
        };
        self.address(msg, a);
    }

    /// Adds `qq` to `msg`'s mentions (in order).
    pub fn mentioning(&self, msg: &Message, qq: u64) {
        let mut a = self.addressing_of(msg);
        if !a.mentions.contains(&qq) {
            a.mentions.push(qq);
        }
        a.at_me |= qq == super::SELF_QQ;
        self.address(msg, a);
    }
}

pub(crate) fn of(id: &str) -> Option<Addressed> {
    with_state(|s| s.addressed.get(id).cloned())
}
