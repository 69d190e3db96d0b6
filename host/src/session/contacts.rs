//! The contact cache: every contact with its per-login session id beside its
//! stable number, and indexes both ways.
//!
//! Pure and synchronous. A `Contacts` is immutable once built; changes build a
//! new one, which the session publishes as an `Arc` snapshot, so readers never
//! lock and never see a half-applied change.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use rand::Rng;

use super::lookup::{
    Lookup, discuss_attr, discuss_member_attr, friend_attr, group_attr, member_attr,
};
use crate::backend::{IdScheme, LoginSnapshot};
use crate::model::{
    Discuss, DiscussMember, Friend, Group, GroupMember, GroupNumber, Keyed, Qq, Roster, User,
};

/// The account and its contacts at one moment of one login.
///
/// Each list keeps QQ's order and its own index by number (`Roster`); the
/// maps below take a session id to that number, so no index here holds a
/// position that a change to a list could leave stale.
#[derive(Debug, Clone)]
pub struct Contacts {
    pub user: User,
    pub friends: Roster<Friend>,
    pub groups: Roster<Group>,
    pub discusses: Roster<Discuss>,
    /// Which login this is (1 for the first); ids differ between logins.
    pub login: u64,
    scheme: IdScheme,
    /// A person's session id (the same in every chat), by QQ number.
    person_ids: HashMap<Qq, String>,
    /// The other way: a person's QQ number by session id.
    person_by_id: HashMap<String, Qq>,
    group_by_gid: HashMap<String, GroupNumber>,
    discuss_by_did: HashMap<String, u64>,
}

/// Makes session ids for one login.
struct IdMaker {
    scheme: IdScheme,
    used: HashSet<String>,
}

impl IdMaker {
    /// A fresh id: ten random digits under `PerLogin` (Web QQ's uin style),
    /// the number itself under `Numbers`.
    fn make(&mut self, number: u64) -> String {
        if self.scheme == IdScheme::Numbers {
            return number.to_string();
        }
        let mut rng = rand::rng();
        loop {
            let id = rng
                .random_range(1_000_000_000u64..4_000_000_000)
                .to_string();
            if self.used.insert(id.clone()) {
                return id;
            }
        }
    }
}

impl Contacts {
    /// Builds the cache for a fresh login: every session id is new.
    pub fn from_login(snap: LoginSnapshot, scheme: IdScheme, login: u64) -> Contacts {
        let mut ids = IdMaker {
            scheme,
            used: HashSet::new(),
        };
        let mut person_ids: HashMap<Qq, String> = HashMap::new();
        let mut person = |qq: Qq, ids: &mut IdMaker| {
            person_ids
                .entry(qq)
                .or_insert_with(|| ids.make(qq.0))
                .clone()
        };

        let mut user = snap.user;
        user.id = person(user.qq, &mut ids);
        let mut friends = snap.friends;
        friends.update_all(|f| f.id = person(f.qq, &mut ids));
        let mut groups = snap.groups;
        groups.update_all(|g| {
            g.gid = ids.make(g.gnumber.0);
            g.gcode = ids.make(g.gnumber.0);
            g.members.update_all(|m| m.id = person(m.qq, &mut ids));
        });
        let mut discusses = snap.discusses;
        discusses.update_all(|d| {
            d.did = ids.make(d.key);
            d.members.update_all(|m| m.id = person(m.qq, &mut ids));
            if d.downer.is_empty() {
                d.downer = d.members.first().map(|m| m.id.clone()).unwrap_or_default();
            }
        });
        Contacts {
            person_by_id: person_ids
                .iter()
                .map(|(qq, id)| (id.clone(), *qq))
                .collect(),
            group_by_gid: groups.iter().map(|g| (g.gid.clone(), g.gnumber)).collect(),
            discuss_by_did: discusses.iter().map(|d| (d.did.clone(), d.key)).collect(),
            user,
            friends,
            groups,
            discusses,
            login,
            scheme,
            person_ids,
        }
    }

    /// The session id of a person, made on first sight (strangers included).
    pub fn person_id(&mut self, qq: Qq) -> String {
        if let Some(id) = self.person_ids.get(&qq) {
            return id.clone();
        }
        let used: HashSet<String> = self.person_ids.values().cloned().collect();
        let id = IdMaker {
            scheme: self.scheme,
            used,
        }
        .make(qq.0);
        self.person_ids.insert(qq, id.clone());
        self.person_by_id.insert(id.clone(), qq);
        id
    }

    /// The session id of a person if one was made this login.
    pub fn known_person_id(&self, qq: Qq) -> Option<&str> {
        self.person_ids.get(&qq).map(String::as_str)
    }

    pub fn friend(&self, qq: Qq) -> Option<&Friend> {
        self.friends.get(qq)
    }

    pub fn group(&self, n: GroupNumber) -> Option<&Group> {
        self.groups.get(n)
    }

    pub fn discuss_by_key(&self, key: u64) -> Option<&Discuss> {
        self.discusses.get(key)
    }

    pub fn discuss_by_did(&self, did: &str) -> Option<&Discuss> {
        self.discuss_by_did
            .get(did)
            .and_then(|&k| self.discusses.get(k))
    }

    /// Every friend that matches (`search_friend`). Uses the indexes when the
    /// look-up names `qq` or `id`, so large friend lists stay fast.
    pub fn search_friends(&self, l: &Lookup) -> Vec<&Friend> {
        let hit = |f: &&Friend| l.matches(|k| friend_attr(f, k));
        if let Some(qq) = l.get("qq") {
            return qq
                .parse()
                .ok()
                .and_then(|q| self.friend(Qq(q)))
                .into_iter()
                .filter(hit)
                .collect();
        }
        if let Some(id) = l.get("id") {
            return self
                .person_by_id
                .get(id)
                .and_then(|&qq| self.friend(qq))
                .into_iter()
                .filter(hit)
                .collect();
        }
        self.friends.iter().filter(hit).collect()
    }

    /// Every group that matches (`search_group`).
    pub fn search_groups(&self, l: &Lookup) -> Vec<&Group> {
        let hit = |g: &&Group| l.matches(|k| group_attr(g, k));
        if let Some(n) = l.get("gnumber") {
            return n
                .parse()
                .ok()
                .and_then(|n| self.group(GroupNumber(n)))
                .into_iter()
                .filter(hit)
                .collect();
        }
        if let Some(gid) = l.get("gid") {
            return self
                .group_by_gid
                .get(gid)
                .and_then(|&n| self.group(n))
                .into_iter()
                .filter(hit)
                .collect();
        }
        self.groups.iter().filter(hit).collect()
    }

    /// The first discussion that matches.
    pub fn find_discuss(&self, l: &Lookup) -> Option<&Discuss> {
        if let Some(did) = l.get("did") {
            return self
                .discuss_by_did(did)
                .filter(|d| l.matches(|k| discuss_attr(d, k)));
        }
        self.discusses
            .iter()
            .find(|d| l.matches(|k| discuss_attr(d, k)))
    }

    pub fn find_friend(&self, l: &Lookup) -> Option<&Friend> {
        self.search_friends(l).into_iter().next()
    }

    pub fn find_group(&self, l: &Lookup) -> Option<&Group> {
        self.search_groups(l).into_iter().next()
    }

    /// The first member of `g` that matches.
    pub fn find_member<'a>(g: &'a Group, l: &Lookup) -> Option<&'a GroupMember> {
        find_person(&g.members, l, member_attr)
    }

    /// The first member of `d` that matches.
    pub fn find_discuss_member<'a>(d: &'a Discuss, l: &Lookup) -> Option<&'a DiscussMember> {
        find_person(&d.members, l, discuss_member_attr)
    }

    /// A copy with `member` added to (or replaced in) group `n`, listed last.
    pub fn with_member(&self, n: GroupNumber, mut member: GroupMember) -> Option<Contacts> {
        let mut c = self.clone();
        member.id = c.person_id(member.qq);
        c.groups.update(n, |g| g.members.upsert(member))?;
        Some(c)
    }

    /// A copy with the member `member.qq` of group `n` replaced in place: the
    /// same place in the list and the same session id. `None` when the
    /// group or the member is unknown: a change is never a join.
    pub fn with_member_changed(&self, n: GroupNumber, mut member: GroupMember) -> Option<Contacts> {
        if !self.groups.get(n)?.members.contains(member.qq) {
            return None;
        }
        let mut c = self.clone();
        member.id = c.person_id(member.qq);
        c.groups
            .update(n, |g| g.members.update(member.qq, |m| *m = member))??;
        Some(c)
    }

    /// A copy without member `qq` of group `n`.
    pub fn without_member(&self, n: GroupNumber, qq: Qq) -> Option<Contacts> {
        let mut c = self.clone();
        c.groups.update(n, |g| g.members.remove(qq))?;
        Some(c)
    }

    /// A copy with `friend` added (or replaced), listed last.
    pub fn with_friend(&self, mut friend: Friend) -> Contacts {
        let mut c = self.clone();
        friend.id = c.person_id(friend.qq);
        c.friends.upsert(friend);
        c
    }

    /// A copy with friend `friend.qq` replaced in place (same place, same
    /// id); `None` when they are not a friend.
    pub fn with_friend_changed(&self, mut friend: Friend) -> Option<Contacts> {
        if !self.friends.contains(friend.qq) {
            return None;
        }
        let mut c = self.clone();
        friend.id = c.person_id(friend.qq);
        c.friends.update(friend.qq, |f| *f = friend)?;
        Some(c)
    }

    /// A copy without friend `qq`.
    pub fn without_friend(&self, qq: Qq) -> Contacts {
        let mut c = self.clone();
        c.friends.remove(qq);
        c
    }
}

/// The first person in `list` that matches; by the index when the look-up
/// names `qq`, so a group of thousands is not scanned.
fn find_person<'a, T: Keyed<Key = Qq>>(
    list: &'a Roster<T>,
    l: &Lookup,
    attr: fn(&'a T, &str) -> Option<Cow<'a, str>>,
) -> Option<&'a T> {
    let hit = |p: &&'a T| l.matches(|k| attr(p, k));
    match l.get("qq") {
        Some(qq) => qq.parse().ok().and_then(|q| list.get(Qq(q))).filter(hit),
        None => list.iter().find(hit),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::sim::World;

    fn snapshot() -> LoginSnapshot {
        let w = World::default_world();
        LoginSnapshot {
            user: w.user,
            friends: w.friends,
            groups: w.groups,
            discusses: w.discusses,
        }
    }

    #[test]
    fn relogin_changes_every_id_but_no_number() {
        let a = Contacts::from_login(snapshot(), IdScheme::PerLogin, 1);
        let b = Contacts::from_login(snapshot(), IdScheme::PerLogin, 2);
        for (fa, fb) in a.friends.iter().zip(&b.friends) {
            assert_eq!(fa.qq, fb.qq);
            assert_ne!(fa.id, fb.id);
        }
        assert_ne!(a.groups[0].gid, b.groups[0].gid);
        assert_ne!(a.discusses[0].did, b.discusses[0].did);
        let old = &a.friends[0].id;
        assert!(
            b.find_friend(&Lookup::new().with("id", old.clone()))
                .is_none()
        );
        assert!(b.find_friend(&Lookup::new().with("qq", "123456")).is_some());
    }

    #[test]
    fn a_person_has_one_id_in_every_chat() {
        let c = Contacts::from_login(snapshot(), IdScheme::PerLogin, 1);
        let friend = c.friend(Qq(123456)).unwrap();
        let member = c.groups[0].member_by_qq(Qq(123456)).unwrap();
        assert_eq!(friend.id, member.id);
        assert_eq!(c.user.id, c.groups[0].member_by_qq(Qq(1234567)).unwrap().id);
    }

    /// Every contact is found by its number and its session id, as itself.
    fn assert_indexed(c: &Contacts) {
        let by_id = |id: &str| Lookup::new().with("id", id.to_string());
        let by_qq = |qq: Qq| Lookup::new().with("qq", qq.to_string());
        for f in &c.friends {
            assert!(std::ptr::eq(c.friend(f.qq).unwrap(), f), "friend {}", f.qq);
            assert!(std::ptr::eq(c.find_friend(&by_id(&f.id)).unwrap(), f));
        }
        for g in &c.groups {
            assert!(std::ptr::eq(c.group(g.gnumber).unwrap(), g));
            let gid = Lookup::new().with("gid", g.gid.clone());
            assert!(std::ptr::eq(c.find_group(&gid).unwrap(), g));
            for m in &g.members {
                assert!(
                    std::ptr::eq(g.member_by_qq(m.qq).unwrap(), m),
                    "member {}",
                    m.qq
                );
                assert!(std::ptr::eq(
                    Contacts::find_member(g, &by_qq(m.qq)).unwrap(),
                    m
                ));
                assert_eq!(c.known_person_id(m.qq), Some(m.id.as_str()));
            }
        }
        for d in &c.discusses {
            assert!(std::ptr::eq(c.discuss_by_key(d.key).unwrap(), d));
            assert!(std::ptr::eq(c.discuss_by_did(&d.did).unwrap(), d));
            for m in &d.members {
                assert!(std::ptr::eq(d.member_by_qq(m.qq).unwrap(), m));
                let found = Contacts::find_discuss_member(d, &by_qq(m.qq)).unwrap();
                assert!(std::ptr::eq(found, m));
            }
        }
    }

    fn member_qqs(c: &Contacts, n: u64) -> Vec<u64> {
        c.group(GroupNumber(n))
            .unwrap()
            .members
            .iter()
            .map(|m| m.qq.0)
            .collect()
    }

    #[test]
    fn the_member_index_follows_leave_join_and_kick() {
        let n = GroupNumber(552603);
        let c = Contacts::from_login(snapshot(), IdScheme::PerLogin, 1);
        assert_indexed(&c);
        assert_eq!(
            member_qqs(&c, 552603),
            [123455, 45678, 123456, 888888, 999999, 1234567]
        );
        // 45678 leaves (a kick leaves the cache the same way): every member
        // listed after it moves up, and is still found as itself.
        let c = c.without_member(n, Qq(45678)).unwrap();
        assert!(c.group(n).unwrap().member_by_qq(Qq(45678)).is_none());
        assert_eq!(
            c.group(n).unwrap().member_by_qq(Qq(999999)).unwrap().card,
            "乙"
        );
        assert_indexed(&c);
        // It joins again with a new card: listed last, found with the card.
        let back = GroupMember {
            qq: Qq(45678),
            card: "回来了".into(),
            ..GroupMember::default()
        };
        let c = c.with_member(n, back).unwrap();
        assert_eq!(
            member_qqs(&c, 552603),
            [123455, 123456, 888888, 999999, 1234567, 45678]
        );
        let m = c.group(n).unwrap().member_by_qq(Qq(45678)).unwrap();
        assert_eq!(m.card, "回来了");
        assert!(!m.id.is_empty(), "a joining member gets a session id");
        assert_indexed(&c);
        // Kicked, then the first member leaves too.
        let c = c.without_member(n, Qq(888888)).unwrap();
        let c = c.without_member(n, Qq(123455)).unwrap();
        assert_eq!(member_qqs(&c, 552603), [123456, 999999, 1234567, 45678]);
        assert!(c.group(n).unwrap().member_by_qq(Qq(888888)).is_none());
        assert_indexed(&c);
        // The other group is untouched; an unknown group changes nothing.
        assert!(
            c.group(GroupNumber(661234))
                .unwrap()
                .member_by_qq(Qq(888888))
                .is_some()
        );
        assert!(
            c.with_member(GroupNumber(1), GroupMember::default())
                .is_none()
        );
        assert!(c.without_member(GroupNumber(1), Qq(1)).is_none());
    }

    #[test]
    fn the_friend_index_follows_removal_and_addition() {
        let c = Contacts::from_login(snapshot(), IdScheme::PerLogin, 1);
        let id = c.friend(Qq(123456)).unwrap().id.clone();
        let c = c.without_friend(Qq(123456));
        assert!(c.friend(Qq(123456)).is_none());
        assert!(
            c.find_friend(&Lookup::new().with("id", id.clone()))
                .is_none()
        );
        assert_eq!(c.friend(Qq(7891234)).unwrap().nick, "测试帐号2");
        assert_indexed(&c);
        let again = Friend {
            qq: Qq(123456),
            nick: "又是好友".into(),
            ..Friend::default()
        };
        let c = c.with_friend(again);
        let qqs: Vec<u64> = c.friends.iter().map(|f| f.qq.0).collect();
        assert_eq!(qqs, [7891234, 123456], "a new friend is listed last");
        let f = c.find_friend(&Lookup::new().with("id", id)).unwrap();
        assert_eq!(f.nick, "又是好友", "same person, same id this login");
        assert_indexed(&c);
    }

    #[test]
    fn a_change_keeps_the_place_and_id_and_never_adds() {
        let n = GroupNumber(552603);
        let c = Contacts::from_login(snapshot(), IdScheme::PerLogin, 1);
        let before = member_qqs(&c, 552603);
        let id = c
            .group(n)
            .unwrap()
            .member_by_qq(Qq(888888))
            .unwrap()
            .id
            .clone();
        let changed = GroupMember {
            qq: Qq(888888),
            card: "新名片".into(),
            last_speak_time: "1700000001".into(),
            ..GroupMember::default()
        };
        let c = c.with_member_changed(n, changed).unwrap();
        assert_eq!(member_qqs(&c, 552603), before, "the order is kept");
        let m = c.group(n).unwrap().member_by_qq(Qq(888888)).unwrap();
        assert_eq!((m.card.as_str(), m.id.as_str()), ("新名片", id.as_str()));
        assert_indexed(&c);
        // Someone who is not there is not added by a change.
        let stranger = GroupMember {
            qq: Qq(4242),
            ..GroupMember::default()
        };
        assert!(c.with_member_changed(n, stranger.clone()).is_none());
        assert!(c.with_member_changed(GroupNumber(1), stranger).is_none());

        let fid = c.friend(Qq(123456)).unwrap().id.clone();
        let f = Friend {
            qq: Qq(123456),
            markname: "新备注".into(),
            ..Friend::default()
        };
        let c = c.with_friend_changed(f).unwrap();
        let qqs: Vec<u64> = c.friends.iter().map(|f| f.qq.0).collect();
        assert_eq!(qqs, [123456, 7891234], "the order is kept");
        let f = c.friend(Qq(123456)).unwrap();
        assert_eq!(
            (f.markname.as_str(), f.id.as_str()),
            ("新备注", fid.as_str())
        );
        assert_indexed(&c);
        assert!(
            c.with_friend_changed(Friend {
                qq: Qq(5555),
                ..Friend::default()
            })
            .is_none()
        );
    }

    #[test]
    fn relogin_indexes_the_new_ids() {
        let n = GroupNumber(552603);
        let a = Contacts::from_login(snapshot(), IdScheme::PerLogin, 1)
            .without_member(n, Qq(45678))
            .unwrap()
            .without_friend(Qq(123456));
        let b = Contacts::from_login(snapshot(), IdScheme::PerLogin, 2);
        assert_indexed(&b);
        let member = b.group(n).unwrap().member_by_qq(Qq(45678)).unwrap();
        assert_ne!(
            Some(member.id.as_str()),
            a.known_person_id(Qq(45678)),
            "ids are new"
        );
        let f = b.friend(Qq(123456)).unwrap();
        assert_eq!(
            f.id,
            b.group(n).unwrap().member_by_qq(Qq(123456)).unwrap().id
        );
        for old in a.friends.iter().map(|f| f.id.clone()) {
            assert!(b.find_friend(&Lookup::new().with("id", old)).is_none());
        }
    }

    #[test]
    fn numbers_scheme_uses_numbers_as_ids() {
        let c = Contacts::from_login(snapshot(), IdScheme::Numbers, 1);
        assert_eq!(c.friends[0].id, "123456");
        assert_eq!(c.groups[0].gid, "552603");
    }

    #[test]
    fn search_uses_indexes_and_checks_every_pair() {
        let c = Contacts::from_login(snapshot(), IdScheme::PerLogin, 1);
        assert_eq!(
            c.search_friends(&Lookup::new().with("category", "我的家人"))
                .len(),
            1
        );
        assert!(
            c.search_friends(&Lookup::new().with("qq", "123456").with("nick", "nope"))
                .is_empty()
        );
        assert!(
            c.search_friends(&Lookup::new().with("qq", "abc"))
                .is_empty()
        );
        assert_eq!(
            c.search_groups(&Lookup::new().with("gnumber", "552603"))
                .len(),
            1
        );
    }
}
