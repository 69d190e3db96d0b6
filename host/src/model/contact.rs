//! The account's contacts, with the fields Openqq clients read (spec §3).
//!
//! Display-only fields are kept as the strings QQ gave; identity fields are
//! typed. Every contact carries its per-login session id beside its stable
//! number (spec §2).

use super::ids::{GroupNumber, Qq};
use super::roster::Roster;

/// The logged-in account itself (`get_user_info`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct User {
    pub id: String,
    pub qq: Qq,
    pub nick: String,
    pub account: String,
    pub birthday: String,
    pub blood: String,
    pub city: String,
    pub client_type: String,
    pub college: String,
    pub country: String,
    pub email: String,
    pub gender: String,
    pub homepage: String,
    pub mobile: String,
    pub occupation: String,
    pub personal: String,
    pub phone: String,
    pub province: String,
    pub signature: String,
    pub state: String,
    pub face: String,
}

/// A friend of the account.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Friend {
    pub id: String,
    pub qq: Qq,
    pub nick: String,
    pub markname: String,
    pub category: String,
    pub client_type: String,
    pub face: String,
    pub flag: String,
    pub is_vip: String,
    pub state: String,
    pub vip_level: String,
}

impl Friend {
    /// The name shown for this friend: the remark if set, else the nick.
    pub fn display_name(&self) -> &str {
        if self.markname.is_empty() {
            &self.nick
        } else {
            &self.markname
        }
    }
}

/// The account's own role in a group (`gtype`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupRole {
    #[default]
    Attend,
    Manage,
    Create,
}

impl GroupRole {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupRole::Attend => "attend",
            GroupRole::Manage => "manage",
            GroupRole::Create => "create",
        }
    }

    /// Whether this role may mute and kick ordinary members.
    pub fn can_manage(self) -> bool {
        matches!(self, GroupRole::Manage | GroupRole::Create)
    }
}

/// A member's role in a group (`role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberRole {
    Owner,
    Admin,
    #[default]
    Member,
}

impl MemberRole {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberRole::Owner => "owner",
            MemberRole::Admin => "admin",
            MemberRole::Member => "member",
        }
    }
}

/// A group the account is in, with its members once they are known.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Group {
    pub gid: String,
    pub gcode: String,
    pub gnumber: GroupNumber,
    pub gname: String,
    pub gmarkname: String,
    pub gtype: GroupRole,
    /// The owner's QQ number as text; empty when unknown.
    pub gowner: String,
    pub gmemo: String,
    pub gcreatetime: String,
    pub glevel: String,
    /// In QQ's order, indexed by QQ number.
    pub members: Roster<GroupMember>,
}

impl Group {
    /// The member whose role is owner, once members are known.
    pub fn owner(&self) -> Option<&GroupMember> {
        self.members.iter().find(|m| m.role == MemberRole::Owner)
    }

    /// v1's `gowner`: the owner's per-login id, as the original took it from
    /// the group's info; the owner's number while the owner is not among the
    /// known members.
    pub fn gowner_id(&self) -> &str {
        self.owner().map_or(&self.gowner, |m| &m.id)
    }

    pub fn member_by_qq(&self, qq: Qq) -> Option<&GroupMember> {
        self.members.get(qq)
    }

    pub fn member_by_id(&self, id: &str) -> Option<&GroupMember> {
        self.members.iter().find(|m| m.id == id)
    }
}

/// A member of a group.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupMember {
    pub id: String,
    pub qq: Qq,
    pub nick: String,
    pub card: String,
    pub role: MemberRole,
    pub bad_record: String,
    pub city: String,
    pub client_type: String,
    pub country: String,
    pub gender: String,
    pub join_time: String,
    pub last_speak_time: String,
    pub level: String,
    pub province: String,
    pub qage: String,
    pub state: String,
}

impl GroupMember {
    /// The name shown in the group: the card if set, else the nick.
    pub fn display_name(&self) -> &str {
        if self.card.is_empty() {
            &self.nick
        } else {
            &self.card
        }
    }
}

/// A discussion group. Discussions have no stable number: `did` is all there
/// is, so the backend's own `key` stands in for a number.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Discuss {
    pub did: String,
    /// The backend's stable key for this discussion (never shown to clients).
    pub key: u64,
    pub dname: String,
    /// The owner's session id; empty when unknown.
    pub downer: String,
    /// In QQ's order, indexed by QQ number.
    pub members: Roster<DiscussMember>,
}

impl Discuss {
    pub fn member_by_qq(&self, qq: Qq) -> Option<&DiscussMember> {
        self.members.get(qq)
    }
}

/// A member of a discussion.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DiscussMember {
    pub id: String,
    pub qq: Qq,
    pub nick: String,
    pub client_type: String,
    pub state: String,
}
