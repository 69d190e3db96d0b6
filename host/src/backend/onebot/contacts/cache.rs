//! The backend's copy of the contacts, and what a new read changed.
//!
//! The copy answers `login` while the link is down, renders `@name`s in
//! inbound messages, tells a repeated join or friend-add notice from a new
//! one, and is the base a background refresh diffs against. The converter
//! mirrors each contact event in it before the session hears of it
//! (`apply`), so it always knows what the session will know.

use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use crate::backend::{BackendEvent, LoginSnapshot};
use crate::model::{Friend, Group, GroupMember, GroupNumber, Qq};

/// How long a fetched snapshot answers `login` without asking again on the
/// same connection (the session re-syncs right after the first login, and
/// after a refresh that asked it to).
const FRESH_FOR: Duration = Duration::from_secs(30);

/// The backend's copy of the contacts.
#[derive(Default)]
pub struct Cache {
    /// A std mutex: short sections, nothing awaits under it.
    inner: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    snap: LoginSnapshot,
    /// The connection it was read on, and when; `None` before the first read.
    read: Option<(u64, Instant)>,
    /// Members whose join is being looked up: that join will be reported, so
    /// a re-read that sees them first must not report it too.
    joining: HashSet<(GroupNumber, Qq)>,
}

/// What a new snapshot changed, as the session's events, or a full re-sync
/// when the change is one the events cannot describe (the account itself,
/// a group joined or left, a group renamed or the account's role in it).
#[derive(Debug, Default, PartialEq)]
pub struct Changes {
    pub events: Vec<BackendEvent>,
    pub resync: bool,
}

impl Cache {
    fn state(&self) -> MutexGuard<'_, CacheState> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A copy of the contacts.
    pub fn snapshot(&self) -> LoginSnapshot {
        self.state().snap.clone()
    }

    /// Whether contacts were ever read.
    pub fn is_filled(&self) -> bool {
        self.state().read.is_some()
    }

    /// The snapshot, if it was read on connection `generation` recently.
    pub fn fresh(&self, generation: u64) -> Option<LoginSnapshot> {
        let st = self.state();
        match st.read {
            Some((g, at)) if g == generation && at.elapsed() < FRESH_FOR => Some(st.snap.clone()),
            _ => None,
        }
    }

    /// Stores a newly read snapshot and says what changed.
    pub fn store(&self, snap: LoginSnapshot, generation: u64) -> Changes {
        let mut st = self.state();
        let mut changes = diff(&st.snap, &snap);
        changes.events.retain(|e| match e {
            BackendEvent::MemberJoined { group, member } => {
                !st.joining.contains(&(*group, member.qq))
            }
            _ => true,
        });
        st.snap = snap;
        st.read = Some((generation, Instant::now()));
        changes
    }

    /// The account's QQ number, once known.
    pub fn me(&self) -> Option<Qq> {
        let q = self.state().snap.user.qq;
        (q.0 != 0).then_some(q)
    }

    /// How `qq` is shown in `group` (card, else nick), or as a friend.
    pub fn name_of(&self, group: Option<GroupNumber>, qq: Qq) -> Option<String> {
        let st = self.state();
        let in_group = group
            .and_then(|n| st.snap.groups.get(n))
            .and_then(|g| g.member_by_qq(qq))
            .map(|m| m.display_name().to_string());
        in_group
            .or_else(|| {
                st.snap
                    .friends
                    .get(qq)
                    .map(|f| f.display_name().to_string())
            })
            .filter(|n| !n.is_empty())
    }

    /// The nickname `qq` is known by: as a friend, else as a member of any
    /// group. What a join or a new friend can say about them before a
    /// look-up answers.
    pub fn nick_of(&self, qq: Qq) -> Option<String> {
        let st = self.state();
        let as_friend = st.snap.friends.get(qq).map(|f| f.nick.as_str());
        let as_member = st
            .snap
            .groups
            .iter()
            .filter_map(|g| g.member_by_qq(qq).map(|m| m.nick.as_str()));
        as_friend
            .into_iter()
            .chain(as_member)
            .find(|n| !n.is_empty())
            .map(str::to_string)
    }

    /// The member `qq` of `group` as the copy has it.
    pub fn member(&self, group: GroupNumber, qq: Qq) -> Option<GroupMember> {
        let st = self.state();
        st.snap.groups.get(group)?.member_by_qq(qq).cloned()
    }

    /// The friend `qq` as the copy has it.
    pub fn friend(&self, qq: Qq) -> Option<Friend> {
        self.state().snap.friends.get(qq).cloned()
    }

    /// Whether `qq` is (still) a member of `group`.
    pub fn has_member(&self, group: GroupNumber, qq: Qq) -> bool {
        let st = self.state();
        st.snap
            .groups
            .get(group)
            .is_some_and(|g| g.members.contains(qq))
    }

    /// Notes that the join of `qq` to `group` is being looked up, and will
    /// be reported (`end_join`) whatever a re-read sees meanwhile.
    pub fn begin_join(&self, group: GroupNumber, qq: Qq) {
        self.state().joining.insert((group, qq));
    }

    pub fn end_join(&self, group: GroupNumber, qq: Qq) {
        self.state().joining.remove(&(group, qq));
    }

    /// Whether `qq` is (still) a friend.
    pub fn has_friend(&self, qq: Qq) -> bool {
        self.state().snap.friends.contains(qq)
    }

    /// Mirrors a change the backend told the session about, so the copy and
    /// the session agree until the next read.
    pub fn apply(&self, event: &BackendEvent) {
        let mut st = self.state();
        let snap = &mut st.snap;
        match event {
            BackendEvent::MemberJoined { group, member } => {
                snap.groups
                    .update(*group, |g| g.members.upsert(member.clone()));
            }
            BackendEvent::MemberLeft { group, member } => {
                snap.groups.update(*group, |g| g.members.remove(*member));
            }
            // In place, and only for someone known, as the session does.
            BackendEvent::MemberUpdated { group, member } => {
                snap.groups.update(*group, |g| {
                    g.members.update(member.qq, |m| *m = member.clone())
                });
            }
            BackendEvent::FriendAdded(f) => snap.friends.upsert(f.clone()),
            BackendEvent::FriendUpdated(f) => {
                snap.friends.update(f.qq, |old| *old = f.clone());
            }
            BackendEvent::FriendRemoved(qq) => {
                snap.friends.remove(*qq);
            }
            BackendEvent::Message(_)
            | BackendEvent::Down
            | BackendEvent::Up
            | BackendEvent::Resync => {}
        }
    }
}

/// What changed from `old` to `new`.
pub fn diff(old: &LoginSnapshot, new: &LoginSnapshot) -> Changes {
    let mut c = Changes::default();
    let same_group = |a: &Group, b: &Group| {
        a.gname == b.gname
            && a.gmarkname == b.gmarkname
            && a.gtype == b.gtype
            && a.gowner == b.gowner
    };
    if old.user != new.user
        || old.groups.len() != new.groups.len()
        || new
            .groups
            .iter()
            .any(|g| old.groups.get(g.gnumber).is_none_or(|o| !same_group(o, g)))
    {
        c.resync = true;
        return c;
    }
    // Only someone absent before is new; a known friend or member whose
    // record differs (a remark, a card, the last-speak time that moves
    // whenever they talk) is an update, which the session applies silently.
    for f in &new.friends {
        match old.friends.get(f.qq) {
            None => c.events.push(BackendEvent::FriendAdded(f.clone())),
            Some(o) if o != f => c.events.push(BackendEvent::FriendUpdated(f.clone())),
            Some(_) => {}
        }
    }
    for f in &old.friends {
        if !new.friends.contains(f.qq) {
            c.events.push(BackendEvent::FriendRemoved(f.qq));
        }
    }
    for g in &new.groups {
        let Some(o) = old.groups.get(g.gnumber) else {
            continue;
        };
        for m in &g.members {
            let (group, member) = (g.gnumber, m.clone());
            match o.member_by_qq(m.qq) {
                None => c.events.push(BackendEvent::MemberJoined { group, member }),
                Some(om) if om != m => {
                    c.events.push(BackendEvent::MemberUpdated { group, member });
                }
                Some(_) => {}
            }
        }
        for m in &o.members {
            if !g.members.contains(m.qq) {
                c.events.push(BackendEvent::MemberLeft {
                    group: g.gnumber,
                    member: m.qq,
                });
            }
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::onebot::contacts::fixtures::{entry, snap};
    use crate::backend::onebot::contacts::member;
    use crate::model::Roster;

    #[test]
    fn diff_describes_member_and_friend_changes() {
        let old = snap();
        let mut new = snap();
        new.groups.update(GroupNumber(552603), |g| {
            g.members.remove(Qq(3));
            g.members.upsert(member(&entry(4, "member")).unwrap());
        });
        new.friends.update(Qq(3), |f| f.markname = "changed".into());
        let c = diff(&old, &new);
        assert!(!c.resync);
        assert_eq!(c.events.len(), 3, "{:?}", c.events);
        assert!(c.events.contains(&BackendEvent::MemberLeft {
            group: GroupNumber(552603),
            member: Qq(3)
        }));
        assert!(matches!(&c.events[0], BackendEvent::FriendUpdated(f) if f.markname == "changed"));
        assert!(
            c.events.iter().any(
                |e| matches!(e, BackendEvent::MemberJoined { member, .. } if member.qq == Qq(4))
            ),
            "a member absent before is a join: {:?}",
            c.events
        );
        assert_eq!(diff(&old, &snap()), Changes::default());
    }

    /// Regression: every member who talked between two re-reads was reported
    /// as joining again (the last-speak time is part of the record).
    #[test]
    fn a_known_member_who_spoke_is_an_update_not_a_join() {
        let n = GroupNumber(552603);
        let old = snap();
        let mut new = snap();
        new.groups.update(n, |g| {
            g.members.update(Qq(3), |m| {
                m.last_speak_time = "1700000999".into();
                m.card = "新名片".into();
            })
        });
        let c = diff(&old, &new);
        assert!(!c.resync);
        let [BackendEvent::MemberUpdated { group, member: m }] = c.events.as_slice() else {
            panic!("one update expected: {:?}", c.events)
        };
        assert_eq!((*group, m.qq), (n, Qq(3)));
        assert_eq!(m.last_speak_time, "1700000999");
        assert!(
            !c.events
                .iter()
                .any(|e| matches!(e, BackendEvent::MemberJoined { .. })),
            "{:?}",
            c.events
        );
        // The cache applies an update in place and never adds by one.
        let cache = Cache::default();
        cache.store(old, 1);
        for e in &c.events {
            cache.apply(e);
        }
        cache.apply(&BackendEvent::MemberUpdated {
            group: n,
            member: member(&entry(4242, "member")).unwrap(),
        });
        cache.apply(&BackendEvent::FriendUpdated(Friend {
            qq: Qq(4242),
            ..Friend::default()
        }));
        assert!(!cache.has_member(n, Qq(4242)) && !cache.has_friend(Qq(4242)));
        assert_eq!(cache.name_of(Some(n), Qq(3)).as_deref(), Some("新名片"));
        let qqs: Vec<Qq> = cache.snapshot().groups[0]
            .members
            .iter()
            .map(|m| m.qq)
            .collect();
        assert_eq!(qqs, [Qq(1), Qq(10001), Qq(3)], "the order is kept");
        assert_eq!(cache.store(new, 1), Changes::default());
    }

    #[test]
    fn diff_asks_for_a_resync_when_groups_change() {
        let old = snap();
        let mut renamed = snap();
        renamed
            .groups
            .update(GroupNumber(552603), |g| g.gname = "H".into());
        assert!(diff(&old, &renamed).resync);
        let mut left = snap();
        left.groups = Roster::new();
        assert!(diff(&old, &left).resync);
        assert!(diff(&LoginSnapshot::default(), &old).resync);
    }

    #[test]
    fn the_cache_names_members_and_mirrors_events() {
        let cache = Cache::default();
        assert!(!cache.is_filled());
        cache.store(snap(), 1);
        assert!(cache.fresh(1).is_some());
        assert!(cache.fresh(2).is_none());
        assert_eq!(
            cache.name_of(Some(GroupNumber(552603)), Qq(3)).as_deref(),
            Some("n3")
        );
        assert_eq!(cache.name_of(None, Qq(3)).as_deref(), Some("3号"));
        assert_eq!(cache.name_of(None, Qq(99)), None);
        cache.apply(&BackendEvent::MemberLeft {
            group: GroupNumber(552603),
            member: Qq(3),
        });
        assert!(!cache.has_member(GroupNumber(552603), Qq(3)));
        assert_eq!(cache.me(), Some(Qq(10001)));
    }

    #[test]
    fn the_cache_index_follows_events_and_rereads() {
        let n = GroupNumber(552603);
        let cache = Cache::default();
        cache.store(snap(), 1);
        // The first member leaves and another joins: the rest move up.
        cache.apply(&BackendEvent::MemberLeft {
            group: n,
            member: Qq(1),
        });
        cache.apply(&BackendEvent::MemberJoined {
            group: n,
            member: member(&entry(4, "member")).unwrap(),
        });
        assert!(!cache.has_member(n, Qq(1)));
        assert!(cache.has_member(n, Qq(3)) && cache.has_member(n, Qq(10001)));
        assert_eq!(cache.name_of(Some(n), Qq(4)).as_deref(), Some("n4"));
        cache.apply(&BackendEvent::FriendRemoved(Qq(3)));
        assert!(!cache.has_friend(Qq(3)));
        assert_eq!(cache.name_of(None, Qq(3)), None);
        // A re-read replaces it all, and says what changed.
        let changes = cache.store(snap(), 2);
        assert!(cache.has_member(n, Qq(1)) && !cache.has_member(n, Qq(4)));
        assert!(cache.has_friend(Qq(3)));
        assert_eq!(changes.events.len(), 3, "{:?}", changes.events);
    }

    /// A re-read that sees a member whose join is being looked up does not
    /// report the join too: the join itself will.
    #[test]
    fn a_re_read_during_a_join_leaves_the_join_to_the_notice() {
        let cache = Cache::default();
        let n = GroupNumber(552603);
        let mut snap = LoginSnapshot::default();
        snap.groups.upsert(Group {
            gnumber: n,
            ..Group::default()
        });
        cache.store(snap.clone(), 1);
        cache.begin_join(n, Qq(4242));
        snap.groups.update(n, |g| {
            g.members.upsert(GroupMember {
                qq: Qq(4242),
                nick: "新人".into(),
                ..GroupMember::default()
            })
        });
        assert!(cache.store(snap.clone(), 1).events.is_empty());
        cache.end_join(n, Qq(4242));
        snap.groups.update(n, |g| {
            g.members.upsert(GroupMember {
                qq: Qq(4343),
                nick: "又一个".into(),
                ..GroupMember::default()
            })
        });
        assert!(matches!(
            &cache.store(snap, 1).events[..],
            [BackendEvent::MemberJoined { member, .. }] if member.qq == Qq(4343)
        ));
    }
}
