//! Joins that wait for their member's look-up, and the group's line behind
//! them.
//!
//! A `group_increase` names only a number. So that the first
//! `new_group_member` carries a name, the member is looked up first
//! (`look_up_member`: as the implementation has them, then from QQ's
//! servers), for at most `join_wait`. Until then the join holds its place
//! in its group's line (`Inbound::held`), and the group's later events wait
//! behind it, in order; other groups are not held. Further joins are looked
//! up at once (`LOOKUPS_AT_ONCE` at a time) and take their place in line,
//! so a burst holds a group about one look-up long. A look-up slower than
//! the wait reports the join with what is known, and its answer follows as
//! an update (`enrich_late_member`).

use futures_util::future::FutureExt;
use serde_json::json;
use tokio::sync::oneshot;

use super::Inbound;
use crate::backend::onebot::codec::{self, Event, Id, Notice};
use crate::backend::onebot::contacts;
use crate::backend::onebot::link::Link;
use crate::backend::{BackendError, BackendEvent};
use crate::model::{GroupMember, GroupNumber, Qq};
use crate::throttle::Throttle;
use std::time::Duration;

/// How long a join waits for the member's look-up before it is reported
/// with what is known (at most `[backend] timeout_secs`): NapCat takes 2–6 s
/// to ask QQ's servers (`spec/onebot.md` §5). The group's later events wait
/// as long.
pub(super) const JOIN_WAIT: Duration = Duration::from_secs(5);

/// Member look-ups at once (a burst of joins, or NapCat#87's flood of
/// notices right after login, must not flood the implementation).
pub(super) const LOOKUPS_AT_ONCE: usize = 8;

/// A join reported with the fallback name (the look-up failed or was slow).
static JOIN_FALLBACK: Throttle = Throttle::new(Duration::from_secs(60));

/// Something waiting behind a join in its group.
/// Both boxed: a queue of them costs a pointer per event.
pub(super) enum Held {
    Event(Box<Event>),
    Join(Box<Join>),
}

/// A member's join, waiting for their look-up.
pub(super) struct Join {
    id: u64,
    /// What was known without the look-up (the fallback name, the notice's
    /// time).
    known: GroupMember,
    /// `None` while the look-up runs (and `join_wait` has not passed).
    outcome: Option<Looked>,
}

/// How a join's look-up ended.
pub(super) struct Looked {
    /// The member, when the look-up answered within `join_wait`.
    found: Option<GroupMember>,
    /// A look-up still running after `join_wait`: its answer becomes an
    /// update.
    late: Option<oneshot::Receiver<Option<GroupMember>>>,
}

impl Inbound {
    /// Starts looking up a member who joined `group`; the join waits in the
    /// group's line, and holds what comes after it, until the look-up ends
    /// or `join_wait` passes (`settled`).
    pub(super) fn begin_join(&mut self, group: GroupNumber, known: GroupMember) {
        let (link, timeout, lookups) = (self.link.clone(), self.timeout, self.lookups.clone());
        let qq = known.qq;
        let (tx, mut rx) = oneshot::channel();
        self.enrich.spawn(async move {
            // The semaphore is never closed; a look-up without a place is
            // no look-up.
            let Ok(_place) = lookups.acquire_owned().await else {
                return;
            };
            let _ = tx.send(look_up_member(&link, group, qq, timeout).await);
        });
        let (wait, id) = (self.join_wait, self.next_join);
        self.next_join += 1;
        self.joins.push(
            async move {
                let looked = match tokio::time::timeout(wait, &mut rx).await {
                    Ok(found) => Looked {
                        found: found.ok().flatten(),
                        late: None,
                    },
                    Err(_) => Looked {
                        found: None,
                        late: Some(rx),
                    },
                };
                (group, id, looked)
            }
            .boxed(),
        );
        self.cache.begin_join(group, qq);
        self.held
            .entry(group)
            .or_default()
            .push_back(Held::Join(Box::new(Join {
                id,
                known,
                outcome: None,
            })));
    }

    /// A join's look-up ended (or `join_wait` passed): reports what its
    /// group holds, in order, up to the next join still being looked up.
    pub(super) async fn settled(&mut self, group: GroupNumber, id: u64, looked: Looked) -> bool {
        let Some(queue) = self.held.get_mut(&group) else {
            return true;
        };
        if let Some(join) = queue.iter_mut().find_map(|h| match h {
            Held::Join(j) if j.id == id => Some(j),
            _ => None,
        }) {
            join.outcome = Some(looked);
        }
        loop {
            let Some(queue) = self.held.get_mut(&group) else {
                return true;
            };
            let ready = match queue.front() {
                None => {
                    self.held.remove(&group);
                    return true;
                }
                Some(Held::Join(j)) => j.outcome.is_some(),
                Some(Held::Event(_)) => true,
            };
            if !ready {
                return true;
            }
            let out = match queue.pop_front() {
                Some(Held::Event(e)) => self.convert(*e),
                Some(Held::Join(j)) => self.report_join(group, *j),
                None => Vec::new(),
            };
            if !self.send(out).await {
                return false;
            }
        }
    }

    /// The join of a member whose look-up ended: with the look-up's member,
    /// or with what was known (and the look-up, if still running, to fill
    /// in the rest later).
    fn report_join(&mut self, group: GroupNumber, join: Join) -> Vec<BackendEvent> {
        let Join { known, outcome, .. } = join;
        let qq = known.qq;
        self.cache.end_join(group, qq);
        let (found, late) = outcome.map_or((None, None), |o| (o.found, o.late));
        let member = match found {
            Some(found) => completed(found, &known),
            None => {
                if let Some(held_back) = JOIN_FALLBACK.allow() {
                    tracing::warn!(
                        backend = "onebot",
                        %group,
                        %qq,
                        name = %known.nick,
                        held_back,
                        "a member who joined could not be looked up in time; reported with the name known so far"
                    );
                }
                if let Some(late) = late {
                    self.enrich_late_member(group, known.clone(), late);
                }
                known
            }
        };
        vec![BackendEvent::MemberJoined { group, member }]
    }

    /// Whether `qq` is a member of `group` once what the group holds is
    /// reported: a join notice for them is then no new join (NapCat#574
    /// sends some twice).
    pub(super) fn will_be_member(&self, group: GroupNumber, qq: Qq) -> bool {
        let mut member = self.cache.has_member(group, qq);
        for h in self.held.get(&group).into_iter().flatten() {
            match h {
                Held::Join(j) if j.known.qq == qq => member = true,
                Held::Event(e) => {
                    if let Event::Notice(Notice::GroupDecrease { user_id, .. }) = e.as_ref()
                        && user_id.qq() == Some(qq)
                    {
                        member = false;
                    }
                }
                Held::Join(_) => {}
            }
        }
        member
    }

    /// Fills in a member whose join was reported with the fallback name,
    /// once the look-up that was too slow answers: an update, never a
    /// second join.
    fn enrich_late_member(
        &mut self,
        group: GroupNumber,
        known: GroupMember,
        late: oneshot::Receiver<Option<GroupMember>>,
    ) {
        let (cache, events) = (self.cache.clone(), self.events.clone());
        self.enrich.spawn(async move {
            let Ok(Some(found)) = late.await else {
                return;
            };
            let member = completed(found, &known);
            // Only if they are still there (a leave may have come meanwhile)
            // and only if it says something new.
            if cache.member(group, member.qq).is_some_and(|m| m != member) {
                let e = BackendEvent::MemberUpdated { group, member };
                cache.apply(&e);
                let _ = events.send(e).await;
            }
        });
    }
}

/// Looks up a member who just joined: first as the implementation has them
/// at hand (`no_cache: false`: go-cqhttp adds a joining member to its cache
/// before it reports the join, and NapCat answers at once or fails within
/// ~250 ms), then from QQ's servers (`no_cache: true`: NapCat waits up to
/// 5 s for it). `None` when neither gives a member with a nick.
async fn look_up_member(
    link: &Link,
    group: GroupNumber,
    qq: Qq,
    timeout: Duration,
) -> Option<GroupMember> {
    for no_cache in [false, true] {
        let params = json!({"group_id": group.0, "user_id": qq.0, "no_cache": no_cache});
        match link.call("get_group_member_info", params, timeout).await {
            Ok(data) => {
                let member = codec::object(data)
                    .ok()
                    .as_ref()
                    .and_then(contacts::member)
                    .filter(|m| m.qq == qq && !m.nick.is_empty());
                if member.is_some() {
                    return member;
                }
            }
            // Not connected: asking again cannot help.
            Err(BackendError::Down(_)) => return None,
            Err(e) => {
                tracing::debug!(backend = "onebot", %group, %qq, no_cache, error = %e, "member look-up failed");
            }
        }
    }
    None
}

/// A looked-up member, with the notice's join time when the look-up has
/// none.
fn completed(mut found: GroupMember, known: &GroupMember) -> GroupMember {
    if found.join_time.is_empty() || found.join_time == "0" {
        found.join_time.clone_from(&known.join_time);
    }
    found
}

/// The group an event belongs to — a group message, a temporary message
/// via a group, a member's join or leave — and so the line it waits in.
pub(super) fn group_of(event: &Event) -> Option<GroupNumber> {
    match event {
        Event::Message(m) => match m.message_type.0.as_str() {
            "group" => m.group_id.and_then(Id::group),
            "private" if m.sub_type.0 == "group" => m.temp_group(),
            _ => None,
        },
        Event::Notice(
            Notice::GroupIncrease { group_id, .. } | Notice::GroupDecrease { group_id, .. },
        ) => group_id.group(),
        _ => None,
    }
}
