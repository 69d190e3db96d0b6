//! OneBot's records → Openqq objects (`spec/onebot.md` §4.2): the
//! account, a friend, a member, a group with its members. Pure.

use crate::backend::onebot::codec::{
    FriendEntry, GroupEntry, LoginInfo, MemberEntry, StrangerInfo,
};
use crate::model::{Friend, Group, GroupMember, GroupRole, MemberRole, Qq, Roster, User};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::onebot::codec::{Flag, Id, Text};
    use crate::backend::onebot::contacts::fixtures::{entry, snap};

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
}
