//! Inbound normalisation: a backend's raw message (numbers only) becomes an
//! Openqq `InboundMessage`, with session ids and display names filled in
//! from the contact snapshot of the moment — or placeholders for people the
//! contacts do not know yet (`昵称未知`, the original's "nick unknown").

use crate::backend::{RawChat, RawInbound};
use crate::model::{ChatKind, ChatRef, GroupNumber, InboundMessage, Person, Qq};

use super::SessionHandle;

impl SessionHandle {
    /// Fills in session ids and display names from the contact cache.
    pub(super) fn normalise(&self, raw: RawInbound) -> InboundMessage {
        self.normalise_as(raw, true)
    }

    /// As a received message would be normalised, remembering nothing (a
    /// dry run: the message never came, so `get_recent_info` does not
    /// list its sender).
    pub fn normalise_dry_run(&self, raw: RawInbound) -> InboundMessage {
        self.normalise_as(raw, false)
    }

    fn normalise_as(&self, raw: RawInbound, received: bool) -> InboundMessage {
        let c = self.contacts();
        let user = &c.user;
        let me = Person {
            id: user.id.clone(),
            qq: Some(user.qq),
            name: user.nick.clone(),
        };
        let stranger = |qq: Qq| Person {
            id: c
                .known_person_id(qq)
                .map_or_else(|| qq.to_string(), str::to_string),
            qq: Some(qq),
            name: "昵称未知".to_string(),
        };
        let group_ref = |n: GroupNumber| {
            c.group(n).map_or_else(
                || ChatRef {
                    id: n.to_string(),
                    number: Some(n),
                    key: 0,
                    name: String::new(),
                },
                |g| ChatRef {
                    id: g.gid.clone(),
                    number: Some(n),
                    key: 0,
                    name: g.gname.clone(),
                },
            )
        };
        let member = |n: GroupNumber, qq: Qq| {
            c.group(n).and_then(|g| g.member_by_qq(qq)).map_or_else(
                || stranger(qq),
                |m| Person {
                    id: m.id.clone(),
                    qq: Some(qq),
                    name: m.display_name().to_string(),
                },
            )
        };
        let discuss_ref = |k: u64| {
            c.discuss_by_key(k).map_or_else(
                || ChatRef {
                    id: k.to_string(),
                    number: None,
                    key: k,
                    name: String::new(),
                },
                |d| ChatRef {
                    id: d.did.clone(),
                    number: None,
                    key: k,
                    name: d.dname.clone(),
                },
            )
        };
        let discuss_member = |k: u64, qq: Qq| {
            c.discuss_by_key(k)
                .and_then(|d| d.member_by_qq(qq))
                .map_or_else(
                    || stranger(qq),
                    |m| Person {
                        id: m.id.clone(),
                        qq: Some(qq),
                        name: m.nick.clone(),
                    },
                )
        };
        let (kind, sender, receiver, group, discuss) = match raw.from {
            RawChat::Friend => {
                let sender = c.friend(raw.sender).map_or_else(
                    || stranger(raw.sender),
                    |f| Person {
                        id: f.id.clone(),
                        qq: Some(f.qq),
                        name: f.display_name().to_string(),
                    },
                );
                if received {
                    self.note_recent(raw.sender, None);
                }
                (ChatKind::Friend, sender, me, None, None)
            }
            RawChat::Group(n) => {
                // In a group the account is seen under its own member card.
                let receiver =
                    c.group(n)
                        .and_then(|g| g.member_by_qq(user.qq))
                        .map_or(me.clone(), |m| Person {
                            name: m.display_name().to_string(),
                            ..me.clone()
                        });
                (
                    ChatKind::Group,
                    member(n, raw.sender),
                    receiver,
                    Some(group_ref(n)),
                    None,
                )
            }
            RawChat::Discuss(k) => (
                ChatKind::Discuss,
                discuss_member(k, raw.sender),
                me,
                None,
                Some(discuss_ref(k)),
            ),
            RawChat::GroupSess(n) => {
                if received {
                    self.note_recent(raw.sender, Some(n));
                }
                (
                    ChatKind::Sess,
                    member(n, raw.sender),
                    me,
                    Some(group_ref(n)),
                    None,
                )
            }
            RawChat::DiscussSess(k) => (
                ChatKind::Sess,
                discuss_member(k, raw.sender),
                me,
                None,
                Some(discuss_ref(k)),
            ),
        };
        let mut addressing = raw.addressing;
        if addressing.role.is_none() {
            // The backend did not say: the role the contacts know, in the
            // group the message came through.
            addressing.role = group
                .as_ref()
                .and_then(|g| g.number)
                .and_then(|n| c.group(n))
                .and_then(|g| g.member_by_qq(raw.sender))
                .map(|m| m.role);
        }
        InboundMessage {
            id: raw.msg_id,
            kind,
            time: raw.time,
            content: raw.content,
            sender,
            receiver,
            group,
            discuss,
            addressing,
            trace: Default::default(),
        }
    }
}
