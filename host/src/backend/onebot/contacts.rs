//! The account and its contacts as OneBot reports them: fetching them,
//! mapping them to Openqq objects (`spec/onebot.md` §4.2), and the backend's
//! own copy, which renders `@name`s and tells what a background refresh
//! changed.
//!
//! Only whole lists are read (`get_friend_list`, `get_group_list`,
//! `get_group_member_list` with `no_cache: false`), never one call per
//! member: NapCat's per-member lookup takes seconds each (NapCat#272).

use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;
use tokio::time::Instant;

use super::codec::{self, FriendEntry, GroupEntry, LoginInfo, MemberEntry, Status, StrangerInfo};
use super::link::Link;
use crate::backend::{BackendError, BackendEvent, LoginSnapshot};
use crate::model::{
    Friend, Group, GroupMember, GroupNumber, GroupRole, MemberRole, Qq, Roster, User,
};

/// Member lists fetched at once: enough to hide latency, few enough not to
/// look like a flood to the implementation.
const MEMBER_FETCHES: usize = 4;

/// How long a fetched snapshot answers `login` without asking again on the
/// same connection (the session re-syncs right after the first login, and
/// after a refresh that asked it to).
pub const FRESH_FOR: Duration = Duration::from_secs(30);

// ------------------------------------------------------------ mapping

fn gender(sex: &str) -> String {
    match sex {
        "male" | "female" => sex.to_string(),
        _ => String::new(),
    }
}

pub fn user(login: &LoginInfo, info: &StrangerInfo, online: Option<bool>) -> User {
    let qq = login.user_id.qq().unwrap_or_default();
    let signature = if info.long_nick.0.is_empty() {
        info.sign.0.clone()
    } else {
        info.long_nick.0.clone()
    };
    let birthday = match (
        info.birthday_year.0,
        info.birthday_month.0,
        info.birthday_day.0,
    ) {
        (y, m, d) if y > 0 && m > 0 && d > 0 => format!("{y:04}-{m:02}-{d:02}"),
        _ => String::new(),
    };
    User {
        qq,
        nick: login.nickname.0.clone(),
        account: qq.to_string(),
        gender: gender(&info.sex.0),
        personal: signature.clone(),
        signature,
        birthday,
        state: match online {
            Some(true) => "online".into(),
            Some(false) => "offline".into(),
            None => String::new(),
        },
        ..User::default()
    }
}

pub fn friend(e: &FriendEntry) -> Option<Friend> {
    Some(Friend {
        qq: e.user_id.qq()?,
        nick: e.nickname.0.clone(),
        markname: e.remark.0.clone(),
        ..Friend::default()
    })
}

pub fn member(e: &MemberEntry) -> Option<GroupMember> {
    Some(GroupMember {
        qq: e.user_id.qq()?,
        nick: e.nickname.0.clone(),
        card: e.card.0.clone(),
        role: match e.role.0.as_str() {
            "owner" => MemberRole::Owner,
            "admin" => MemberRole::Admin,
            _ => MemberRole::Member,
        },
        bad_record: if e.unfriendly.0 { "1" } else { "0" }.into(),
        gender: gender(&e.sex.0),
        join_time: e.join_time.0.clone(),
        last_speak_time: e.last_sent_time.0.clone(),
        level: e.level.0.clone(),
        city: e.area.0.clone(),
        ..GroupMember::default()
    })
}

/// A group with its members; the account's own role and the owner come from
/// the member list.
pub fn group(e: &GroupEntry, members: Roster<GroupMember>, me: Qq) -> Option<Group> {
    let gnumber = e.group_id.group()?;
    let gtype = match members.get(me).map(|m| m.role) {
        Some(MemberRole::Owner) => GroupRole::Create,
        Some(MemberRole::Admin) => GroupRole::Manage,
        _ => GroupRole::Attend,
    };
    let gowner = members
        .iter()
        .find(|m| m.role == MemberRole::Owner)
        .map(|m| m.qq.to_string())
        .unwrap_or_default();
    Some(Group {
        gnumber,
        gname: e.group_name.0.clone(),
        gmarkname: e.group_remark.0.clone(),
        gtype,
        gowner,
        gcreatetime: e.group_create_time.0.clone(),
        glevel: e.group_level.0.clone(),
        members,
        ..Group::default()
    })
}

// ------------------------------------------------------------ fetching

/// Reads everything the session needs. A group whose member list cannot be
/// read keeps the members in `previous` (or none), so one slow group does
/// not fail a login.
///
/// # Errors
/// When the account, the friend list or the group list cannot be read.
pub async fn fetch(
    link: &Link,
    timeout: Duration,
    previous: &LoginSnapshot,
) -> Result<LoginSnapshot, BackendError> {
    let login: LoginInfo = codec::object(link.call("get_login_info", json!({}), timeout).await?)?;
    let me = login.user_id.qq().ok_or_else(|| {
        BackendError::Protocol("get_login_info gave no user_id (is QQ logged in?)".into())
    })?;
    // Extras only: a failure leaves the fields empty.
    let info: StrangerInfo = match link
        .call(
            "get_stranger_info",
            json!({"user_id": me.0, "no_cache": false}),
            timeout,
        )
        .await
    {
        Ok(data) => codec::object(data).unwrap_or_default(),
        Err(e) => {
            tracing::debug!(backend = "onebot", error = %e, "get_stranger_info for the account failed");
            StrangerInfo::default()
        }
    };
    let online = match link.call("get_status", json!({}), timeout).await {
        Ok(data) => codec::object::<Status>(data)
            .ok()
            .and_then(|s| s.online)
            .map(|f| f.0),
        Err(_) => None,
    };

    let (friends, skipped) = codec::list::<FriendEntry>(
        link.call("get_friend_list", json!({"no_cache": false}), timeout)
            .await?,
    )?;
    warn_skipped("get_friend_list", skipped);
    let (groups, skipped) = codec::list::<GroupEntry>(
        link.call("get_group_list", json!({"no_cache": false}), timeout)
            .await?,
    )?;
    warn_skipped("get_group_list", skipped);

    // Member lists are the slow part (MrXiaoM/Overflow#63): twice the time.
    let member_timeout = timeout.saturating_mul(2);
    let lists: Vec<(GroupEntry, Result<Roster<GroupMember>, BackendError>)> =
        futures_util::stream::iter(groups)
            .map(|g| async move {
                let params = json!({"group_id": g.group_id.0, "no_cache": false});
                let members = link
                    .call("get_group_member_list", params, member_timeout)
                    .await
                    .and_then(codec::list::<MemberEntry>)
                    .map(|(entries, skipped)| {
                        warn_skipped("get_group_member_list", skipped);
                        entries.iter().filter_map(member).collect()
                    });
                (g, members)
            })
            .buffered(MEMBER_FETCHES)
            .collect()
            .await;
    let mut out_groups = Vec::new();
    for (entry, members) in lists {
        let members = match members {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(
                    backend = "onebot",
                    group = entry.group_id.0,
                    error = %e,
                    "cannot read the member list; keeping the last one known"
                );
                entry
                    .group_id
                    .group()
                    .and_then(|n| previous.groups.get(n))
                    .map(|g| g.members.clone())
                    .unwrap_or_default()
            }
        };
        out_groups.extend(group(&entry, members, me));
    }
    Ok(LoginSnapshot {
        user: user(&login, &info, online),
        friends: friends.iter().filter_map(friend).collect(),
        groups: out_groups.into(),
        discusses: Roster::new(),
    })
}

fn warn_skipped(action: &str, skipped: usize) {
    if skipped > 0 {
        tracing::warn!(
            backend = "onebot",
            action,
            skipped,
            "entries that could not be read were left out"
        );
    }
}

// ------------------------------------------------------------ the cache

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
    use crate::backend::onebot::codec::{Flag, Id, Text};

    fn entry(qq: i64, role: &str) -> MemberEntry {
        MemberEntry {
            user_id: Id(qq),
            nickname: Text(format!("n{qq}")),
            role: Text(role.into()),
            ..MemberEntry::default()
        }
    }

    fn snap() -> LoginSnapshot {
        let members: Roster<GroupMember> =
            [entry(1, "owner"), entry(10001, "admin"), entry(3, "member")]
                .iter()
                .filter_map(member)
                .collect();
        let g = GroupEntry {
            group_id: Id(552603),
            group_name: Text("G".into()),
            ..GroupEntry::default()
        };
        LoginSnapshot {
            user: user(
                &LoginInfo {
                    user_id: Id(10001),
                    nickname: Text("me".into()),
                },
                &StrangerInfo::default(),
                Some(true),
            ),
            friends: vec![
                friend(&FriendEntry {
                    user_id: Id(3),
                    nickname: Text("three".into()),
                    remark: Text("3号".into()),
                })
                .unwrap(),
            ]
            .into(),
            groups: vec![group(&g, members, Qq(10001)).unwrap()].into(),
            discusses: Roster::new(),
        }
    }

    #[test]
    fn objects_map_per_the_spec_tables() {
        let s = snap();
        assert_eq!(s.user.qq, Qq(10001));
        assert_eq!(s.user.account, "10001");
        assert_eq!(s.user.state, "online");
        let g = &s.groups[0];
        assert_eq!(g.gtype, GroupRole::Manage, "the account is an admin");
        assert_eq!(g.gowner, "1");
        assert_eq!(s.friends[0].markname, "3号");
        let m = member(&MemberEntry {
            unfriendly: Flag(true),
            sex: Text("unknown".into()),
            ..entry(5, "member")
        })
        .unwrap();
        assert_eq!(m.bad_record, "1");
        assert_eq!(m.gender, "");
        assert!(member(&entry(-1, "member")).is_none());
        let info = StrangerInfo {
            sex: Text("female".into()),
            long_nick: Text("签名".into()),
            birthday_year: Id(1990),
            birthday_month: Id(1),
            birthday_day: Id(2),
            ..StrangerInfo::default()
        };
        let u = user(&LoginInfo::default(), &info, None);
        assert_eq!(
            (u.gender.as_str(), u.signature.as_str(), u.birthday.as_str()),
            ("female", "签名", "1990-01-02")
        );
    }

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
