//! The v2 shapes of Openqq objects (spec §7, `openqq-original.md` §4.3):
//! renamed fields, JSON numbers, `null` for unknown numbers.
//!
//! Typed views that borrow from the contacts and write themselves, as in
//! `v1`; fields in the order they are written (alphabetical, as before).

use serde::{Serialize, Serializer};
use serde_json::Value;

use super::Children;
use crate::model;

/// A numeric field: a number when it is one, `null` when empty, else the text.
#[derive(Clone, Copy)]
pub struct Num<'a>(pub &'a str);

impl Serialize for Num<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.is_empty() {
            return s.serialize_unit();
        }
        match self.0.parse::<u64>() {
            Ok(n) => s.serialize_u64(n),
            Err(_) => s.serialize_str(self.0),
        }
    }
}

/// `Num` as a `Value`, for reports built as trees.
pub fn num(s: &str) -> Value {
    serde_json::to_value(Num(s)).unwrap_or(Value::Null)
}

/// A text field that v2 leaves `null` when unset.
#[derive(Clone, Copy)]
pub struct Opt<'a>(&'a str);

impl Serialize for Opt<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.is_empty() {
            s.serialize_unit()
        } else {
            s.serialize_str(self.0)
        }
    }
}

#[derive(Serialize)]
pub struct User<'a> {
    account: Num<'a>,
    birthday: &'a str,
    blood: Num<'a>,
    city: &'a str,
    client_type: &'a str,
    college: &'a str,
    country: &'a str,
    email: &'a str,
    face: Num<'a>,
    homepage: &'a str,
    id: Num<'a>,
    mobile: &'a str,
    name: &'a str,
    occupation: &'a str,
    personal: &'a str,
    phone: &'a str,
    province: &'a str,
    sex: &'a str,
    signature: &'a str,
    state: &'a str,
    uid: u64,
}

pub fn user(u: &model::User) -> User<'_> {
    User {
        account: Num(&u.account),
        birthday: &u.birthday,
        blood: Num(&u.blood),
        city: &u.city,
        client_type: &u.client_type,
        college: &u.college,
        country: &u.country,
        email: &u.email,
        face: Num(&u.face),
        homepage: &u.homepage,
        id: Num(&u.id),
        mobile: &u.mobile,
        name: &u.nick,
        occupation: &u.occupation,
        personal: &u.personal,
        phone: &u.phone,
        province: &u.province,
        sex: &u.gender,
        signature: &u.signature,
        state: &u.state,
        uid: u.qq.0,
    }
}

#[derive(Serialize)]
pub struct Friend<'a> {
    category: &'a str,
    client_type: &'a str,
    face: Num<'a>,
    flag: Num<'a>,
    id: Num<'a>,
    is_vip: Num<'a>,
    markname: Opt<'a>,
    name: &'a str,
    state: &'a str,
    uid: u64,
    vip_level: Num<'a>,
}

pub fn friend(f: &model::Friend) -> Friend<'_> {
    Friend {
        category: &f.category,
        client_type: &f.client_type,
        face: Num(&f.face),
        flag: Num(&f.flag),
        id: Num(&f.id),
        is_vip: Num(&f.is_vip),
        markname: Opt(&f.markname),
        name: &f.nick,
        state: &f.state,
        uid: f.qq.0,
        vip_level: Num(&f.vip_level),
    }
}

#[derive(Serialize)]
pub struct Member<'a> {
    bad_record: Num<'a>,
    card: Opt<'a>,
    city: &'a str,
    client_type: &'a str,
    country: &'a str,
    id: Num<'a>,
    join_time: Num<'a>,
    last_speak_time: Num<'a>,
    level: &'a str,
    name: &'a str,
    province: &'a str,
    qage: Num<'a>,
    role: &'static str,
    sex: &'a str,
    state: &'a str,
    uid: u64,
}

pub fn member<'a>(m: &'a model::GroupMember, _g: &model::Group) -> Member<'a> {
    Member {
        bad_record: Num(&m.bad_record),
        card: Opt(&m.card),
        city: &m.city,
        client_type: &m.client_type,
        country: &m.country,
        id: Num(&m.id),
        join_time: Num(&m.join_time),
        last_speak_time: Num(&m.last_speak_time),
        level: &m.level,
        name: &m.nick,
        province: &m.province,
        qage: Num(&m.qage),
        role: m.role.as_str(),
        sex: &m.gender,
        state: &m.state,
        uid: m.qq.0,
    }
}

/// A group; `member` only when asked for.
#[derive(Serialize)]
pub struct Group<'a> {
    code: Num<'a>,
    createtime: Num<'a>,
    id: Num<'a>,
    level: Num<'a>,
    markname: Opt<'a>,
    /// Not known: always `null`.
    max_admin: Option<u64>,
    /// Not known: always `null`.
    max_member: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    member: Option<Children<'a, model::Group, model::GroupMember, Member<'a>>>,
    memo: &'a str,
    name: &'a str,
    /// The owner's session id; `null` when no member is the owner.
    owner_id: Option<Num<'a>>,
    owner_uid: Num<'a>,
    role: &'static str,
    uid: u64,
}

/// A group; `with_members` adds the `member` array.
pub fn group(g: &model::Group, with_members: bool) -> Group<'_> {
    Group {
        code: Num(&g.gcode),
        createtime: Num(&g.gcreatetime),
        id: Num(&g.gid),
        level: Num(&g.glevel),
        markname: Opt(&g.gmarkname),
        max_admin: None,
        max_member: None,
        member: with_members.then(|| Children::new(g, &g.members[..], member)),
        memo: &g.gmemo,
        name: &g.gname,
        owner_id: g.owner().map(|m| Num(&m.id)),
        owner_uid: Num(&g.gowner),
        role: g.gtype.as_str(),
        uid: g.gnumber.0,
    }
}

#[derive(Serialize)]
pub struct DiscussMember<'a> {
    client_type: &'a str,
    id: Num<'a>,
    name: &'a str,
    state: &'a str,
    uid: u64,
}

pub fn discuss_member<'a>(m: &'a model::DiscussMember, _d: &model::Discuss) -> DiscussMember<'a> {
    DiscussMember {
        client_type: &m.client_type,
        id: Num(&m.id),
        name: &m.nick,
        state: &m.state,
        uid: m.qq.0,
    }
}

#[derive(Serialize)]
pub struct Discuss<'a> {
    id: Num<'a>,
    member: Children<'a, model::Discuss, model::DiscussMember, DiscussMember<'a>>,
    name: &'a str,
    owner_id: Num<'a>,
}

pub fn discuss(d: &model::Discuss) -> Discuss<'_> {
    Discuss {
        id: Num(&d.did),
        member: Children::new(d, &d.members[..], discuss_member),
        name: &d.dname,
        owner_id: Num(&d.downer),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::{GroupNumber, Qq};

    fn value(v: impl Serialize) -> Value {
        serde_json::to_value(v).unwrap()
    }

    #[test]
    fn v2_renames_fields_and_uses_numbers() {
        let f = model::Friend {
            id: "9".into(),
            qq: Qq(5),
            nick: "n".into(),
            ..model::Friend::default()
        };
        let v = value(friend(&f));
        assert_eq!(
            (v["id"].clone(), v["uid"].clone(), v["name"].clone()),
            (json!(9), json!(5), json!("n"))
        );
        assert_eq!(v["markname"], Value::Null);
        assert!(v.get("qq").is_none() && v.get("nick").is_none());
        let g = model::Group {
            gnumber: GroupNumber(7),
            gid: "11".into(),
            ..model::Group::default()
        };
        let v = value(group(&g, false));
        assert_eq!(
            (v["uid"].clone(), v["id"].clone(), v["role"].clone()),
            (json!(7), json!(11), json!("attend"))
        );
    }

    #[test]
    fn num_is_a_number_null_or_the_text() {
        assert_eq!(num("12"), json!(12));
        assert_eq!(num(""), Value::Null);
        assert_eq!(num("x1"), json!("x1"));
        assert_eq!(num("18446744073709551616"), json!("18446744073709551616"));
    }
}
