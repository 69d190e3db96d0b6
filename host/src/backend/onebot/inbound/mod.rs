//! The converter: link events in, session events out, in order.
//!
//! One task (`Inbound::run`) reads the link's event queue directly and
//! sends `BackendEvent`s to the session: `Up`/`Down` as they are, messages
//! as `RawInbound` (`message.rs`), notices as contact events. On the way it
//! drops events delivered twice (`Dedup`), and mirrors each contact event in
//! the backend's copy of the contacts (`Cache::apply`) before the session
//! hears of it, so the next notice is judged against what the session will
//! know (a second join notice is no second join) and the next refresh diffs
//! against it.
//!
//! A member who joins is looked up before the join is reported (for at
//! most `JOIN_WAIT` from the notice), so the first `new_group_member`
//! carries their name (`joins.rs`). Meanwhile the group's later events wait
//! behind the join, every other chat's go on, and so do further joins'
//! look-ups, at once: a burst of joins in one group holds it for about one
//! look-up, not one per join. Nothing here waits on a look-up itself: the
//! loop keeps taking link events while they run.

mod joins;
mod message;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesUnordered, StreamExt};
use serde_json::json;
use tokio::sync::{Notify, Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio::time::Instant;

use self::joins::{Held, JOIN_WAIT, LOOKUPS_AT_ONCE, Looked, group_of};
use super::codec::{self, Event, Notice};
use super::contacts::Cache;
use super::dedup::Dedup;
use super::link::{Link, LinkEvent};
use crate::backend::BackendEvent;
use crate::model::{Friend, GroupMember, GroupNumber, MemberRole, Qq};

/// Turns link events into session events, in order.
pub struct Inbound {
    link: Link,
    cache: Arc<Cache>,
    events: mpsc::Sender<BackendEvent>,
    /// Asks the refresh task to re-read contacts (the account joined or
    /// left a group).
    refresh: Arc<Notify>,
    timeout: Duration,
    /// How long a join waits for its member's look-up.
    join_wait: Duration,
    /// Member look-ups running at once; more wait for a place (within their
    /// join's wait).
    lookups: Arc<Semaphore>,
    dedup: Dedup,
    /// Look-ups (members who join, friends just added, and a member's
    /// look-up that outlived `join_wait`); each ends by its own timeout, and
    /// all end with this task.
    enrich: JoinSet<()>,
    /// Joins waiting for their member's look-up, each for `join_wait` at most.
    joins: FuturesUnordered<BoxFuture<'static, (GroupNumber, u64, Looked)>>,
    next_join: u64,
    /// For each group with a join being looked up, its joins and its other
    /// events in arrival order, reported in that order as the joins are
    /// settled.
    held: HashMap<GroupNumber, VecDeque<Held>>,
    /// Friend look-ups the last converted event asks for, started once its
    /// events were sent: the update a look-up sends then always follows the
    /// add it completes.
    pending: Vec<Qq>,
}

impl Inbound {
    pub fn new(
        link: Link,
        cache: Arc<Cache>,
        events: mpsc::Sender<BackendEvent>,
        refresh: Arc<Notify>,
        timeout: Duration,
        dedup: Dedup,
    ) -> Inbound {
        Inbound {
            link,
            cache,
            events,
            refresh,
            timeout,
            join_wait: JOIN_WAIT.min(timeout),
            lookups: Arc::new(Semaphore::new(LOOKUPS_AT_ONCE)),
            dedup,
            enrich: JoinSet::new(),
            joins: FuturesUnordered::new(),
            next_join: 0,
            held: HashMap::new(),
            pending: Vec::new(),
        }
    }

    /// Converts until the link's queue closes or the session is gone.
    pub async fn run(mut self, mut link_events: mpsc::Receiver<LinkEvent>) {
        loop {
            let sent = tokio::select! {
                ev = link_events.recv() => match ev {
                    Some(ev) => self.on_link(ev).await,
                    None => return,
                },
                Some((group, id, looked)) = self.joins.next(), if !self.joins.is_empty() => {
                    self.settled(group, id, looked).await
                }
                Some(_) = self.enrich.join_next() => true,
            };
            if !sent {
                return;
            }
        }
    }

    /// Handles one link event; `false` once the session is gone.
    async fn on_link(&mut self, ev: LinkEvent) -> bool {
        match ev {
            LinkEvent::Up { generation } => {
                tracing::debug!(
                    backend = "onebot",
                    generation,
                    "link up; the session re-reads contacts"
                );
                self.send(vec![BackendEvent::Up]).await
            }
            LinkEvent::Down => self.send(vec![BackendEvent::Down]).await,
            LinkEvent::Event(inc) => {
                if let Some(key) = &inc.dedup_key
                    && !self.dedup.first_time(key, Instant::now())
                {
                    tracing::debug!(backend = "onebot", key, "dropped a duplicate event");
                    return true;
                }
                // Behind a join: wait. A join itself is converted at once
                // (its look-up starts now, and it takes its place in line).
                let is_join = matches!(inc.event, Event::Notice(Notice::GroupIncrease { .. }));
                if !is_join
                    && let Some(queue) = group_of(&inc.event).and_then(|g| self.held.get_mut(&g))
                {
                    queue.push_back(Held::Event(Box::new(inc.event)));
                    return true;
                }
                let out = self.convert(inc.event);
                self.send(out).await
            }
        }
    }

    /// Sends converted events to the session (mirroring them in the cache),
    /// then starts the friend look-ups they asked for.
    async fn send(&mut self, out: Vec<BackendEvent>) -> bool {
        for e in out {
            self.cache.apply(&e);
            if self.events.send(e).await.is_err() {
                return false;
            }
        }
        for qq in std::mem::take(&mut self.pending) {
            self.enrich_friend(qq);
        }
        true
    }

    fn convert(&mut self, event: Event) -> Vec<BackendEvent> {
        match event {
            Event::Message(m) => message::convert(&self.cache, m)
                .map(BackendEvent::Message)
                .into_iter()
                .collect(),
            Event::Notice(n) => self.notice(n),
            Event::Meta(_) => Vec::new(),
            // A lost message is worth seeing by default: the implementation
            // sent something we cannot read (a field of an unexpected type).
            Event::Undecodable {
                post_type,
                reason,
                excerpt,
            } => {
                tracing::warn!(
                    backend = "onebot",
                    post_type,
                    %reason,
                    frame = %excerpt,
                    "dropped an event whose fields could not be read"
                );
                Vec::new()
            }
            Event::Other { post_type, .. } => {
                // `message_sent` (our own sends) and requests have no Openqq
                // counterpart.
                tracing::debug!(backend = "onebot", post_type, "ignored an event");
                Vec::new()
            }
        }
    }

    fn notice(&mut self, n: Notice) -> Vec<BackendEvent> {
        let me = self.cache.me();
        match n {
            Notice::GroupIncrease {
                group_id,
                user_id,
                time,
            } => {
                let (Some(group), Some(qq)) = (group_id.group(), user_id.qq()) else {
                    return Vec::new();
                };
                if Some(qq) == me {
                    tracing::info!(backend = "onebot", %group, "the account joined a group; re-reading contacts");
                    self.refresh.notify_one();
                    return Vec::new();
                }
                // Already a member: a second notice for the same join (NapCat
                // #574 sends invites twice, with different bodies), or a
                // re-read saw them first and already reported the join.
                if self.will_be_member(group, qq) {
                    tracing::debug!(backend = "onebot", %group, %qq, "a join notice for a known member; not a new join");
                    return Vec::new();
                }
                // The join waits for the member's look-up (bounded by
                // `join_wait`), so it is reported with their name; what is
                // known now (a nick from the friend list or another group,
                // else the number; the notice's time) stands in when the
                // look-up fails or is slow.
                let join_time = u64::try_from(time.0)
                    .ok()
                    .filter(|&t| t > 0)
                    .unwrap_or_else(crate::clock::unix_now);
                let known = GroupMember {
                    qq,
                    nick: self.cache.nick_of(qq).unwrap_or_else(|| qq.0.to_string()),
                    role: MemberRole::Member,
                    join_time: join_time.to_string(),
                    ..GroupMember::default()
                };
                self.begin_join(group, known);
                Vec::new()
            }
            Notice::GroupDecrease {
                group_id,
                user_id,
                sub_type,
            } => {
                let (Some(group), Some(qq)) = (group_id.group(), user_id.qq()) else {
                    return Vec::new();
                };
                if Some(qq) == me || sub_type == "kick_me" || sub_type == "disband" {
                    tracing::info!(backend = "onebot", %group, sub_type, "the account left a group; re-reading contacts");
                    self.refresh.notify_one();
                    return Vec::new();
                }
                vec![BackendEvent::MemberLeft { group, member: qq }]
            }
            Notice::FriendAdd { user_id } => {
                let Some(qq) = user_id.qq() else {
                    return Vec::new();
                };
                // NapCat-Docker#78: the same friend-add pushed several times.
                if self.cache.has_friend(qq) {
                    tracing::debug!(backend = "onebot", %qq, "a friend-add notice for a known friend; not a new friend");
                    return Vec::new();
                }
                self.pending.push(qq);
                vec![BackendEvent::FriendAdded(Friend {
                    qq,
                    nick: self.cache.nick_of(qq).unwrap_or_default(),
                    ..Friend::default()
                })]
            }
            Notice::BotOffline { .. } | Notice::Other { .. } => Vec::new(),
        }
    }

    /// Fills in a friend who was just added: their nick, as an update (the
    /// add was reported already, with what was known).
    fn enrich_friend(&mut self, qq: Qq) {
        let (link, cache, events, timeout) = (
            self.link.clone(),
            self.cache.clone(),
            self.events.clone(),
            self.timeout,
        );
        self.enrich.spawn(async move {
            let params = json!({"user_id": qq.0, "no_cache": false});
            let Ok(data) = link.call("get_stranger_info", params, timeout).await else {
                return;
            };
            let Ok(info) = codec::object::<codec::StrangerInfo>(data) else {
                return;
            };
            // The nick only: a remark a re-read brought meanwhile is kept.
            let Some(known) = cache.friend(qq) else {
                return;
            };
            if info.nickname.0.is_empty() || info.nickname.0 == known.nick {
                return;
            }
            let e = BackendEvent::FriendUpdated(Friend {
                nick: info.nickname.0,
                ..known
            });
            cache.apply(&e);
            let _ = events.send(e).await;
        });
    }
}
