//! The v2 shapes of Openqq objects (spec §7, `openqq-original.md` §4.3):
//! renamed fields, JSON numbers, `null` for unknown numbers.

use serde_json::{Value, json};

use crate::model::{Discuss, DiscussMember, Friend, Group, GroupMember, User};

/// A numeric field: a number when it is one, `null` when empty, else the text.
pub fn num(s: &str) -> Value {
    if s.is_empty() {
        return Value::Null;
    }
    s.parse::<u64>().map_or_else(|_| json!(s), |n| json!(n))
}

/// A text field that v2 leaves `null` when unset.
fn opt(s: &str) -> Value {
    if s.is_empty() { Value::Null } else { json!(s) }
}

pub fn user(u: &User) -> Value {
    json!({
        "account": num(&u.account), "birthday": u.birthday, "blood": num(&u.blood), "city": u.city,
        "client_type": u.client_type, "college": u.college, "country": u.country,
        "email": u.email, "face": num(&u.face), "sex": u.gender, "homepage": u.homepage,
        "id": num(&u.id), "mobile": u.mobile, "name": u.nick, "occupation": u.occupation,
        "personal": u.personal, "phone": u.phone, "province": u.province,
        "uid": u.qq.0, "signature": u.signature, "state": u.state,
    })
}

pub fn friend(f: &Friend) -> Value {
    json!({
        "category": f.category, "client_type": f.client_type, "face": num(&f.face), "flag": num(&f.flag),
        "id": num(&f.id), "is_vip": num(&f.is_vip), "markname": opt(&f.markname), "name": f.nick,
        "uid": f.qq.0, "state": f.state, "vip_level": num(&f.vip_level),
    })
}

pub fn member(m: &GroupMember, _g: &Group) -> Value {
    json!({
        "bad_record": num(&m.bad_record), "card": opt(&m.card), "city": m.city,
        "client_type": m.client_type, "country": m.country, "sex": m.gender, "id": num(&m.id),
        "join_time": num(&m.join_time), "last_speak_time": num(&m.last_speak_time),
        "level": m.level, "name": m.nick, "province": m.province, "qage": num(&m.qage),
        "uid": m.qq.0, "role": m.role.as_str(), "state": m.state,
    })
}

/// A group; `with_members` adds the `member` array.
pub fn group(g: &Group, with_members: bool) -> Value {
    let owner_id = g
        .members
        .iter()
        .find(|m| m.role == crate::model::MemberRole::Owner)
        .map_or(Value::Null, |m| num(&m.id));
    let mut v = json!({
        "code": num(&g.gcode), "createtime": num(&g.gcreatetime), "id": num(&g.gid),
        "level": num(&g.glevel), "markname": opt(&g.gmarkname), "memo": g.gmemo, "name": g.gname,
        "uid": g.gnumber.0, "owner_id": owner_id, "owner_uid": num(&g.gowner),
        "role": g.gtype.as_str(), "max_member": Value::Null, "max_admin": Value::Null,
    });
    if with_members {
        v["member"] = Value::Array(g.members.iter().map(|m| member(m, g)).collect());
    }
    v
}

pub fn discuss_member(m: &DiscussMember, _d: &Discuss) -> Value {
    json!({
        "client_type": m.client_type, "id": num(&m.id), "name": m.nick, "uid": m.qq.0, "state": m.state,
    })
}

pub fn discuss(d: &Discuss) -> Value {
    json!({
        "id": num(&d.did), "name": d.dname, "owner_id": num(&d.downer),
        "member": d.members.iter().map(|m| discuss_member(m, d)).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{GroupNumber, Qq};

    #[test]
    fn v2_renames_fields_and_uses_numbers() {
        let f = Friend {
            id: "9".into(),
            qq: Qq(5),
            nick: "n".into(),
            ..Friend::default()
        };
        let v = friend(&f);
        assert_eq!(
            (v["id"].clone(), v["uid"].clone(), v["name"].clone()),
            (json!(9), json!(5), json!("n"))
        );
        assert_eq!(v["markname"], Value::Null);
        assert!(v.get("qq").is_none() && v.get("nick").is_none());
        let g = Group {
            gnumber: GroupNumber(7),
            gid: "11".into(),
            ..Group::default()
        };
        let v = group(&g, false);
        assert_eq!(
            (v["uid"].clone(), v["id"].clone(), v["role"].clone()),
            (json!(7), json!(11), json!("attend"))
        );
    }
}
