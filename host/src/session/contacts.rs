//! The contact cache: every contact with its per-login session id beside its
//! stable number, and indexes both ways.
//!
//! Pure and synchronous. A `Contacts` is immutable once built; changes build a
//! new one, which the session publishes as an `Arc` snapshot, so readers never
//! lock and never see a half-applied change.

use std::collections::{HashMap, HashSet};

use rand::Rng;

use super::lookup::{
    Lookup, discuss_attr, discuss_member_attr, friend_attr, group_attr, member_attr,
};
use crate::backend::{IdScheme, LoginSnapshot};
use crate::model::{Discuss, Friend, Group, GroupMember, GroupNumber, Qq, User};

/// The account and its contacts at one moment of one login.
#[derive(Debug, Clone)]
pub struct Contacts {
    pub user: User,
    pub friends: Vec<Friend>,
    pub groups: Vec<Group>,
    pub discusses: Vec<Discuss>,
    /// Which login this is (1 for the first); ids differ between logins.
    pub login: u64,
    scheme: IdScheme,
    /// A person's session id (the same in every chat), by QQ number.
    person_ids: HashMap<Qq, String>,
    friend_by_qq: HashMap<Qq, usize>,
    friend_by_id: HashMap<String, usize>,
    group_by_number: HashMap<GroupNumber, usize>,
    group_by_gid: HashMap<String, usize>,
    discuss_by_did: HashMap<String, usize>,
    discuss_by_key: HashMap<u64, usize>,
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
        for f in &mut friends {
            f.id = person(f.qq, &mut ids);
        }
        let mut groups = snap.groups;
        for g in &mut groups {
            g.gid = ids.make(g.gnumber.0);
            g.gcode = ids.make(g.gnumber.0);
            for m in &mut g.members {
                m.id = person(m.qq, &mut ids);
            }
        }
        let mut discusses = snap.discusses;
        for d in &mut discusses {
            d.did = ids.make(d.key);
            for m in &mut d.members {
                m.id = person(m.qq, &mut ids);
            }
            if d.downer.is_empty() {
                d.downer = d.members.first().map(|m| m.id.clone()).unwrap_or_default();
            }
        }
        let mut c = Contacts {
            user,
            friends,
            groups,
            discusses,
            login,
            scheme,
            person_ids,
            friend_by_qq: HashMap::new(),
            friend_by_id: HashMap::new(),
            group_by_number: HashMap::new(),
            group_by_gid: HashMap::new(),
            discuss_by_did: HashMap::new(),
            discuss_by_key: HashMap::new(),
        };
        c.reindex();
        c
    }

    fn reindex(&mut self) {
        self.friend_by_qq = self
            .friends
            .iter()
            .enumerate()
            .map(|(i, f)| (f.qq, i))
            .collect();
        self.friend_by_id = self
            .friends
            .iter()
            .enumerate()
            .map(|(i, f)| (f.id.clone(), i))
            .collect();
        self.group_by_number = self
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| (g.gnumber, i))
            .collect();
        self.group_by_gid = self
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| (g.gid.clone(), i))
            .collect();
        self.discuss_by_did = self
            .discusses
            .iter()
            .enumerate()
            .map(|(i, d)| (d.did.clone(), i))
            .collect();
        self.discuss_by_key = self
            .discusses
            .iter()
            .enumerate()
            .map(|(i, d)| (d.key, i))
            .collect();
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
        id
    }

    /// The session id of a person if one was made this login.
    pub fn known_person_id(&self, qq: Qq) -> Option<&str> {
        self.person_ids.get(&qq).map(String::as_str)
    }

    pub fn friend(&self, qq: Qq) -> Option<&Friend> {
        self.friend_by_qq.get(&qq).map(|&i| &self.friends[i])
    }

    pub fn group(&self, n: GroupNumber) -> Option<&Group> {
        self.group_by_number.get(&n).map(|&i| &self.groups[i])
    }

    pub fn discuss_by_key(&self, key: u64) -> Option<&Discuss> {
        self.discuss_by_key.get(&key).map(|&i| &self.discusses[i])
    }

    pub fn discuss_by_did(&self, did: &str) -> Option<&Discuss> {
        self.discuss_by_did.get(did).map(|&i| &self.discusses[i])
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
                .friend_by_id
                .get(id)
                .map(|&i| &self.friends[i])
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
                .map(|&i| &self.groups[i])
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
        g.members.iter().find(|m| l.matches(|k| member_attr(m, k)))
    }

    /// The first member of `d` that matches.
    pub fn find_discuss_member<'a>(
        d: &'a Discuss,
        l: &Lookup,
    ) -> Option<&'a crate::model::DiscussMember> {
        d.members
            .iter()
            .find(|m| l.matches(|k| discuss_member_attr(m, k)))
    }

    /// A copy with `member` added to (or replaced in) group `n`.
    pub fn with_member(&self, n: GroupNumber, mut member: GroupMember) -> Option<Contacts> {
        let mut c = self.clone();
        member.id = c.person_id(member.qq);
        let g = c.groups.get_mut(*c.group_by_number.get(&n)?)?;
        g.members.retain(|m| m.qq != member.qq);
        g.members.push(member);
        Some(c)
    }

    /// A copy without member `qq` of group `n`.
    pub fn without_member(&self, n: GroupNumber, qq: Qq) -> Option<Contacts> {
        let mut c = self.clone();
        let g = c.groups.get_mut(*c.group_by_number.get(&n)?)?;
        g.members.retain(|m| m.qq != qq);
        Some(c)
    }

    /// A copy with `friend` added (or replaced).
    pub fn with_friend(&self, mut friend: Friend) -> Contacts {
        let mut c = self.clone();
        friend.id = c.person_id(friend.qq);
        c.friends.retain(|f| f.qq != friend.qq);
        c.friends.push(friend);
        c.reindex();
        c
    }

    /// A copy without friend `qq`.
    pub fn without_friend(&self, qq: Qq) -> Contacts {
        let mut c = self.clone();
        c.friends.retain(|f| f.qq != qq);
        c.reindex();
        c
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
