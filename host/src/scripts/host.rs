//! The `openqq:bot/host` imports: what a script may ask of the gateway.
//!
//! A guest error (friend not found, send refused) is an `Err` the bot sees and
//! handles; nothing here traps.

use super::actions::Queued;
use super::bindings::openqq::bot::{host, types};
use super::limits::MAX_LOG_LINE;
use super::state::BotState;
use crate::grants::Chat;
use crate::model::{GroupNumber, GroupRole, MemberRole, Qq};
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

/// The chat a destination names by number, known before any look-up;
/// `None` for one named by session id (a discussion always is).
fn chat_by_number(to: &types::Destination) -> Option<Chat> {
    use types::{Address::Number, Destination as D};
    match to {
        D::Friend(Number(qq)) => Some(Chat::friend(*qq)),
        D::Group(Number(n)) => Some(Chat::group(*n)),
        D::GroupTemp(types::GroupTemp {
            member: Number(qq), ..
        })
        | D::DiscussTemp(types::DiscussTemp {
            member: Number(qq), ..
        }) => Some(Chat {
            kind: crate::model::ChatKind::Sess,
            number: *qq,
        }),
        _ => None,
    }
}

/// The length of `text` in characters when it is over `max` of them.
pub fn over_chars(text: &str, max: usize) -> Option<usize> {
    // More bytes than `max` is needed for more characters: most texts are
    // decided without counting.
    if text.len() <= max {
        return None;
    }
    let chars = text.chars().count();
    (chars > max).then_some(chars)
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
        if level == host::Level::Error {
            // Kept even when the line is not logged: a trap says why.
            super::state::note_error(&self.host.msg, text);
        }
        if !self.admit_log_line() {
            return;
        }
        let script = &*self.host.script;
        let msg_id = super::state::msg_id_of(&self.host.msg);
        match level {
            host::Level::Trace => tracing::trace!(script = %script, %msg_id, "{text}"),
            host::Level::Debug => tracing::debug!(script = %script, %msg_id, "{text}"),
            host::Level::Info => tracing::info!(script = %script, %msg_id, "{text}"),
            host::Level::Warn => tracing::warn!(script = %script, %msg_id, "{text}"),
            host::Level::Error => tracing::error!(script = %script, %msg_id, "{text}"),
        }
    }

    /// Checks and queues the send; it is carried out once the call has
    /// returned (see `BotState::queued`), so the bot never waits here.
    async fn send(&mut self, to: types::Destination, content: String) -> Result<u64, String> {
        // Every attempt counts, refused ones too: a loop of refused sends
        // would otherwise cost a log line each for the whole call.
        self.send_attempts = self.send_attempts.saturating_add(1);
        let per_call = self.host.granted.grants.quotas.sends_per_call;
        if self.send_attempts > per_call {
            // Counted with the grants' refusals; the text is 0.1.0's.
            let why = format!("too many sends in one call (at most {per_call}, sends_per_call)");
            self.deny(&why);
            return Err(why);
        }
        let max = self.host.sandbox.max_reply_chars;
        if let Some(chars) = over_chars(&content, max) {
            if self.admit_log_line() {
                tracing::warn!(script = %self.host.script, msg_id = %super::state::msg_id_of(&self.host.msg), chars, limit = "max_reply_chars", "send refused: over [limits] max_reply_chars = {max}");
            }
            return Err(format!(
                "content too long: {chars} characters, at most {max}"
            ));
        }
        // A destination named by number is checked before it is looked up.
        if let Some(chat) = chat_by_number(&to)
            && let Err(reason) = self.host.granted.may_send_to(self.handling, chat)
        {
            return Err(self.deny(&reason));
        }
        let session = &self.host.session;
        let target = session
            .resolve(&send_request(&to))
            .map_err(|e| e.to_string())?;
        if content.is_empty() {
            return Err(crate::session::SessionError::ContentMissing.to_string());
        }
        if let Err(reason) = self
            .host
            .granted
            .may_send(self.handling, Chat::of_target(&target))
        {
            return Err(self.deny(&reason));
        }
        let prepared = session
            .prepare_to(target, &content)
            .map_err(|e| e.to_string())?;
        let id = prepared.msg_id.0;
        self.queued.push(Queued::Send(prepared));
        Ok(id)
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
        if !self.host.granted.may_look_up(Chat::friend(qq)) {
            return None;
        }
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
        if !self.host.granted.may_look_up(Chat::group(number)) {
            return None;
        }
        self.host
            .session
            .contacts()
            .group(GroupNumber(number))
            .map(group_to_wit)
    }

    fn group_member(&mut self, group: u64, qq: u64) -> Option<types::Member> {
        if !self.host.granted.may_look_up(Chat::group(group)) {
            return None;
        }
        let c = self.host.session.contacts();
        c.group(GroupNumber(group))?
            .member_by_qq(Qq(qq))
            .map(member_to_wit)
    }

    /// The gateway's clock: the real time, or the sim's moved one.
    fn now_ms(&mut self) -> u64 {
        self.host.timers.now_ms()
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

/// 0.2.0's `host` is 0.1.0's, word for word (the same types, through
/// `with` in `bindings`): each call goes to the one implementation above.
impl super::bindings::v2::openqq::bot::host::Host for BotState {
    fn log(&mut self, level: super::bindings::v2::openqq::bot::host::Level, text: String) {
        use super::bindings::v2::openqq::bot::host::Level as L2;
        let level = match level {
            L2::Trace => host::Level::Trace,
            L2::Debug => host::Level::Debug,
            L2::Info => host::Level::Info,
            L2::Warn => host::Level::Warn,
            L2::Error => host::Level::Error,
        };
        host::Host::log(self, level, text);
    }

    async fn send(&mut self, to: types::Destination, content: String) -> Result<u64, String> {
        host::Host::send(self, to, content).await
    }

    fn whoami(&mut self) -> types::Person {
        host::Host::whoami(self)
    }

    fn friend(&mut self, qq: u64) -> Option<types::Friend> {
        host::Host::friend(self, qq)
    }

    fn group(&mut self, number: u64) -> Option<types::Group> {
        host::Host::group(self, number)
    }

    fn group_member(&mut self, group: u64, qq: u64) -> Option<types::Member> {
        host::Host::group_member(self, group, qq)
    }

    fn now_ms(&mut self) -> u64 {
        host::Host::now_ms(self)
    }
}
