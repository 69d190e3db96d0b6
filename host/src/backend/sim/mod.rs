//! `sim`: an embedded, simulated QQ world, so the gateway runs offline and in
//! tests.
//!
//! It behaves like QQ where it matters to clients: muting and kicking need
//! the account to be an admin or owner of the group, owners and admins cannot
//! be muted or kicked, mutes are at least 60 s, unknown targets fail, and a
//! kicked member leaves the group. It records every action the account took
//! (`/sim/sent`), and can be told to fail the next sends (`/sim/fail`) so the
//! outbox's retry path can be exercised.

mod recorder;
mod world;

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use tokio::sync::mpsc;

pub use recorder::{Action, Record, Recorder};
pub use world::{DEFAULT_WORLD, World};

use super::{Backend, BackendError, BackendEvent, IdScheme, LoginSnapshot, RawChat, RawInbound};
use crate::model::{
    Addressing, GroupNumber, MemberRef, MemberRole, MsgId, Qq, SendTarget, strip_leading_mention,
};

/// The simulated QQ world. Cheap to share behind an `Arc`.
pub struct Sim {
    /// A std mutex: every critical section is short and nothing awaits under it.
    state: Mutex<SimState>,
    events: mpsc::Sender<BackendEvent>,
    /// Held while numbering and queueing an inbound message, so message ids
    /// are in the order the session sees the messages.
    inbound_order: tokio::sync::Mutex<()>,
    next_msg_id: AtomicU64,
    /// How long a send waits for its confirmation (after it is recorded:
    /// QQ has the message at once, the sender learns so later).
    send_latency: std::time::Duration,
}

struct SimState {
    world: World,
    recorder: Recorder,
    /// Sends still to fail, and how (set through `/sim/fail`).
    failures: Option<(u32, FailureKind)>,
    /// The newest messages received (id, sender, text), so a quote of one
    /// names its sender and text as QQ would show them.
    received: std::collections::VecDeque<(String, Qq, String)>,
}

/// How many received messages a quote can name.
const QUOTABLE: usize = 1024;

/// How an injected failure looks to the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The link is down (transient: the outbox retries).
    Down,
    /// QQ refuses (final: no retry).
    Refuse,
}

/// Why a simulated inbound message was not delivered.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum InjectError {
    #[error("sender {0} not found")]
    Sender(u64),
    #[error("group {0} not found")]
    Group(u64),
    #[error("discuss not found")]
    Discuss,
    #[error("the gateway is shutting down")]
    Closed,
}

impl Sim {
    pub fn new(world: World, events: mpsc::Sender<BackendEvent>) -> Sim {
        Sim {
            state: Mutex::new(SimState {
                world,
                recorder: Recorder::default(),
                failures: None,
                received: std::collections::VecDeque::new(),
            }),
            events,
            inbound_order: tokio::sync::Mutex::new(()),
            next_msg_id: AtomicU64::new(10_000),
            send_latency: std::time::Duration::ZERO,
        }
    }

    /// The simulator with every send confirmed only after `latency`.
    pub fn with_send_latency(mut self, latency: std::time::Duration) -> Sim {
        self.send_latency = latency;
        self
    }

    /// A send as QQ sees it: refused, failed as injected, or recorded.
    fn record_send(
        &self,
        msg_id: MsgId,
        to: &SendTarget,
        content: &str,
    ) -> Result<(), BackendError> {
        let mut st = self.state();
        match Self::take_failure(&mut st) {
            Some(FailureKind::Down) => {
                return Err(BackendError::Down("simulated link failure".into()));
            }
            Some(FailureKind::Refuse) => {
                return Err(BackendError::Rejected {
                    retcode: 1,
                    reason: "simulated refusal".into(),
                });
            }
            None => {}
        }
        let w = &st.world;
        let found = match to {
            SendTarget::Friend { qq, .. } => w.friends.contains(*qq),
            SendTarget::Group { gnumber, .. } => w.groups.contains(*gnumber),
            SendTarget::Discuss { key, .. } => w.discusses.contains(*key),
            SendTarget::GroupSess { gnumber, qq, .. } => w
                .groups
                .get(*gnumber)
                .is_some_and(|g| g.members.contains(*qq)),
            SendTarget::DiscussSess { key, qq, .. } => w
                .discusses
                .get(*key)
                .is_some_and(|d| d.members.contains(*qq)),
        };
        if !found {
            return Err(BackendError::NotFound(format!("{to:?}")));
        }
        st.recorder.push(Action::Send {
            target: to.clone(),
            content: content.to_string(),
            msg_id,
        });
        Ok(())
    }

    fn state(&self) -> std::sync::MutexGuard<'_, SimState> {
        // A panic under this lock cannot leave the world half-updated in a
        // way that matters to a simulator; keep serving.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Delivers a message to the account as if QQ had: it flows through the
    /// same event channel a real backend uses. Returns QQ's message id.
    pub async fn receive(
        &self,
        from: RawChat,
        sender: Qq,
        content: String,
    ) -> Result<String, InjectError> {
        self.receive_addressed(from, sender, content, Addressing::default())
            .await
    }

    /// `receive`, with what the message addresses: the role, mentions,
    /// `at_me` and quote as the caller says. A mention of the account sets
    /// `at_me`, and `at_me` adds the account to the mentions; the body is
    /// the content without a leading `@` and the account's card, nick or
    /// number (the simulator's text has no segments to cut at).
    pub async fn receive_addressed(
        &self,
        from: RawChat,
        sender: Qq,
        content: String,
        mut addressing: Addressing,
    ) -> Result<String, InjectError> {
        {
            let st = self.state();
            let w = &st.world;
            let me = w.user.qq;
            let mentioned = std::mem::take(&mut addressing.mentions);
            for qq in mentioned {
                addressing.mention(qq, Some(me));
            }
            if addressing.at_me {
                addressing.mention(me, Some(me));
            }
            let card = match &from {
                RawChat::Group(n) | RawChat::GroupSess(n) => w
                    .groups
                    .get(*n)
                    .and_then(|g| g.members.get(me))
                    .map(|m| m.card.clone()),
                _ => None,
            };
            if let Some(q) = addressing.reply_to.as_mut()
                && let Some((_, by, text)) = st.received.iter().find(|(id, ..)| *id == q.id)
            {
                q.sender.get_or_insert(*by);
                q.text.get_or_insert_with(|| text.clone());
            }
            addressing.body = if addressing.at_me {
                let number = me.to_string();
                let names = [card.as_deref().unwrap_or(""), w.user.nick.as_str(), &number];
                strip_leading_mention(&content, &names)
            } else {
                content.trim_end().to_string()
            };
            match &from {
                RawChat::Friend => {
                    if !w.friends.contains(sender) {
                        return Err(InjectError::Sender(sender.0));
                    }
                }
                RawChat::Group(n) | RawChat::GroupSess(n) => {
                    let g = w.groups.get(*n).ok_or(InjectError::Group(n.0))?;
                    if !g.members.contains(sender) {
                        return Err(InjectError::Sender(sender.0));
                    }
                }
                RawChat::Discuss(k) | RawChat::DiscussSess(k) => {
                    let d = w.discusses.get(*k).ok_or(InjectError::Discuss)?;
                    if !d.members.contains(sender) {
                        return Err(InjectError::Sender(sender.0));
                    }
                }
            }
        }
        let _order = self.inbound_order.lock().await;
        let msg_id = self.next_msg_id.fetch_add(1, Ordering::Relaxed).to_string();
        {
            let mut st = self.state();
            if st.received.len() == QUOTABLE {
                st.received.pop_front();
            }
            st.received
                .push_back((msg_id.clone(), sender, content.clone()));
        }
        let raw = RawInbound {
            msg_id: msg_id.clone(),
            time: crate::clock::unix_now(),
            from,
            sender,
            content,
            addressing,
        };
        self.events
            .send(BackendEvent::Message(raw))
            .await
            .map_err(|_| InjectError::Closed)?;
        Ok(msg_id)
    }

    /// What the account did, oldest first, after sequence number `after`.
    pub fn sent_after(&self, after: u64) -> Vec<Record> {
        self.state().recorder.after(after)
    }

    /// The sequence number of the account's newest action (0 before any):
    /// where a client that wants only what comes next starts paging.
    pub fn last_sent_seq(&self) -> u64 {
        self.state().recorder.last_seq()
    }

    /// Hands `each` what the account did after `after`, oldest first,
    /// without copying it (the simulator is locked meanwhile: keep `each`
    /// short); the count handed over.
    pub fn visit_sent_after(&self, after: u64, mut each: impl FnMut(&Record)) -> usize {
        let st = self.state();
        let mut n = 0;
        for r in st.recorder.since(after) {
            each(r);
            n += 1;
        }
        n
    }

    /// Makes the next `count` sends fail the given way.
    pub fn fail_next(&self, count: u32, kind: FailureKind) {
        self.state().failures = (count > 0).then_some((count, kind));
    }

    /// Adds a member to a group and tells the session (`/sim/join`).
    pub async fn join(
        &self,
        group: GroupNumber,
        member: crate::model::GroupMember,
    ) -> Result<(), InjectError> {
        self.state()
            .world
            .groups
            .update(group, |g| g.members.upsert(member.clone()))
            .ok_or(InjectError::Group(group.0))?;
        self.events
            .send(BackendEvent::MemberJoined { group, member })
            .await
            .map_err(|_| InjectError::Closed)
    }

    /// Removes a member from a group and tells the session (`/sim/leave`).
    pub async fn leave(&self, group: GroupNumber, member: Qq) -> Result<(), InjectError> {
        self.state()
            .world
            .groups
            .update(group, |g| g.members.remove(member))
            .ok_or(InjectError::Group(group.0))?
            .ok_or(InjectError::Sender(member.0))?;
        self.events
            .send(BackendEvent::MemberLeft { group, member })
            .await
            .map_err(|_| InjectError::Closed)
    }

    /// Adds (or replaces) a friend and tells the session (`/sim/friend`).
    pub async fn add_friend(&self, friend: crate::model::Friend) -> Result<(), InjectError> {
        self.state().world.friends.upsert(friend.clone());
        self.events
            .send(BackendEvent::FriendAdded(friend))
            .await
            .map_err(|_| InjectError::Closed)
    }

    /// Removes a friend and tells the session (`/sim/friend`).
    pub async fn remove_friend(&self, qq: Qq) -> Result<(), InjectError> {
        self.state()
            .world
            .friends
            .remove(qq)
            .ok_or(InjectError::Sender(qq.0))?;
        self.events
            .send(BackendEvent::FriendRemoved(qq))
            .await
            .map_err(|_| InjectError::Closed)
    }

    fn take_failure(st: &mut SimState) -> Option<FailureKind> {
        let (left, kind) = st.failures?;
        st.failures = (left > 1).then_some((left - 1, kind));
        Some(kind)
    }
}

#[async_trait]
impl Backend for Sim {
    fn name(&self) -> &'static str {
        "sim"
    }

    fn id_scheme(&self) -> IdScheme {
        IdScheme::PerLogin
    }

    async fn login(&self) -> Result<LoginSnapshot, BackendError> {
        let st = self.state();
        let w = &st.world;
        Ok(LoginSnapshot {
            user: w.user.clone(),
            friends: w.friends.clone(),
            groups: w.groups.clone(),
            discusses: w.discusses.clone(),
        })
    }

    async fn send(
        &self,
        msg_id: MsgId,
        to: &SendTarget,
        content: &str,
    ) -> Result<(), BackendError> {
        self.record_send(msg_id, to, content)?;
        if !self.send_latency.is_zero() {
            tokio::time::sleep(self.send_latency).await;
        }
        Ok(())
    }

    async fn shutup(&self, target: &MemberRef, seconds: u32) -> Result<(), BackendError> {
        let mut st = self.state();
        check_moderation(&st.world, target)?;
        // 0 lifts a mute (OneBot's `set_group_ban` with duration 0).
        if seconds != 0 && seconds < 60 {
            return Err(BackendError::Rejected {
                retcode: 2,
                reason: "mute time under 60 s".into(),
            });
        }
        st.recorder.push(Action::Shutup {
            target: target.clone(),
            seconds,
        });
        Ok(())
    }

    async fn kick(&self, target: &MemberRef) -> Result<(), BackendError> {
        let mut st = self.state();
        check_moderation(&st.world, target)?;
        st.world.groups.update(target.gnumber, |g| {
            g.members.remove(target.qq);
        });
        st.recorder.push(Action::Kick {
            target: target.clone(),
        });
        Ok(())
    }
}

/// QQ's rules for mute and kick: the account must manage the group, and the
/// target must be an ordinary member.
fn check_moderation(w: &World, target: &MemberRef) -> Result<(), BackendError> {
    let g = w
        .groups
        .get(target.gnumber)
        .ok_or_else(|| BackendError::NotFound(format!("group {}", target.gnumber)))?;
    if !g.gtype.can_manage() {
        return Err(BackendError::Rejected {
            retcode: 3,
            reason: "not an admin of this group".into(),
        });
    }
    let m = g
        .member_by_qq(target.qq)
        .ok_or_else(|| BackendError::NotFound(format!("member {}", target.qq)))?;
    if m.role != MemberRole::Member {
        return Err(BackendError::Rejected {
            retcode: 4,
            reason: format!("cannot act on the group's {}", m.role.as_str()),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sim() -> (Sim, mpsc::Receiver<BackendEvent>) {
        let (tx, rx) = mpsc::channel(8);
        (Sim::new(World::default_world(), tx), rx)
    }

    fn member(gnumber: u64, qq: u64) -> MemberRef {
        MemberRef {
            gid: "g".into(),
            gnumber: GroupNumber(gnumber),
            id: "m".into(),
            qq: Qq(qq),
        }
    }

    #[tokio::test]
    async fn moderation_follows_qq_rules() {
        let (s, _rx) = sim();
        assert!(s.shutup(&member(552603, 888888), 60).await.is_ok());
        assert!(matches!(
            s.shutup(&member(552603, 888888), 59).await,
            Err(BackendError::Rejected { .. })
        ));
        assert!(matches!(
            s.shutup(&member(552603, 123455), 60).await,
            Err(BackendError::Rejected { .. })
        ));
        assert!(matches!(
            s.kick(&member(552603, 45678)).await,
            Err(BackendError::Rejected { .. })
        ));
        assert!(matches!(
            s.kick(&member(661234, 888888)).await,
            Err(BackendError::Rejected { .. })
        ));
        assert!(s.kick(&member(552603, 888888)).await.is_ok());
        // A kicked member is gone.
        assert!(matches!(
            s.kick(&member(552603, 888888)).await,
            Err(BackendError::NotFound(_))
        ));
        assert_eq!(s.sent_after(0).len(), 2);
    }

    #[tokio::test]
    async fn receive_checks_membership_and_emits_an_event() {
        let (s, mut rx) = sim();
        assert_eq!(
            s.receive(RawChat::Friend, Qq(1), "x".into()).await,
            Err(InjectError::Sender(1))
        );
        assert_eq!(
            s.receive(RawChat::Group(GroupNumber(5)), Qq(1), "x".into())
                .await,
            Err(InjectError::Group(5))
        );
        let id = s
            .receive(RawChat::Friend, Qq(123456), "hi".into())
            .await
            .unwrap();
        match rx.recv().await {
            Some(BackendEvent::Message(m)) => {
                assert_eq!(m.msg_id, id);
                assert_eq!(m.content, "hi");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn the_world_index_follows_leave_join_kick_and_friends() {
        let (tx, _rx) = mpsc::channel(64);
        let s = Sim::new(World::default_world(), tx);
        let n = GroupNumber(552603);
        let says = |qq: u64| s.receive(RawChat::Group(n), Qq(qq), "x".into());
        let friend_says = |qq: u64| s.receive(RawChat::Friend, Qq(qq), "x".into());
        let sess = |qq: u64| SendTarget::GroupSess {
            gid: "g".into(),
            gnumber: n,
            id: "m".into(),
            qq: Qq(qq),
        };
        // 45678 is second of six: those after it move up when it leaves.
        s.leave(n, Qq(45678)).await.unwrap();
        assert_eq!(says(45678).await, Err(InjectError::Sender(45678)));
        assert_eq!(s.leave(n, Qq(45678)).await, Err(InjectError::Sender(45678)));
        for qq in [123455, 123456, 888888, 999999] {
            assert!(says(qq).await.is_ok(), "{qq}");
        }
        s.join(
            n,
            crate::model::GroupMember {
                qq: Qq(45678),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert!(says(45678).await.is_ok());
        assert!(s.send(MsgId(1), &sess(45678), "a").await.is_ok());
        // A kick removes the member from the world.
        s.kick(&member(552603, 888888)).await.unwrap();
        assert_eq!(says(888888).await, Err(InjectError::Sender(888888)));
        assert!(s.send(MsgId(2), &sess(888888), "a").await.is_err());
        for qq in [999999, 1234567, 45678] {
            assert!(says(qq).await.is_ok(), "{qq}");
            assert!(s.send(MsgId(3), &sess(qq), "a").await.is_ok(), "{qq}");
        }
        // Friends: the first removed, the second still found; back again.
        s.remove_friend(Qq(123456)).await.unwrap();
        assert_eq!(friend_says(123456).await, Err(InjectError::Sender(123456)));
        assert!(friend_says(7891234).await.is_ok());
        s.add_friend(crate::model::Friend {
            qq: Qq(123456),
            ..Default::default()
        })
        .await
        .unwrap();
        assert!(friend_says(123456).await.is_ok());
        let snap = s.login().await.unwrap();
        let qqs: Vec<u64> = snap.friends.iter().map(|f| f.qq.0).collect();
        assert_eq!(qqs, [7891234, 123456]);
    }

    #[tokio::test]
    async fn injected_failures_are_counted_down() {
        let (s, _rx) = sim();
        s.fail_next(2, FailureKind::Down);
        let to = SendTarget::Friend {
            id: "1".into(),
            qq: Qq(123456),
        };
        assert!(s.send(MsgId(1), &to, "a").await.is_err());
        assert!(s.send(MsgId(1), &to, "a").await.is_err());
        assert!(s.send(MsgId(1), &to, "a").await.is_ok());
    }
}
