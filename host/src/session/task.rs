//! The session's task: the backend's events, one at a time, in order.
//!
//! Messages are normalised and handed to the pipeline (back-pressure: the
//! task waits when the pipeline is full, nothing is dropped); contact
//! changes update the snapshot and report joins and leaves.
//!
//! A re-read of all contacts (after a reconnect, or when the backend says
//! they changed) runs beside the task, not in it: on an account in a
//! hundred large groups it is a hundred round trips to QQ, and messages
//! must not wait for it. Meanwhile they are normalised from the previous
//! snapshot, and the joins and leaves that arrive are applied at once and
//! again on top of what the re-read found, in order.

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::backend::{BackendError, BackendEvent, LoginSnapshot};
use crate::model::InboundMessage;

use super::SessionHandle;

/// The session's background work, to be spawned by the caller.
pub struct SessionTask {
    pub(super) session: SessionHandle,
    pub(super) events: mpsc::Receiver<BackendEvent>,
}

/// Where the session hands each received message, in order (the
/// pipeline's lanes: a direct hand-off, no task in between).
pub trait Inbound: Send + 'static {
    /// Waits while the receiver is full (back-pressure: nothing is
    /// dropped); `Err` once it has gone away.
    fn deliver(
        &self,
        msg: InboundMessage,
    ) -> impl std::future::Future<Output = Result<(), Gone>> + Send;
}

/// The receiver of inbound messages has gone away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gone;

/// A plain channel receives messages too (tests, tools).
impl Inbound for mpsc::Sender<InboundMessage> {
    async fn deliver(&self, msg: InboundMessage) -> Result<(), Gone> {
        self.send(msg).await.map_err(|_| Gone)
    }
}

/// The re-read under way, if any, and whether another was asked for since
/// it began (it may have read before the change that asked).
#[derive(Default)]
struct Reread {
    running: Option<JoinHandle<Result<LoginSnapshot, BackendError>>>,
    again: bool,
}

impl Reread {
    /// Resolves when the running re-read ends; never without one.
    async fn finished(&mut self) -> Result<LoginSnapshot, BackendError> {
        match &mut self.running {
            Some(h) => {
                let done = h.await;
                self.running = None;
                done.unwrap_or_else(|e| {
                    Err(BackendError::Protocol(format!(
                        "contact re-read ended: {e}"
                    )))
                })
            }
            None => std::future::pending().await,
        }
    }
}

impl Drop for Reread {
    fn drop(&mut self) {
        if let Some(h) = &self.running {
            h.abort();
        }
    }
}

impl SessionTask {
    /// Turns backend events into session changes and inbound messages until
    /// the backend's channel closes or nobody consumes messages any more.
    ///
    /// When `stop` turns true the backend's channel is closed to new events
    /// and what it already holds is still handled; then the task ends, which
    /// closes the pipeline's inbound queue so the pipeline drains too.
    pub async fn run(mut self, inbound: impl Inbound, mut stop: watch::Receiver<bool>) {
        let mut closing = false;
        let mut reread = Reread::default();
        loop {
            let event = tokio::select! {
                biased;
                _ = stop.wait_for(|s| *s), if !closing => {
                    closing = true;
                    self.events.close();
                    continue;
                }
                read = reread.finished() => {
                    self.session.reread_ends(read);
                    if std::mem::take(&mut reread.again) {
                        self.start_reread(&mut reread);
                    }
                    continue;
                }
                event = self.events.recv() => event,
            };
            let Some(event) = event else { break };
            match event {
                BackendEvent::Message(raw) => {
                    let msg = self.session.normalise(raw);
                    self.session.inner.stats.message(msg.kind);
                    if inbound.deliver(msg).await.is_err() {
                        tracing::error!("the pipeline is gone: no more messages are handled");
                        break;
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
                    if reread.running.is_some() {
                        reread.again = true;
                    } else {
                        self.start_reread(&mut reread);
                    }
                }
                change => self.session.apply_change(change),
            }
        }
    }

    fn start_reread(&self, reread: &mut Reread) {
        self.session.reread_begins();
        let backend = self.session.inner.backend.clone();
        reread.running = Some(tokio::spawn(async move { backend.login().await }));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::backend::sim::{Sim, World};
    use crate::model::{Event, Friend, GroupMember, GroupNumber, Qq};
    use crate::session::{OutboxConfig, Session};

    /// Regression: a change to a known member or friend was reported as a
    /// new one. Only a join or an add of someone absent is an event.
    #[tokio::test]
    async fn updates_change_contacts_silently_and_joins_are_reported() {
        let (tx, rx) = mpsc::channel(16);
        let (in_tx, _in_rx) = mpsc::channel(16);
        let sim = Arc::new(Sim::new(World::default_world(), tx.clone()));
        let (session, task) = Session::start(sim, OutboxConfig::default(), rx)
            .await
            .expect("login");
        let mut events = session.subscribe_events();
        let (_keep_running, stop) = tokio::sync::watch::channel(false);
        let run = tokio::spawn(task.run(in_tx, stop));
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

    /// A re-read that began before a join and a leave ends with both
    /// applied on top of what it read, and reports neither again.
    #[tokio::test]
    async fn changes_during_a_re_read_survive_it() {
        use crate::backend::Backend;

        let (tx, rx) = mpsc::channel(16);
        let sim = Arc::new(Sim::new(World::default_world(), tx));
        let (session, _task) = Session::start(sim.clone(), OutboxConfig::default(), rx)
            .await
            .expect("login");
        let mut events = session.subscribe_events();
        let n = GroupNumber(552603);
        let member = |s: &SessionHandle, qq| {
            s.contacts()
                .group(n)
                .and_then(|g| g.member_by_qq(qq).cloned())
        };
        assert!(member(&session, Qq(888888)).is_some());

        session.reread_begins();
        // What the re-read will find: the world before the changes below.
        let read = sim.login().await;
        session.apply_change(BackendEvent::MemberJoined {
            group: n,
            member: GroupMember {
                qq: Qq(5555),
                ..GroupMember::default()
            },
        });
        session.apply_change(BackendEvent::MemberLeft {
            group: n,
            member: Qq(888888),
        });
        assert!(member(&session, Qq(5555)).is_some(), "applied at once");
        session.reread_ends(read);

        assert!(member(&session, Qq(5555)).is_some(), "the join survives");
        assert!(member(&session, Qq(888888)).is_none(), "the leave survives");
        let names: Vec<&str> = std::iter::from_fn(|| events.try_recv().ok())
            .map(|e| e.name())
            .collect();
        assert_eq!(
            names,
            ["new_group_member", "lose_group_member"],
            "each reported once"
        );
        assert!(
            session
                .inner
                .write
                .lock()
                .expect("lock")
                .meanwhile
                .is_none(),
            "nothing is kept once the re-read ended"
        );
    }
}
