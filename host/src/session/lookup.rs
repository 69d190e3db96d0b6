//! Openqq look-ups: "exact strings on all given parameters (AND)" (spec §4).
//!
//! A `Lookup` is the list of attribute/value pairs a client gave, already
//! mapped to v1 attribute names by the API layer. An attribute an object does
//! not have never matches, so unknown search keys mean "no match", never an
//! error.

use crate::model::{Discuss, DiscussMember, Friend, Group, GroupMember};

/// Attribute/value pairs that must all match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lookup(pub Vec<(String, String)>);

impl Lookup {
    pub fn new() -> Lookup {
        Lookup(Vec::new())
    }

    pub fn with(mut self, key: &str, value: impl Into<String>) -> Lookup {
        self.0.push((key.to_string(), value.into()));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value given for `key`, if any.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// True when every pair matches `attr` (and at least one pair is given).
    pub fn matches<'a>(&self, attr: impl Fn(&str) -> Option<std::borrow::Cow<'a, str>>) -> bool {
        !self.0.is_empty()
            && self
                .0
                .iter()
                .all(|(k, v)| attr(k).is_some_and(|a| a == v.as_str()))
    }
}

use std::borrow::Cow;

/// The Friend attributes a client may search by.
pub fn friend_attr<'a>(f: &'a Friend, key: &str) -> Option<Cow<'a, str>> {
    Some(match key {
        "id" => Cow::Borrowed(f.id.as_str()),
        "qq" => Cow::Owned(f.qq.to_string()),
        "nick" => Cow::Borrowed(&f.nick),
        "markname" => Cow::Borrowed(&f.markname),
        "displayname" => Cow::Borrowed(f.display_name()),
        "category" => Cow::Borrowed(&f.category),
        "client_type" => Cow::Borrowed(&f.client_type),
        "face" => Cow::Borrowed(&f.face),
        "flag" => Cow::Borrowed(&f.flag),
        "is_vip" => Cow::Borrowed(&f.is_vip),
        "state" => Cow::Borrowed(&f.state),
        "vip_level" => Cow::Borrowed(&f.vip_level),
        _ => return None,
    })
}

/// The Group attributes a client may search by.
pub fn group_attr<'a>(g: &'a Group, key: &str) -> Option<Cow<'a, str>> {
    Some(match key {
        "gid" => Cow::Borrowed(g.gid.as_str()),
        "gcode" => Cow::Borrowed(&g.gcode),
        "gnumber" => Cow::Owned(g.gnumber.to_string()),
        "gname" => Cow::Borrowed(&g.gname),
        "gmarkname" => Cow::Borrowed(&g.gmarkname),
        "displayname" => Cow::Borrowed(if g.gmarkname.is_empty() {
            &g.gname
        } else {
            &g.gmarkname
        }),
        "gtype" => Cow::Borrowed(g.gtype.as_str()),
        "gowner" => Cow::Borrowed(g.gowner_id()),
        "gmemo" => Cow::Borrowed(&g.gmemo),
        "gcreatetime" => Cow::Borrowed(&g.gcreatetime),
        "glevel" => Cow::Borrowed(&g.glevel),
        _ => return None,
    })
}

/// The GroupMember attributes used to pick a member.
pub fn member_attr<'a>(m: &'a GroupMember, key: &str) -> Option<Cow<'a, str>> {
    Some(match key {
        "id" => Cow::Borrowed(m.id.as_str()),
        "qq" => Cow::Owned(m.qq.to_string()),
        "nick" => Cow::Borrowed(&m.nick),
        "card" => Cow::Borrowed(&m.card),
        "displayname" => Cow::Borrowed(m.display_name()),
        "role" => Cow::Borrowed(m.role.as_str()),
        _ => return None,
    })
}

/// The Discuss attributes used to pick a discussion.
pub fn discuss_attr<'a>(d: &'a Discuss, key: &str) -> Option<Cow<'a, str>> {
    Some(match key {
        "did" => Cow::Borrowed(d.did.as_str()),
        "dname" => Cow::Borrowed(&d.dname),
        "displayname" => Cow::Borrowed(&d.dname),
        "downer" => Cow::Borrowed(&d.downer),
        _ => return None,
    })
}

/// The DiscussMember attributes used to pick a member.
pub fn discuss_member_attr<'a>(m: &'a DiscussMember, key: &str) -> Option<Cow<'a, str>> {
    Some(match key {
        "id" => Cow::Borrowed(m.id.as_str()),
        "qq" => Cow::Owned(m.qq.to_string()),
        "nick" => Cow::Borrowed(&m.nick),
        "displayname" => Cow::Borrowed(&m.nick),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Qq;

    #[test]
    fn all_pairs_must_match_and_unknown_keys_never_do() {
        let f = Friend {
            id: "9".into(),
            qq: Qq(5),
            nick: "a".into(),
            ..Friend::default()
        };
        let m = |l: &Lookup| l.matches(|k| friend_attr(&f, k));
        assert!(m(&Lookup::new().with("qq", "5")));
        assert!(m(&Lookup::new().with("qq", "5").with("id", "9")));
        assert!(!m(&Lookup::new().with("qq", "5").with("id", "8")));
        assert!(!m(&Lookup::new().with("bogus", "5")));
        assert!(!m(&Lookup::new()), "no parameter means not found");
        assert!(m(&Lookup::new().with("displayname", "a")));
    }
}
