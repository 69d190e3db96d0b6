//! The v1 shapes of Openqq objects: every value a JSON string (spec §3).
//!
//! Typed views that borrow from the contacts and write themselves: no
//! `serde_json::Value` tree and no string per number. Fields are listed in
//! the order they are written, which is alphabetical: the order the
//! `Value` maps of earlier versions wrote, kept for old clients.

use serde::Serialize;

use super::{Children, text};
use crate::model::{self, GroupNumber, Qq};

#[derive(Serialize)]
pub struct User<'a> {
    account: &'a str,
    birthday: &'a str,
    blood: &'a str,
    city: &'a str,
    client_type: &'a str,
    college: &'a str,
    country: &'a str,
    email: &'a str,
    face: &'a str,
    gender: &'a str,
    homepage: &'a str,
    id: &'a str,
    mobile: &'a str,
    nick: &'a str,
    occupation: &'a str,
    personal: &'a str,
    phone: &'a str,
    province: &'a str,
    #[serde(serialize_with = "text")]
    qq: Qq,
    signature: &'a str,
    state: &'a str,
}

pub fn user(u: &model::User) -> User<'_> {
    User {
        account: &u.account,
        birthday: &u.birthday,
        blood: &u.blood,
        city: &u.city,
        client_type: &u.client_type,
        college: &u.college,
        country: &u.country,
        email: &u.email,
        face: &u.face,
        gender: &u.gender,
        homepage: &u.homepage,
        id: &u.id,
        mobile: &u.mobile,
        nick: &u.nick,
        occupation: &u.occupation,
        personal: &u.personal,
        phone: &u.phone,
        province: &u.province,
        qq: u.qq,
        signature: &u.signature,
        state: &u.state,
    }
}

#[derive(Serialize)]
pub struct Friend<'a> {
    category: &'a str,
    client_type: &'a str,
    face: &'a str,
    flag: &'a str,
    id: &'a str,
    is_vip: &'a str,
    markname: &'a str,
    nick: &'a str,
    #[serde(serialize_with = "text")]
    qq: Qq,
    state: &'a str,
    vip_level: &'a str,
}

pub fn friend(f: &model::Friend) -> Friend<'_> {
    Friend {
        category: &f.category,
        client_type: &f.client_type,
        face: &f.face,
        flag: &f.flag,
        id: &f.id,
        is_vip: &f.is_vip,
        markname: &f.markname,
        nick: &f.nick,
        qq: f.qq,
        state: &f.state,
        vip_level: &f.vip_level,
    }
}

#[derive(Serialize)]
pub struct Member<'a> {
    bad_record: &'a str,
    card: &'a str,
    city: &'a str,
    client_type: &'a str,
    country: &'a str,
    gender: &'a str,
    #[serde(serialize_with = "text")]
    gnumber: GroupNumber,
    id: &'a str,
    join_time: &'a str,
    last_speak_time: &'a str,
    level: &'a str,
    nick: &'a str,
    province: &'a str,
    qage: &'a str,
    #[serde(serialize_with = "text")]
    qq: Qq,
    role: &'static str,
    state: &'a str,
}

pub fn member<'a>(m: &'a model::GroupMember, g: &model::Group) -> Member<'a> {
    Member {
        bad_record: &m.bad_record,
        card: &m.card,
        city: &m.city,
        client_type: &m.client_type,
        country: &m.country,
        gender: &m.gender,
        gnumber: g.gnumber,
        id: &m.id,
        join_time: &m.join_time,
        last_speak_time: &m.last_speak_time,
        level: &m.level,
        nick: &m.nick,
        province: &m.province,
        qage: &m.qage,
        qq: m.qq,
        role: m.role.as_str(),
        state: &m.state,
    }
}

/// A group; `member` only in `get_group_info`.
#[derive(Serialize)]
pub struct Group<'a> {
    gcode: &'a str,
    gcreatetime: &'a str,
    gid: &'a str,
    glevel: &'a str,
    gmarkname: &'a str,
    gmemo: &'a str,
    gname: &'a str,
    #[serde(serialize_with = "text")]
    gnumber: GroupNumber,
    gowner: &'a str,
    gtype: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    member: Option<Children<'a, model::Group, model::GroupMember, Member<'a>>>,
}

/// A group; `with_members` adds the `member` array (`get_group_info`).
pub fn group(g: &model::Group, with_members: bool) -> Group<'_> {
    Group {
        gcode: &g.gcode,
        gcreatetime: &g.gcreatetime,
        gid: &g.gid,
        glevel: &g.glevel,
        gmarkname: &g.gmarkname,
        gmemo: &g.gmemo,
        gname: &g.gname,
        gnumber: g.gnumber,
        gowner: g.gowner_id(),
        gtype: g.gtype.as_str(),
        member: with_members.then(|| Children::new(g, &g.members[..], member)),
    }
}

#[derive(Serialize)]
pub struct DiscussMember<'a> {
    client_type: &'a str,
    did: &'a str,
    dname: &'a str,
    downer: &'a str,
    id: &'a str,
    nick: &'a str,
    #[serde(serialize_with = "text")]
    qq: Qq,
    state: &'a str,
}

pub fn discuss_member<'a>(m: &'a model::DiscussMember, d: &'a model::Discuss) -> DiscussMember<'a> {
    DiscussMember {
        client_type: &m.client_type,
        did: &d.did,
        dname: &d.dname,
        downer: &d.downer,
        id: &m.id,
        nick: &m.nick,
        qq: m.qq,
        state: &m.state,
    }
}

#[derive(Serialize)]
pub struct Discuss<'a> {
    did: &'a str,
    dname: &'a str,
    downer: &'a str,
    member: Children<'a, model::Discuss, model::DiscussMember, DiscussMember<'a>>,
}

pub fn discuss(d: &model::Discuss) -> Discuss<'_> {
    Discuss {
        did: &d.did,
        dname: &d.dname,
        downer: &d.downer,
        member: Children::new(d, &d.members[..], discuss_member),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn value(v: impl Serialize) -> Value {
        serde_json::to_value(v).unwrap()
    }

    #[test]
    fn v1_values_are_strings() {
        let f = model::Friend {
            id: "9".into(),
            qq: Qq(5),
            nick: "n".into(),
            ..model::Friend::default()
        };
        assert_eq!(value(friend(&f))["qq"], json!("5"));
        let g = model::Group {
            gnumber: GroupNumber(7),
            ..model::Group::default()
        };
        assert_eq!(value(group(&g, false))["gnumber"], json!("7"));
        assert!(value(group(&g, false)).get("member").is_none());
        assert_eq!(value(group(&g, true))["member"], json!([]));
    }
}
