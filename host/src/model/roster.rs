//! `Roster`: an ordered list of contacts with an index by key, kept in step.
//!
//! Contacts are listed to clients in the order QQ gave them, and looked up by
//! number on every inbound message (a group's sender among up to 3,000
//! members). A `Roster` keeps both: the `Vec` for the order and a `HashMap`
//! from key to position for the look-ups. The only ways to change it go
//! through methods that keep the index right, so no caller can change one
//! without the other. Reading is through `Deref` to a slice.

use std::collections::HashMap;
use std::hash::Hash;
use std::ops::Deref;

use super::contact::{Discuss, DiscussMember, Friend, Group, GroupMember};
use super::ids::{GroupNumber, Qq};

/// A contact's stable key: its QQ number, or a group's or discussion's number.
pub trait Keyed {
    type Key: Copy + Eq + Hash;
    fn key(&self) -> Self::Key;
}

/// People are keyed by their QQ number.
macro_rules! keyed_by_qq {
    ($($t:ty),*) => {$(
        impl Keyed for $t {
            type Key = Qq;
            fn key(&self) -> Qq {
                self.qq
            }
        }
    )*};
}
keyed_by_qq!(Friend, GroupMember, DiscussMember);

impl Keyed for Group {
    type Key = GroupNumber;
    fn key(&self) -> GroupNumber {
        self.gnumber
    }
}

impl Keyed for Discuss {
    type Key = u64;
    fn key(&self) -> u64 {
        self.key
    }
}

/// Contacts in order, with an index by key.
///
/// A key listed twice (a backend's mistake) stays listed twice, as QQ gave
/// it; look-ups find the first, and removing a key removes every entry.
#[derive(Clone)]
pub struct Roster<T: Keyed> {
    items: Vec<T>,
    /// Each key's first position in `items`.
    index: HashMap<T::Key, usize>,
}

impl<T: Keyed> Roster<T> {
    pub fn new() -> Roster<T> {
        Roster {
            items: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// The entry with this key.
    pub fn get(&self, key: T::Key) -> Option<&T> {
        self.index.get(&key).map(|&i| &self.items[i])
    }

    pub fn contains(&self, key: T::Key) -> bool {
        self.index.contains_key(&key)
    }

    /// Adds `item` at the end, replacing any entry with its key (a joining
    /// member or a re-added friend is listed last).
    pub fn upsert(&mut self, item: T) {
        self.remove(item.key());
        self.index.insert(item.key(), self.items.len());
        self.items.push(item);
    }

    /// Removes every entry with this key; returns the first.
    pub fn remove(&mut self, key: T::Key) -> Option<T> {
        let first = *self.index.get(&key)?;
        let removed = self.items.remove(first);
        self.items.retain(|item| item.key() != key);
        self.reindex();
        Some(removed)
    }

    /// Changes the entry with this key in place; `None` when there is none.
    /// The index follows if `change` altered the key.
    pub fn update<R>(&mut self, key: T::Key, change: impl FnOnce(&mut T) -> R) -> Option<R> {
        let &i = self.index.get(&key)?;
        let item = &mut self.items[i];
        let r = change(item);
        let moved = item.key() != key;
        if moved {
            self.reindex();
        }
        Some(r)
    }

    /// Changes every entry in place, in order. The index follows if `change`
    /// altered any key.
    pub fn update_all(&mut self, mut change: impl FnMut(&mut T)) {
        let mut moved = false;
        for item in &mut self.items {
            let key = item.key();
            change(item);
            moved |= item.key() != key;
        }
        if moved {
            self.reindex();
        }
    }

    /// Keeps only the entries `keep` says yes to.
    pub fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        self.items.retain(keep);
        self.reindex();
    }

    fn reindex(&mut self) {
        self.index.clear();
        for (i, item) in self.items.iter().enumerate() {
            self.index.entry(item.key()).or_insert(i);
        }
    }
}

impl<T: Keyed> Default for Roster<T> {
    fn default() -> Self {
        Roster::new()
    }
}

impl<T: Keyed> Deref for Roster<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.items
    }
}

impl<'a, T: Keyed> IntoIterator for &'a Roster<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

impl<T: Keyed> From<Vec<T>> for Roster<T> {
    fn from(items: Vec<T>) -> Self {
        let mut r = Roster {
            items,
            index: HashMap::new(),
        };
        r.reindex();
        r
    }
}

impl<T: Keyed> FromIterator<T> for Roster<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Roster::from(iter.into_iter().collect::<Vec<T>>())
    }
}

/// Equal when the entries are, in the same order (the index follows them).
impl<T: Keyed + PartialEq> PartialEq for Roster<T> {
    fn eq(&self, other: &Self) -> bool {
        self.items == other.items
    }
}

/// Shown as the list it is.
impl<T: Keyed + std::fmt::Debug> std::fmt::Debug for Roster<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.items.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn friend(qq: u64, nick: &str) -> Friend {
        Friend {
            qq: Qq(qq),
            nick: nick.into(),
            ..Friend::default()
        }
    }

    fn roster(qqs: &[u64]) -> Roster<Friend> {
        qqs.iter().map(|&q| friend(q, &format!("n{q}"))).collect()
    }

    fn qqs(r: &Roster<Friend>) -> Vec<u64> {
        r.iter().map(|f| f.qq.0).collect()
    }

    /// Every key finds its first entry, and the index holds nothing else.
    fn assert_fresh(r: &Roster<Friend>) {
        for (i, f) in r.iter().enumerate() {
            let first = r.iter().position(|x| x.qq == f.qq).unwrap();
            assert_eq!(r.index.get(&f.qq), Some(&first), "entry {i} ({})", f.qq);
        }
        let distinct: std::collections::HashSet<Qq> = r.iter().map(|f| f.qq).collect();
        assert_eq!(r.index.len(), distinct.len(), "index has stale keys");
    }

    #[test]
    fn upsert_replaces_and_lists_last() {
        let mut r = roster(&[1, 2, 3]);
        r.upsert(friend(2, "again"));
        assert_eq!(qqs(&r), [1, 3, 2]);
        assert_eq!(r.get(Qq(2)).unwrap().nick, "again");
        r.upsert(friend(4, "new"));
        assert_eq!(qqs(&r), [1, 3, 2, 4]);
        assert_fresh(&r);
    }

    #[test]
    fn remove_moves_the_index_of_every_later_entry() {
        let mut r = roster(&[1, 2, 3, 4]);
        assert_eq!(r.remove(Qq(2)).map(|f| f.qq), Some(Qq(2)));
        assert_eq!(r.remove(Qq(2)), None);
        assert_eq!(qqs(&r), [1, 3, 4]);
        assert!(!r.contains(Qq(2)));
        assert_eq!(r.get(Qq(3)).unwrap().nick, "n3");
        assert_eq!(r.get(Qq(4)).unwrap().nick, "n4");
        assert_fresh(&r);
        // Leave and join again: listed last, found where it now is.
        r.upsert(friend(2, "back"));
        r.remove(Qq(1));
        assert_eq!(qqs(&r), [3, 4, 2]);
        assert_eq!(r.get(Qq(2)).unwrap().nick, "back");
        assert_fresh(&r);
    }

    #[test]
    fn a_key_changed_in_place_is_indexed_anew() {
        let mut r = roster(&[1, 2, 3]);
        assert_eq!(r.update(Qq(2), |f| f.qq = Qq(20)), Some(()));
        assert!(!r.contains(Qq(2)));
        assert_eq!(r.get(Qq(20)).unwrap().nick, "n2");
        assert_eq!(r.update(Qq(99), |_| ()), None);
        r.update_all(|f| f.qq = Qq(f.qq.0 + 100));
        assert_eq!(qqs(&r), [101, 120, 103]);
        assert_fresh(&r);
        r.retain(|f| f.qq != Qq(101));
        assert_eq!(r.get(Qq(103)).unwrap().nick, "n3");
        assert_fresh(&r);
    }

    #[test]
    fn a_key_listed_twice_stays_listed_and_goes_at_once() {
        let mut r: Roster<Friend> = vec![friend(1, "a"), friend(2, "b"), friend(1, "c")].into();
        assert_eq!(r.len(), 3, "the list is as given");
        assert_eq!(r.get(Qq(1)).unwrap().nick, "a", "the first is found");
        assert_fresh(&r);
        assert_eq!(r.remove(Qq(1)).unwrap().nick, "a");
        assert_eq!(qqs(&r), [2]);
        assert_fresh(&r);
    }

    #[test]
    fn equality_and_debug_are_the_lists() {
        let a = roster(&[1, 2]);
        let mut b = roster(&[2]);
        b.upsert(friend(1, "n1"));
        assert_ne!(a, b, "same entries, other order");
        b.upsert(friend(2, "n2"));
        assert_eq!(a, b);
        assert_eq!(format!("{a:?}"), format!("{:?}", a.to_vec()));
    }
}
