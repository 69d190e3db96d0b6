//! The `openqq:bot/addressing` import (0.2.0): who the message being handled
//! addresses. Read from the `InboundMessage` the call is about
//! (`BotState::addressed`, set for `on-message` only); keyed by the
//! message's id so a bot never reads one message's fields for another's.

use super::bindings::v1::openqq::bot::types::MemberRole as WitRole;
use super::bindings::v2::openqq::bot::addressing as wit;
use super::state::BotState;
use crate::model::{Addressing, MemberRole};

impl wit::Host for BotState {
    fn of(&mut self, id: String) -> Option<wit::Addressed> {
        let (msg_id, a) = self.addressed.as_ref()?;
        (*msg_id == id).then(|| to_wit(a))
    }
}

fn role(r: MemberRole) -> WitRole {
    match r {
        MemberRole::Owner => WitRole::Owner,
        MemberRole::Admin => WitRole::Admin,
        MemberRole::Member => WitRole::Member,
    }
}

pub fn to_wit(a: &Addressing) -> wit::Addressed {
    wit::Addressed {
        role: a.role.map(role),
        mentions: a.mentions.iter().map(|q| q.0).collect(),
        at_me: a.at_me,
        at_all: a.at_all,
        reply_to: a.reply_to.as_ref().map(|q| wit::Quoted {
            id: q.id.clone(),
            sender: q.sender.map(|s| s.0),
            text: q.text.clone(),
        }),
        body: a.body.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Qq, Quoted};

    #[test]
    fn every_field_reaches_the_record() {
        let a = Addressing {
            role: Some(MemberRole::Admin),
            mentions: vec![Qq(1), Qq(2)],
            at_me: true,
            at_all: true,
            reply_to: Some(Quoted {
                id: "9".into(),
                sender: Some(Qq(3)),
                text: Some("hi".into()),
            }),
            body: "/roll".into(),
        };
        let w = to_wit(&a);
        assert_eq!(w.role, Some(WitRole::Admin));
        assert_eq!(w.mentions, [1, 2]);
        assert!(w.at_me && w.at_all);
        let q = w.reply_to.expect("quoted");
        assert_eq!(
            (q.id.as_str(), q.sender, q.text.as_deref()),
            ("9", Some(3), Some("hi"))
        );
        assert_eq!(w.body, "/roll");
    }
}
