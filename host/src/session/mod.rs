//! The QQ account's session: login state, the contact cache, inbound
//! normalisation and every outbound action.
//!
//! Owns: contacts (`Contacts`, published as lock-free `Arc` snapshots), the
//! outbox, relogin, recent chats. Must not: know HTTP or WebAssembly.
//!
//! `Session::start` returns a clonable `SessionHandle` (what the API, the
//! pipeline and bots call) and the `SessionTask` to spawn, which turns
//! backend events into `InboundMessage`s for the pipeline.
//!
//! | module | owns |
//! |---|---|
//! | `task` | the backend's events in order; contact re-reads in the background |
//! | `normalise` | raw inbound → `InboundMessage` from the contact snapshot |
//! | `send` | look-ups, numbering, sending through the outbox, send reports |
//! | `act` | carrying out a decision without holding the chat's lane |
//! | `moderation` | mutes and kicks, typed checks shared by API and decisions |
//! | `recent` | `get_recent_info`'s partners |
//! | `stats` | counters for `/metrics`: received, sends by origin and outcome |
//! | `contacts`, `lookup`, `outbox` | the snapshot, the look-up rules, the pace of sends |

mod act;
mod contacts;
mod error;
mod lookup;
mod moderation;
mod normalise;
mod outbox;
mod recent;
mod send;
mod stats;
mod task;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use tokio::sync::mpsc;

pub use contacts::Contacts;
pub use error::{Missing, SendFailure, SessionError};
pub use lookup::Lookup;
pub use moderation::MemberList;
pub use outbox::{MsgIds, Outbox, OutboxConfig, OutboxStats};
pub use recent::Recent;
pub use stats::{ORIGINS, RECEIVED, SessionStats};
pub use task::{Gone, Inbound, SessionTask};

use crate::backend::{Backend, BackendError, BackendEvent};
use crate::model::{Event, GroupNumber, MsgId, Qq, SendTarget, SentMessage};

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
    /// Serialises writers of `contacts` (readers never lock) and holds the
    /// changes made while a re-read is under way. A std mutex: held only to
    /// build and publish a new snapshot, never across `.await`.
    write: Mutex<Writer>,
    outbox: Outbox,
    recent: Mutex<VecDeque<(Qq, Option<GroupNumber>)>>,
    /// Logins, stops and contact changes, for the bots' `on-event`.
    events: tokio::sync::broadcast::Sender<Arc<Event>>,
    /// Own sends and the same events in the order they happened, for v2
    /// reports and `check_event`. Separate from `events`, and only built
    /// when someone listens: a send would otherwise wake a task that has
    /// nothing to do with it (v1 reports no sends).
    reports: tokio::sync::broadcast::Sender<SessionEvent>,
    stats: SessionStats,
}

/// The writers' side of the contacts.
#[derive(Default)]
struct Writer {
    /// While a re-read of all contacts runs: the changes applied since it
    /// began, to be applied again on top of what it reads (it may have
    /// read before them).
    meanwhile: Option<Vec<BackendEvent>>,
    /// The login the re-read began under: a `relogin` meanwhile read
    /// everything afresh, and an older read must not replace it.
    reread_login: u64,
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
    ) -> Result<(SessionHandle, SessionTask), BackendError> {
        let snap = backend.login().await?;
        let contacts = Contacts::from_login(snap, backend.id_scheme(), 1);
        let outbox = Outbox::start(backend.clone(), outbox_config);
        let session = SessionHandle {
            inner: Arc::new(Inner {
                backend,
                contacts: ArcSwap::from_pointee(contacts),
                write: Mutex::new(Writer::default()),
                outbox,
                recent: Mutex::new(VecDeque::new()),
                events: tokio::sync::broadcast::channel(EVENT_BUFFER).0,
                reports: tokio::sync::broadcast::channel(EVENT_BUFFER).0,
                stats: SessionStats::default(),
            }),
        };
        Ok((session.clone(), SessionTask { session, events }))
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

    /// What came in and went out (`/metrics`).
    pub fn stats(&self) -> &SessionStats {
        &self.inner.stats
    }

    /// The outbox's retries and the sends it holds (`/metrics`).
    pub fn outbox_stats(&self) -> &OutboxStats {
        self.inner.outbox.stats()
    }

    /// Where the link to QQ stands (`/metrics`).
    pub fn link(&self) -> crate::backend::LinkStatus {
        self.inner.backend.link()
    }

    /// Reports an event to subscribers (none listening is fine).
    pub fn emit(&self, e: Event) {
        // `/metrics` counts what QQ told: joins, leaves, friends. The
        // gateway's own login, stop and state changes are not received.
        if !matches!(
            e,
            Event::Login { .. } | Event::Stop | Event::StateChange { .. }
        ) {
            self.inner.stats.event();
        }
        let e = Arc::new(e);
        let _ = self.inner.reports.send(SessionEvent::Event(e.clone()));
        let _ = self.inner.events.send(e);
    }

    /// Applies a contact change from the backend (or a kick) and reports
    /// joins and leaves. A change to someone already known is not an event,
    /// and an update does not add someone unknown.
    fn apply_change(&self, change: BackendEvent) {
        let (before, after) = {
            let mut w = self.inner.write.lock().unwrap_or_else(|p| p.into_inner());
            let before = self.inner.contacts.load_full();
            if let Some(next) = changed(&before, &change) {
                self.inner.contacts.store(Arc::new(next));
            }
            if let Some(meanwhile) = &mut w.meanwhile {
                meanwhile.push(change.clone());
            }
            (before, self.inner.contacts.load_full())
        };
        match change {
            BackendEvent::MemberJoined { group, member } => {
                if let Some(g) = after.group(group)
                    && let Some(m) = g.member_by_qq(member.qq)
                {
                    self.emit(Event::NewGroupMember {
                        member: m.clone(),
                        group: g.clone(),
                    });
                }
            }
            BackendEvent::MemberLeft { group, member } => {
                let left = before.group(group).and_then(|g| g.member_by_qq(member));
                if let (Some(member), Some(g)) = (left, after.group(group)) {
                    self.emit(Event::LoseGroupMember {
                        member: member.clone(),
                        group: g.clone(),
                    });
                }
            }
            BackendEvent::FriendAdded(f) => {
                if let Some(f) = after.friend(f.qq) {
                    self.emit(Event::NewFriend(f.clone()));
                }
            }
            BackendEvent::FriendRemoved(qq) => {
                if let Some(f) = before.friend(qq) {
                    self.emit(Event::LoseFriend(f.clone()));
                }
            }
            _ => {}
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

    /// Starts recording contact changes for a re-read that begins now.
    fn reread_begins(&self) {
        let mut w = self.inner.write.lock().unwrap_or_else(|p| p.into_inner());
        w.meanwhile.get_or_insert_with(Vec::new);
        w.reread_login = self.inner.contacts.load().login;
    }

    /// Publishes what a re-read found, with the changes made meanwhile
    /// applied again on top, in order (ids are kept where the backend's
    /// scheme makes them stable). A failed re-read keeps the contacts.
    fn reread_ends(&self, read: Result<crate::backend::LoginSnapshot, BackendError>) {
        let mut w = self.inner.write.lock().unwrap_or_else(|p| p.into_inner());
        let meanwhile = w.meanwhile.take().unwrap_or_default();
        let snap = match read {
            Ok(snap) => snap,
            Err(e) => {
                tracing::warn!(error = %e, "contact re-read failed; the contacts stay as they were");
                return;
            }
        };
        let login = self.inner.contacts.load().login;
        if login != w.reread_login {
            tracing::debug!("a relogin read the contacts since this re-read began; it is dropped");
            return;
        }
        let scheme = self.inner.backend.id_scheme();
        let mut next = Contacts::from_login(snap, scheme, login);
        for change in &meanwhile {
            if let Some(c) = changed(&next, change) {
                next = c;
            }
        }
        self.inner.contacts.store(Arc::new(next));
        tracing::info!(
            backend = self.backend_name(),
            replayed = meanwhile.len(),
            "contacts re-read"
        );
    }
}

/// `c` with one contact change applied; `None` when nothing changes.
fn changed(c: &Contacts, change: &BackendEvent) -> Option<Contacts> {
    match change {
        BackendEvent::MemberJoined { group, member } => c.with_member(*group, member.clone()),
        BackendEvent::MemberUpdated { group, member } => {
            c.with_member_changed(*group, member.clone())
        }
        BackendEvent::MemberLeft { group, member } => c.without_member(*group, *member),
        BackendEvent::FriendAdded(f) => Some(c.with_friend(f.clone())),
        BackendEvent::FriendUpdated(f) => c.with_friend_changed(f.clone()),
        BackendEvent::FriendRemoved(qq) => Some(c.without_friend(*qq)),
        BackendEvent::Message(_) | BackendEvent::Up | BackendEvent::Down | BackendEvent::Resync => {
            None
        }
    }
}
