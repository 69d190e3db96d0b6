//! The `openqq:bot/host` imports: what a script may ask of the gateway.
//!
//! A guest error (friend not found, send refused) is an `Err` the bot sees and
//! handles; nothing here traps.

use super::bindings::openqq::bot::{host, types};
use super::limits::{MAX_LOG_LINE, MAX_SENDS_PER_CALL};
use super::state::BotState;
use crate::model::{GroupNumber, GroupRole, MemberRole, Qq, SendOrigin};
use crate::session::{Lookup, SendRequest};

impl types::Host for BotState {}

fn address(a: &types::Address, id_key: &str, number_key: &str) -> Lookup {
    match a {
        types::Address::Id(id) => Lookup::new().with(id_key, id.clone()),
        types::Address::Number(n) => Lookup::new().with(number_key, n.to_string()),
    }
}

/// A destination in Openqq look-up terms, so bots and the HTTP API resolve
/// targets the same way.
pub fn send_request(to: &types::Destination) -> SendRequest {
    use types::Destination as D;
    match to {
        D::Friend(a) => SendRequest::Friend(address(a, "id", "qq")),
        D::Group(a) => SendRequest::Group(address(a, "gid", "gnumber")),
        D::Discuss(did) => SendRequest::Discuss(Lookup::new().with("did", did.clone())),
        D::GroupTemp(t) => SendRequest::Sess {
            group: Some(address(&t.group, "gid", "gnumber")),
            discuss: None,
            member: address(&t.member, "id", "qq"),
        },
        D::DiscussTemp(t) => SendRequest::Sess {
            group: None,
            discuss: Some(Lookup::new().with("did", t.discuss.clone())),
            member: address(&t.member, "id", "qq"),
        },
    }
}

fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl host::Host for BotState {
    fn log(&mut self, level: host::Level, text: String) {
        let text = cut(&text, MAX_LOG_LINE);
        let script = &*self.host.script;
        let msg_id = super::state::msg_id_of(&self.host.msg);
        if level == host::Level::Error {
            super::state::note_error(&self.host.msg, text);
        }
        match level {
            host::Level::Trace => tracing::trace!(script, msg_id, "{text}"),
            host::Level::Debug => tracing::debug!(script, msg_id, "{text}"),
            host::Level::Info => tracing::info!(script, msg_id, "{text}"),
            host::Level::Warn => tracing::warn!(script, msg_id, "{text}"),
            host::Level::Error => tracing::error!(script, msg_id, "{text}"),
        }
    }

    async fn send(&mut self, to: types::Destination, content: String) -> Result<u64, String> {
        // Sends are off the deadline's clock, so the deadline no longer
        // bounds a bot that sends in a loop: this does.
        if self.sends >= MAX_SENDS_PER_CALL {
            return Err(format!(
                "too many sends in one call (at most {MAX_SENDS_PER_CALL})"
            ));
        }
        self.sends += 1;
        let req = send_request(&to);
        let session = self.host.session.clone();
        let origin = SendOrigin::Script(self.host.script.to_string());
        let sent = self
            .off_the_clock(session.send(&req, &content, origin))
            .await;
        match sent {
            Ok(id) => Ok(id.0),
            Err(e) => Err(e.to_string()),
        }
    }

    fn whoami(&mut self) -> types::Person {
        let c = self.host.session.contacts();
        types::Person {
            id: c.user.id.clone(),
            qq: Some(c.user.qq.0),
            name: c.user.nick.clone(),
        }
    }

    fn friend(&mut self, qq: u64) -> Option<types::Friend> {
        let c = self.host.session.contacts();
        c.friend(Qq(qq)).map(|f| types::Friend {
            id: f.id.clone(),
            qq: f.qq.0,
            nick: f.nick.clone(),
            markname: f.markname.clone(),
            category: f.category.clone(),
        })
    }

    fn group(&mut self, number: u64) -> Option<types::Group> {
        self.host
            .session
            .contacts()
            .group(GroupNumber(number))
            .map(group_to_wit)
    }

    fn group_member(&mut self, group: u64, qq: u64) -> Option<types::Member> {
        let c = self.host.session.contacts();
        c.group(GroupNumber(group))?
            .member_by_qq(Qq(qq))
            .map(member_to_wit)
    }

    fn now_ms(&mut self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }
}

/// The WIT view of a group.
pub fn group_to_wit(g: &crate::model::Group) -> types::Group {
    types::Group {
        id: g.gid.clone(),
        number: g.gnumber.0,
        name: g.gname.clone(),
        role: match g.gtype {
            GroupRole::Attend => types::GroupRole::Attend,
            GroupRole::Manage => types::GroupRole::Manage,
            GroupRole::Create => types::GroupRole::Create,
        },
    }
}

/// The WIT view of a group member.
pub fn member_to_wit(m: &crate::model::GroupMember) -> types::Member {
    types::Member {
        id: m.id.clone(),
        qq: m.qq.0,
        nick: m.nick.clone(),
        card: m.card.clone(),
        role: match m.role {
            MemberRole::Owner => types::MemberRole::Owner,
            MemberRole::Admin => types::MemberRole::Admin,
            MemberRole::Member => types::MemberRole::Member,
        },
    }
}
