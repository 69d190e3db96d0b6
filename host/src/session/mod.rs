//! The QQ account's session: login state, the contact cache, inbound
//! normalisation and every outbound action.
//!
//! Owns: contacts (`Contacts`, published as lock-free `Arc` snapshots), the
//! outbox, relogin, recent chats. Must not: know HTTP or WebAssembly.
//!
//! `Session::start` returns a clonable `SessionHandle` (what the API, the
//! pipeline and bots call) and spawns the `SessionTask`, which turns backend
//! events into `InboundMessage`s for the pipeline.

mod contacts;
mod error;
mod lookup;
mod outbox;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use tokio::sync::mpsc;

pub use contacts::Contacts;
pub use error::{Missing, SendFailure, SessionError};
pub use lookup::Lookup;
pub use outbox::{MsgIds, Outbox, OutboxConfig};

use crate::backend::{Backend, BackendError, BackendEvent, RawChat, RawInbound};
use crate::model::{
    ChatKind, ChatRef, Event, GroupNumber, InboundMessage, MAX_MUTE_SECS, MIN_MUTE_SECS, MemberRef,
    MemberRole, MsgId, Person, Qq, SendOrigin, SendTarget, SentMessage,
};

/// How many session events may wait for a slow subscriber before it misses
/// some (it is told how many, and logs it).
const EVENT_BUFFER: usize = 4096;

/// Something the session reports besides received messages.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionEvent {
    /// The account sent (or failed to send) a message.
    Sent(SentMessage),
    /// A login, a stop, or a contact change (shared: it carries whole
    /// groups, and bots get the same one).
    Event(Arc<Event>),
}

/// How many recent private partners `get_recent_info` keeps (the original's
/// `max_recent`).
const MAX_RECENT: usize = 20;

/// Where a send goes, as the client named it (spec §4 look-ups).
#[derive(Debug, Clone, PartialEq)]
pub enum SendRequest {
    Friend(Lookup),
    Group(Lookup),
    Discuss(Lookup),
    /// A temp message: through a group when `group` is given (it wins), else
    /// through a discussion.
    Sess {
        group: Option<Lookup>,
        discuss: Option<Lookup>,
        member: Lookup,
    },
}

/// Which members a mute or kick names: `member_id` wins over `member_qq`.
#[derive(Debug, Clone, PartialEq)]
pub enum MemberList {
    Ids(Vec<String>),
    Qqs(Vec<String>),
}

/// A person who wrote to the account privately, for `get_recent_info`.
#[derive(Debug, Clone, PartialEq)]
pub enum Recent {
    Friend(crate::model::Friend),
    Member(crate::model::GroupMember, GroupNumber),
}

/// A send resolved and numbered but not yet carried out
/// (`SessionHandle::prepare`, then `send_prepared`).
#[derive(Debug, Clone)]
pub struct PreparedSend {
    pub msg_id: MsgId,
    pub target: SendTarget,
    pub content: String,
}

/// The clonable front of the session.
#[derive(Clone)]
pub struct SessionHandle {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Arc<dyn Backend>,
    contacts: ArcSwap<Contacts>,
    /// Serialises writers of `contacts` (readers never lock). A std mutex:
    /// held only to build and publish a new snapshot, never across `.await`.
    write: Mutex<()>,
    outbox: Outbox,
    recent: Mutex<VecDeque<(Qq, Option<GroupNumber>)>>,
    /// Logins, stops and contact changes, for the bots' `on-event`.
    events: tokio::sync::broadcast::Sender<Arc<Event>>,
    /// Own sends and the same events in the order they happened, for v2
    /// reports and `check_event`. Separate from `events`, and only built
    /// when someone listens: a send would otherwise wake a task that has
    /// nothing to do with it (v1 reports no sends).
    reports: tokio::sync::broadcast::Sender<SessionEvent>,
}

/// The session's background work, to be spawned by the caller.
pub struct SessionTask {
    session: SessionHandle,
    events: mpsc::Receiver<BackendEvent>,
    inbound: mpsc::Sender<InboundMessage>,
}

/// The session's constructor.
pub struct Session;

impl Session {
    /// Logs in and starts the outbox.
    ///
    /// # Errors
    /// When the first login fails.
    pub async fn start(
        backend: Arc<dyn Backend>,
        outbox_config: OutboxConfig,
        events: mpsc::Receiver<BackendEvent>,
        inbound: mpsc::Sender<InboundMessage>,
    ) -> Result<(SessionHandle, SessionTask), BackendError> {
        let snap = backend.login().await?;
        let contacts = Contacts::from_login(snap, backend.id_scheme(), 1);
        let outbox = Outbox::start(backend.clone(), outbox_config);
        let session = SessionHandle {
            inner: Arc::new(Inner {
                backend,
                contacts: ArcSwap::from_pointee(contacts),
                write: Mutex::new(()),
                outbox,
                recent: Mutex::new(VecDeque::new()),
                events: tokio::sync::broadcast::channel(EVENT_BUFFER).0,
                reports: tokio::sync::broadcast::channel(EVENT_BUFFER).0,
            }),
        };
        Ok((
            session.clone(),
            SessionTask {
                session,
                events,
                inbound,
            },
        ))
    }
}

impl SessionTask {
    /// Turns backend events into session changes and inbound messages until
    /// the backend's channel closes or nobody consumes messages any more.
    /// Inbound messages apply back-pressure: nothing is dropped.
    ///
    /// When `stop` turns true the backend's channel is closed to new events
    /// and what it already holds is still handled; then the task ends, which
    /// closes the pipeline's inbound queue so the pipeline drains too.
    pub async fn run(mut self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut closing = false;
        loop {
            let event = tokio::select! {
                biased;
                _ = stop.wait_for(|s| *s), if !closing => {
                    closing = true;
                    self.events.close();
                    continue;
                }
                event = self.events.recv() => event,
            };
            let Some(event) = event else { break };
            match event {
                BackendEvent::Message(raw) => {
                    let msg = self.session.normalise(raw);
                    if self.inbound.send(msg).await.is_err() {
                        break;
                    }
                }
                BackendEvent::MemberJoined { group, member } => {
                    let qq = member.qq;
                    self.session.update(|c| c.with_member(group, member));
                    let c = self.session.contacts();
                    if let Some(g) = c.group(group)
                        && let Some(m) = g.member_by_qq(qq)
                    {
                        self.session.emit(Event::NewGroupMember {
                            member: m.clone(),
                            group: g.clone(),
                        });
                    }
                }
                // A change to someone already known: the contacts follow,
                // nothing is reported (it is not a join).
                BackendEvent::MemberUpdated { group, member } => {
                    self.session
                        .update(|c| c.with_member_changed(group, member));
                }
                BackendEvent::FriendUpdated(f) => {
                    self.session.update(|c| c.with_friend_changed(f));
                }
                BackendEvent::MemberLeft { group, member } => {
                    self.session.member_left(group, member);
                }
                BackendEvent::FriendAdded(f) => {
                    let qq = f.qq;
                    self.session.update(|c| Some(c.with_friend(f)));
                    if let Some(f) = self.session.contacts().friend(qq) {
                        self.session.emit(Event::NewFriend(f.clone()));
                    }
                }
                BackendEvent::FriendRemoved(qq) => {
                    let before = self.session.contacts().friend(qq).cloned();
                    self.session.update(|c| Some(c.without_friend(qq)));
                    if let Some(f) = before {
                        self.session.emit(Event::LoseFriend(f));
                    }
                }
                BackendEvent::Down => {
                    tracing::warn!(backend = self.session.backend_name(), "link to QQ is down")
                }
                BackendEvent::Up | BackendEvent::Resync => {
                    let why = if matches!(event, BackendEvent::Up) {
                        "link to QQ is up; re-syncing contacts"
                    } else {
                        "contacts changed on the QQ side; re-syncing them"
                    };
                    tracing::info!(backend = self.session.backend_name(), "{why}");
                    if let Err(e) = self.session.resync().await {
                        tracing::warn!(error = %e, "contact re-sync failed");
                    }
                }
            }
        }
    }
}

impl SessionHandle {
    pub fn backend_name(&self) -> &'static str {
        self.inner.backend.name()
    }

    /// Logins, stops and contact changes from now on.
    pub fn subscribe_events(&self) -> tokio::sync::broadcast::Receiver<Arc<Event>> {
        self.inner.events.subscribe()
    }

    /// Own sends and events from now on, in the order they happened.
    pub fn subscribe_reports(&self) -> tokio::sync::broadcast::Receiver<SessionEvent> {
        self.inner.reports.subscribe()
    }

    /// Resolves once every report published so far has been taken by its
    /// subscribers (a stopping gateway waits here before the webhook's
    /// queue is drained, so the last send and event reports are in it).
    pub async fn reports_taken(&self) {
        // The report task enqueues right after it receives, without
        // awaiting; a short pause after the channel is empty covers that.
        while !self.inner.reports.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }

    /// Reports an event to subscribers (none listening is fine).
    pub fn emit(&self, e: Event) {
        let e = Arc::new(e);
        let _ = self.inner.reports.send(SessionEvent::Event(e.clone()));
        let _ = self.inner.events.send(e);
    }

    /// Removes a member from a group's contacts and reports it.
    fn member_left(&self, group: GroupNumber, qq: Qq) {
        let before = self
            .contacts()
            .group(group)
            .and_then(|g| g.member_by_qq(qq))
            .cloned();
        self.update(|c| c.without_member(group, qq));
        if let (Some(member), Some(g)) = (before, self.contacts().group(group)) {
            self.emit(Event::LoseGroupMember {
                member,
                group: g.clone(),
            });
        }
    }

    /// The current contacts; a cheap snapshot that never changes under you.
    pub fn contacts(&self) -> Arc<Contacts> {
        self.inner.contacts.load_full()
    }

    fn update(&self, change: impl FnOnce(&Contacts) -> Option<Contacts>) {
        let _w = self.inner.write.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(next) = change(&self.inner.contacts.load()) {
            self.inner.contacts.store(Arc::new(next));
        }
    }

    /// A fresh login: every session id changes, numbers stay (spec §2).
    ///
    /// # Errors
    /// When the backend cannot log in; the old contacts stay.
    pub async fn relogin(&self) -> Result<(), BackendError> {
        let snap = self.inner.backend.login().await?;
        let scheme = self.inner.backend.id_scheme();
        self.update(|old| Some(Contacts::from_login(snap, scheme, old.login + 1)));
        self.inner
            .recent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        tracing::info!(
            backend = self.backend_name(),
            "logged in afresh; session ids changed"
        );
        self.emit(Event::Login { is_scan: true });
        Ok(())
    }

    /// Re-reads contacts without a new login (ids are kept where the backend's
    /// scheme makes them stable).
    async fn resync(&self) -> Result<(), BackendError> {
        let snap = self.inner.backend.login().await?;
        let scheme = self.inner.backend.id_scheme();
        self.update(|old| Some(Contacts::from_login(snap, scheme, old.login)));
        Ok(())
    }

    /// Resolves where a send goes, by the Openqq look-up rules.
    ///
    /// # Errors
    /// `NotFound` with the kind of contact that is missing.
    pub fn resolve(&self, req: &SendRequest) -> Result<SendTarget, SessionError> {
        let c = self.contacts();
        let nf = |m| SessionError::NotFound(m);
        Ok(match req {
            SendRequest::Friend(l) => {
                let f = c.find_friend(l).ok_or(nf(Missing::Friend))?;
                SendTarget::Friend {
                    id: f.id.clone(),
                    qq: f.qq,
                }
            }
            SendRequest::Group(l) => {
                let g = c.find_group(l).ok_or(nf(Missing::Group))?;
                SendTarget::Group {
                    gid: g.gid.clone(),
                    gnumber: g.gnumber,
                }
            }
            SendRequest::Discuss(l) => {
                let d = c.find_discuss(l).ok_or(nf(Missing::Discuss))?;
                SendTarget::Discuss {
                    did: d.did.clone(),
                    key: d.key,
                }
            }
            SendRequest::Sess {
                group: Some(gl),
                member,
                ..
            } => {
                let g = c.find_group(gl).ok_or(nf(Missing::GroupMember))?;
                let m = Contacts::find_member(g, member).ok_or(nf(Missing::GroupMember))?;
                SendTarget::GroupSess {
                    gid: g.gid.clone(),
                    gnumber: g.gnumber,
                    id: m.id.clone(),
                    qq: m.qq,
                }
            }
            SendRequest::Sess {
                group: None,
                discuss: Some(dl),
                member,
            } => {
                let d = c.find_discuss(dl).ok_or(nf(Missing::DiscussMember))?;
                let m =
                    Contacts::find_discuss_member(d, member).ok_or(nf(Missing::DiscussMember))?;
                SendTarget::DiscussSess {
                    did: d.did.clone(),
                    key: d.key,
                    id: m.id.clone(),
                    qq: m.qq,
                }
            }
            SendRequest::Sess {
                group: None,
                discuss: None,
                ..
            } => return Err(nf(Missing::SessChat)),
        })
    }

    /// Sends a message: resolve, then through the outbox.
    ///
    /// # Errors
    /// Not found, content missing, or the outbox's failure.
    pub async fn send(
        &self,
        req: &SendRequest,
        content: &str,
        origin: SendOrigin,
    ) -> Result<MsgId, SessionError> {
        let target = self.resolve(req)?;
        self.send_to(target, content, origin).await
    }

    /// Sends to an already resolved target (replies to inbound messages).
    pub async fn send_to(
        &self,
        target: SendTarget,
        content: &str,
        origin: SendOrigin,
    ) -> Result<MsgId, SessionError> {
        if content.is_empty() {
            return Err(SessionError::ContentMissing);
        }
        let prepared = PreparedSend {
            msg_id: self.inner.outbox.reserve(),
            target,
            content: content.to_string(),
        };
        self.send_prepared(prepared, origin).await
    }

    /// Everything about a send that can be known at once — where it goes,
    /// that it has content, its `msg_id` — without sending it yet: a bot's
    /// `host::send` answers with this and the send goes after its call.
    ///
    /// # Errors
    /// Not found, or content missing.
    pub fn prepare(&self, req: &SendRequest, content: &str) -> Result<PreparedSend, SessionError> {
        if content.is_empty() {
            return Err(SessionError::ContentMissing);
        }
        Ok(PreparedSend {
            target: self.resolve(req)?,
            msg_id: self.inner.outbox.reserve(),
            content: content.to_string(),
        })
    }

    /// Carries out a prepared send through the outbox and waits for QQ.
    ///
    /// # Errors
    /// The outbox's failure.
    pub async fn send_prepared(
        &self,
        prepared: PreparedSend,
        origin: SendOrigin,
    ) -> Result<MsgId, SessionError> {
        let PreparedSend {
            msg_id,
            target,
            content,
        } = prepared;
        let content = content.as_str();
        let result = self
            .inner
            .outbox
            .send_as(msg_id, target.clone(), content.to_string())
            .await;
        let (msg_id, outcome) = match &result {
            Ok(id) => (*id, Ok(())),
            Err(SessionError::Send {
                msg_id,
                failure,
                info,
            }) => (*msg_id, Err((failure.code(), info.clone()))),
            Err(_) => return result,
        };
        if self.inner.reports.receiver_count() == 0 {
            return result;
        }
        let time = crate::clock::unix_now();
        let sent = SentMessage {
            msg_id,
            target,
            content: content.to_string(),
            origin,
            time,
            outcome,
        };
        let _ = self.inner.reports.send(SessionEvent::Sent(sent));
        result
    }

    /// Resolves a mute/kick: the group first, then every listed member.
    fn resolve_members(
        &self,
        group: &Lookup,
        members: &MemberList,
    ) -> Result<Vec<MemberRef>, SessionError> {
        let c = self.contacts();
        let g = c
            .find_group(group)
            .ok_or(SessionError::GroupObjectNotFound)?;
        let (key, values) = match members {
            MemberList::Ids(v) => ("id", v),
            MemberList::Qqs(v) => ("qq", v),
        };
        let values: Vec<&String> = values.iter().filter(|v| !v.is_empty()).collect();
        if values.is_empty() {
            return Err(SessionError::MemberListEmpty);
        }
        values
            .into_iter()
            .map(|v| {
                let m = Contacts::find_member(g, &Lookup::new().with(key, v.clone()))
                    .ok_or_else(|| SessionError::MemberNotFound(v.clone()))?;
                if !g.gtype.can_manage() {
                    return Err(SessionError::Refused(
                        "the account is not an admin of this group".into(),
                    ));
                }
                if m.role != MemberRole::Member {
                    return Err(SessionError::Refused(format!(
                        "member {} is the group's {}",
                        m.qq,
                        m.role.as_str()
                    )));
                }
                Ok(MemberRef {
                    gid: g.gid.clone(),
                    gnumber: g.gnumber,
                    id: m.id.clone(),
                    qq: m.qq,
                })
            })
            .collect()
    }

    /// Mutes members for `seconds` (QQ's range: 60 s to 30 days).
    ///
    /// # Errors
    /// Group/member not found, empty list, or refused (by the rules or by QQ).
    pub async fn shutup(
        &self,
        group: &Lookup,
        members: &MemberList,
        seconds: u64,
    ) -> Result<(), SessionError> {
        let targets = self.resolve_members(group, members)?;
        if seconds < MIN_MUTE_SECS {
            return Err(SessionError::Refused(format!(
                "mute of {seconds} s is under the 60 s minimum"
            )));
        }
        if seconds > MAX_MUTE_SECS {
            return Err(SessionError::Refused(format!(
                "mute of {seconds} s is over QQ's 30-day maximum ({MAX_MUTE_SECS} s)"
            )));
        }
        let seconds = u32::try_from(seconds)
            .map_err(|_| SessionError::Refused("mute time too large".into()))?;
        for t in &targets {
            self.inner
                .backend
                .shutup(t, seconds)
                .await
                .map_err(|e| SessionError::Refused(e.to_string()))?;
        }
        Ok(())
    }

    /// Removes members from a group; they leave the contact cache too.
    ///
    /// # Errors
    /// As `shutup`.
    pub async fn kick(&self, group: &Lookup, members: &MemberList) -> Result<(), SessionError> {
        let targets = self.resolve_members(group, members)?;
        for t in &targets {
            self.inner
                .backend
                .kick(t)
                .await
                .map_err(|e| SessionError::Refused(e.to_string()))?;
            self.member_left(t.gnumber, t.qq);
        }
        Ok(())
    }

    /// Mutes the sender of a group message (a decision's `shutup`).
    pub async fn shutup_member(
        &self,
        gnumber: GroupNumber,
        qq: Qq,
        seconds: u64,
    ) -> Result<(), SessionError> {
        let group = Lookup::new().with("gnumber", gnumber.to_string());
        self.shutup(&group, &MemberList::Qqs(vec![qq.to_string()]), seconds)
            .await
    }

    /// Recent private partners, most recent first (`get_recent_info`).
    pub fn recent(&self) -> Vec<Recent> {
        let c = self.contacts();
        let recent = self
            .inner
            .recent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        recent
            .into_iter()
            .filter_map(|(qq, group)| match group {
                None => c.friend(qq).cloned().map(Recent::Friend),
                Some(n) => c
                    .group(n)?
                    .member_by_qq(qq)
                    .cloned()
                    .map(|m| Recent::Member(m, n)),
            })
            .collect()
    }

    fn note_recent(&self, qq: Qq, group: Option<GroupNumber>) {
        let mut r = self.inner.recent.lock().unwrap_or_else(|p| p.into_inner());
        r.retain(|e| *e != (qq, group));
        r.push_front((qq, group));
        r.truncate(MAX_RECENT);
    }

    /// Fills in session ids and display names from the contact cache.
    fn normalise(&self, raw: RawInbound) -> InboundMessage {
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
                self.note_recent(raw.sender, None);
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
                self.note_recent(raw.sender, Some(n));
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
        InboundMessage {
            id: raw.msg_id,
            kind,
            time: raw.time,
            content: raw.content,
            sender,
            receiver,
            group,
            discuss,
        }
    }

    /// Where a reply to `msg` goes: back to the friend, group or discussion,
    /// or as a temp message to the sender.
    pub fn reply_target(&self, msg: &InboundMessage) -> Option<SendTarget> {
        let qq = msg.sender.qq?;
        let id = msg.sender.id.clone();
        Some(match msg.kind {
            ChatKind::Friend => SendTarget::Friend { id, qq },
            ChatKind::Group => {
                let g = msg.group.as_ref()?;
                SendTarget::Group {
                    gid: g.id.clone(),
                    gnumber: g.number?,
                }
            }
            ChatKind::Discuss => {
                let d = msg.discuss.as_ref()?;
                SendTarget::Discuss {
                    did: d.id.clone(),
                    key: d.key,
                }
            }
            ChatKind::Sess => match (&msg.group, &msg.discuss) {
                (Some(g), _) => SendTarget::GroupSess {
                    gid: g.id.clone(),
                    gnumber: g.number?,
                    id,
                    qq,
                },
                (None, Some(d)) => SendTarget::DiscussSess {
                    did: d.id.clone(),
                    key: d.key,
                    id,
                    qq,
                },
                (None, None) => return None,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::sim::{Sim, World};
    use crate::model::{Friend, GroupMember};

    /// Regression: a change to a known member or friend was reported as a
    /// new one. Only a join or an add of someone absent is an event.
    #[tokio::test]
    async fn updates_change_contacts_silently_and_joins_are_reported() {
        let (tx, rx) = mpsc::channel(16);
        let (in_tx, _in_rx) = mpsc::channel(16);
        let sim = Arc::new(Sim::new(World::default_world(), tx.clone()));
        let (session, task) = Session::start(sim, OutboxConfig::default(), rx, in_tx)
            .await
            .expect("login");
        let mut events = session.subscribe_events();
        let (_keep_running, stop) = tokio::sync::watch::channel(false);
        let run = tokio::spawn(task.run(stop));
        let n = GroupNumber(552603);
        let id = |s: &SessionHandle| {
            s.contacts()
                .group(n)
                .and_then(|g| g.member_by_qq(Qq(888888)))
                .map(|m| m.id.clone())
        };
        let before = id(&session);
        let changed = GroupMember {
            qq: Qq(888888),
            card: "新名片".into(),
            last_speak_time: "1700000999".into(),
            ..GroupMember::default()
        };
        let sends = [
            BackendEvent::MemberUpdated {
                group: n,
                member: changed,
            },
            BackendEvent::FriendUpdated(Friend {
                qq: Qq(123456),
                markname: "新备注".into(),
                ..Friend::default()
            }),
            // Unknown to the session: an update does not add them.
            BackendEvent::MemberUpdated {
                group: n,
                member: GroupMember {
                    qq: Qq(4242),
                    ..GroupMember::default()
                },
            },
            BackendEvent::MemberJoined {
                group: n,
                member: GroupMember {
                    qq: Qq(5555),
                    ..GroupMember::default()
                },
            },
        ];
        for e in sends {
            tx.send(e).await.expect("session runs");
        }
        let e = tokio::time::timeout(std::time::Duration::from_secs(5), events.recv())
            .await
            .expect("an event")
            .expect("open");
        assert!(
            matches!(&*e, Event::NewGroupMember { member, .. } if member.qq == Qq(5555)),
            "the join is the first (and only) event: {e:?}"
        );
        assert!(events.try_recv().is_err(), "nothing else was reported");
        let c = session.contacts();
        let g = c.group(n).expect("group");
        let m = g.member_by_qq(Qq(888888)).expect("member");
        assert_eq!(m.card, "新名片");
        assert_eq!(id(&session), before, "same session id");
        assert!(g.member_by_qq(Qq(4242)).is_none());
        assert_eq!(c.friend(Qq(123456)).expect("friend").markname, "新备注");
        drop(tx);
        run.abort();
    }
}
