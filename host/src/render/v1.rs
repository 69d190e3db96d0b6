//! The v1 shapes of Openqq objects: every value a JSON string (spec §3).

use serde_json::{Map, Value, json};

use crate::model::{Discuss, DiscussMember, Friend, Group, GroupMember, User};

pub fn user(u: &User) -> Value {
    json!({
        "account": u.account, "birthday": u.birthday, "blood": u.blood, "city": u.city,
        "client_type": u.client_type, "college": u.college, "country": u.country,
        "email": u.email, "face": u.face, "gender": u.gender, "homepage": u.homepage,
        "id": u.id, "mobile": u.mobile, "nick": u.nick, "occupation": u.occupation,
        "personal": u.personal, "phone": u.phone, "province": u.province,
        "qq": u.qq.to_string(), "signature": u.signature, "state": u.state,
    })
}

pub fn friend(f: &Friend) -> Value {
    json!({
        "category": f.category, "client_type": f.client_type, "face": f.face, "flag": f.flag,
        "id": f.id, "is_vip": f.is_vip, "markname": f.markname, "nick": f.nick,
        "qq": f.qq.to_string(), "state": f.state, "vip_level": f.vip_level,
    })
}

pub fn member(m: &GroupMember, g: &Group) -> Value {
    json!({
        "bad_record": m.bad_record, "card": m.card, "city": m.city, "client_type": m.client_type,
        "country": m.country, "gender": m.gender, "gnumber": g.gnumber.to_string(), "id": m.id,
        "join_time": m.join_time, "last_speak_time": m.last_speak_time, "level": m.level,
        "nick": m.nick, "province": m.province, "qage": m.qage, "qq": m.qq.to_string(),
        "role": m.role.as_str(), "state": m.state,
    })
}

/// A group; `with_members` adds the `member` array (`get_group_info`).
pub fn group(g: &Group, with_members: bool) -> Value {
    let mut v = json!({
        "gcode": g.gcode, "gcreatetime": g.gcreatetime, "gid": g.gid, "glevel": g.glevel,
        "gmarkname": g.gmarkname, "gmemo": g.gmemo, "gname": g.gname,
        "gnumber": g.gnumber.to_string(), "gowner": g.gowner, "gtype": g.gtype.as_str(),
    });
    if with_members {
        v["member"] = Value::Array(g.members.iter().map(|m| member(m, g)).collect());
    }
    v
}

pub fn discuss_member(m: &DiscussMember, d: &Discuss) -> Value {
    json!({
        "client_type": m.client_type, "did": d.did, "dname": d.dname, "downer": d.downer,
        "id": m.id, "nick": m.nick, "qq": m.qq.to_string(), "state": m.state,
    })
}

pub fn discuss(d: &Discuss) -> Value {
    let mut v = Map::new();
    v.insert("did".into(), json!(d.did));
    v.insert("dname".into(), json!(d.dname));
    v.insert("downer".into(), json!(d.downer));
    v.insert(
        "member".into(),
        Value::Array(d.members.iter().map(|m| discuss_member(m, d)).collect()),
    );
    Value::Object(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{GroupNumber, Qq};

    #[test]
    fn v1_values_are_strings() {
        let f = Friend {
            id: "9".into(),
            qq: Qq(5),
            nick: "n".into(),
            ..Friend::default()
        };
        assert_eq!(friend(&f)["qq"], json!("5"));
        let g = Group {
            gnumber: GroupNumber(7),
            ..Group::default()
        };
        assert_eq!(group(&g, false)["gnumber"], json!("7"));
        assert!(group(&g, false).get("member").is_none());
        assert_eq!(group(&g, true)["member"], json!([]));
    }
}
