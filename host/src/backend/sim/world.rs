//! The simulator's world file: the account, its friends, groups and
//! discussions (JSON, or TOML by extension).
//!
//! Fields not given get the seed's example values or `""`; session ids are
//! never in the file (the session makes them at each login). A malformed file
//! is an error that names the file, the line and what is wrong.

use std::path::Path;

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::model::{
    Discuss, DiscussMember, Friend, Group, GroupMember, GroupNumber, GroupRole, MemberRole, Qq,
    Roster, User,
};

/// The world as the simulator keeps it: contacts without session ids, each
/// list in the file's order and indexed by number.
#[derive(Debug, Clone)]
pub struct World {
    pub user: User,
    pub friends: Roster<Friend>,
    pub groups: Roster<Group>,
    pub discusses: Roster<Discuss>,
}

impl World {
    /// Reads a world file; `.toml` files are TOML, anything else JSON.
    pub fn load(path: &Path) -> anyhow::Result<World> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read world file {}", path.display()))?;
        let is_toml = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
        let file = if is_toml {
            toml_file(&text)
        } else {
            json_file(&text)
        }
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        file.into_world()
            .with_context(|| format!("world file {}", path.display()))
    }

    /// Parses a world from JSON text (used for the embedded default).
    pub fn from_json(text: &str) -> anyhow::Result<World> {
        json_file(text).map_err(anyhow::Error::msg)?.into_world()
    }

    /// Parses a world from TOML text.
    pub fn from_toml(text: &str) -> anyhow::Result<World> {
        toml_file(text).map_err(anyhow::Error::msg)?.into_world()
    }

    /// The embedded default world, built from the seed's examples.
    pub fn default_world() -> World {
        // The text is part of the binary and covered by a unit test.
        Self::from_json(DEFAULT_WORLD).unwrap_or_else(|e| panic!("embedded default world: {e:#}"))
    }
}

/// The file's structure from JSON; the error says where it broke.
fn json_file(text: &str) -> Result<WorldFile, String> {
    serde_json::from_str(text).map_err(|e| format!("line {} column {}: {e}", e.line(), e.column()))
}

/// The file's structure from TOML; the error says on which line.
fn toml_file(text: &str) -> Result<WorldFile, String> {
    toml::from_str(text).map_err(|e| crate::toml_error::describe(text, &e))
}

/// The seed's account 小灰 / 1234567, its two friends, a group with an owner,
/// an admin and members (the bot is an admin there), a group where the bot is
/// only a member, and a discussion of three.
pub const DEFAULT_WORLD: &str = include_str!("default_world.json");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WorldFile {
    user: UserSpec,
    #[serde(default)]
    friends: Vec<FriendSpec>,
    #[serde(default)]
    groups: Vec<GroupSpec>,
    #[serde(default)]
    discusses: Vec<DiscussSpec>,
}

/// A string field that defaults to a given text.
macro_rules! or {
    ($v:expr, $d:expr) => {
        $v.unwrap_or_else(|| $d.to_string())
    };
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserSpec {
    qq: u64,
    nick: Option<String>,
    account: Option<String>,
    birthday: Option<String>,
    blood: Option<String>,
    city: Option<String>,
    client_type: Option<String>,
    college: Option<String>,
    country: Option<String>,
    email: Option<String>,
    gender: Option<String>,
    homepage: Option<String>,
    mobile: Option<String>,
    occupation: Option<String>,
    personal: Option<String>,
    phone: Option<String>,
    province: Option<String>,
    signature: Option<String>,
    state: Option<String>,
    face: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FriendSpec {
    qq: u64,
    nick: Option<String>,
    markname: Option<String>,
    category: Option<String>,
    client_type: Option<String>,
    face: Option<String>,
    flag: Option<String>,
    is_vip: Option<String>,
    state: Option<String>,
    vip_level: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupSpec {
    gnumber: u64,
    gname: Option<String>,
    gmarkname: Option<String>,
    gtype: Option<String>,
    gmemo: Option<String>,
    gcreatetime: Option<String>,
    glevel: Option<String>,
    #[serde(default)]
    members: Vec<MemberSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberSpec {
    qq: u64,
    nick: Option<String>,
    card: Option<String>,
    role: Option<String>,
    bad_record: Option<String>,
    city: Option<String>,
    client_type: Option<String>,
    country: Option<String>,
    gender: Option<String>,
    join_time: Option<String>,
    last_speak_time: Option<String>,
    level: Option<String>,
    province: Option<String>,
    qage: Option<String>,
    state: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DiscussSpec {
    dname: Option<String>,
    #[serde(default)]
    members: Vec<DiscussMemberSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DiscussMemberSpec {
    qq: u64,
    nick: Option<String>,
    client_type: Option<String>,
    state: Option<String>,
}

impl WorldFile {
    fn into_world(self) -> anyhow::Result<World> {
        let u = self.user;
        let user = User {
            id: String::new(),
            qq: Qq(u.qq),
            nick: or!(u.nick, "小灰"),
            account: or!(u.account, u.qq),
            birthday: or!(u.birthday, "1990-01-01"),
            blood: or!(u.blood, ""),
            city: or!(u.city, ""),
            client_type: or!(u.client_type, "web"),
            college: or!(u.college, ""),
            country: or!(u.country, ""),
            email: or!(u.email, ""),
            gender: or!(u.gender, ""),
            homepage: or!(u.homepage, ""),
            mobile: or!(u.mobile, ""),
            occupation: or!(u.occupation, ""),
            personal: or!(u.personal, ""),
            phone: or!(u.phone, ""),
            province: or!(u.province, ""),
            signature: or!(u.signature, ""),
            state: or!(u.state, "online"),
            face: or!(u.face, "0"),
        };
        let mut seen = std::collections::HashSet::new();
        let mut friends = Vec::with_capacity(self.friends.len());
        for f in self.friends {
            if !seen.insert(f.qq) {
                bail!("friend {} is listed twice", f.qq);
            }
            friends.push(Friend {
                id: String::new(),
                qq: Qq(f.qq),
                nick: or!(f.nick, f.qq),
                markname: or!(f.markname, ""),
                category: or!(f.category, "我的好友"),
                client_type: or!(f.client_type, "unknown"),
                face: or!(f.face, "0"),
                flag: or!(f.flag, "0"),
                is_vip: or!(f.is_vip, "0"),
                state: or!(f.state, "offline"),
                vip_level: or!(f.vip_level, "0"),
            });
        }
        let mut groups = Vec::with_capacity(self.groups.len());
        let mut seen_groups = std::collections::HashSet::new();
        for g in self.groups {
            if !seen_groups.insert(g.gnumber) {
                bail!("group {} is listed twice", g.gnumber);
            }
            let gtype = match g.gtype.as_deref() {
                None | Some("attend") => GroupRole::Attend,
                Some("manage") => GroupRole::Manage,
                Some("create") => GroupRole::Create,
                Some(other) => bail!(
                    "group {}: gtype {other:?} is not one of attend, manage, create",
                    g.gnumber
                ),
            };
            let mut members = Vec::with_capacity(g.members.len());
            let mut seen_members = std::collections::HashSet::new();
            for m in g.members {
                if !seen_members.insert(m.qq) {
                    bail!("group {}: member {} is listed twice", g.gnumber, m.qq);
                }
                let role = match m.role.as_deref() {
                    None | Some("member") => MemberRole::Member,
                    Some("admin") => MemberRole::Admin,
                    Some("owner") => MemberRole::Owner,
                    Some(other) => bail!(
                        "group {} member {}: role {other:?} is not one of owner, admin, member",
                        g.gnumber,
                        m.qq
                    ),
                };
                members.push(GroupMember {
                    id: String::new(),
                    qq: Qq(m.qq),
                    nick: or!(m.nick, m.qq),
                    card: or!(m.card, ""),
                    role,
                    bad_record: or!(m.bad_record, "0"),
                    city: or!(m.city, ""),
                    client_type: or!(m.client_type, "unknown"),
                    country: or!(m.country, ""),
                    gender: or!(m.gender, ""),
                    join_time: or!(m.join_time, "0"),
                    last_speak_time: or!(m.last_speak_time, "0"),
                    level: or!(m.level, ""),
                    province: or!(m.province, ""),
                    qage: or!(m.qage, "0"),
                    state: or!(m.state, "offline"),
                });
            }
            // The account itself is a member of every group it is in; add it
            // when the file leaves it out, with the role its gtype implies.
            if !members.iter().any(|m| m.qq == user.qq) {
                members.push(GroupMember {
                    qq: user.qq,
                    nick: user.nick.clone(),
                    role: match gtype {
                        GroupRole::Create => MemberRole::Owner,
                        GroupRole::Manage => MemberRole::Admin,
                        GroupRole::Attend => MemberRole::Member,
                    },
                    bad_record: "0".into(),
                    client_type: "web".into(),
                    join_time: "0".into(),
                    last_speak_time: "0".into(),
                    qage: "0".into(),
                    state: "online".into(),
                    ..GroupMember::default()
                });
            }
            let gowner = members
                .iter()
                .find(|m| m.role == MemberRole::Owner)
                .map(|m| m.qq.to_string())
                .unwrap_or_default();
            groups.push(Group {
                gid: String::new(),
                gcode: String::new(),
                gnumber: GroupNumber(g.gnumber),
                gname: or!(g.gname, g.gnumber),
                gmarkname: or!(g.gmarkname, ""),
                gtype,
                gowner,
                gmemo: or!(g.gmemo, ""),
                gcreatetime: or!(g.gcreatetime, "0"),
                glevel: or!(g.glevel, "0"),
                members: members.into(),
            });
        }
        let discusses = self
            .discusses
            .into_iter()
            .enumerate()
            .map(|(i, d)| Discuss {
                did: String::new(),
                key: i as u64 + 1,
                dname: or!(d.dname, format!("讨论组{}", i + 1)),
                downer: String::new(),
                members: d
                    .members
                    .into_iter()
                    .map(|m| DiscussMember {
                        id: String::new(),
                        qq: Qq(m.qq),
                        nick: or!(m.nick, m.qq),
                        client_type: or!(m.client_type, "unknown"),
                        state: or!(m.state, "offline"),
                    })
                    .collect(),
            })
            .collect();
        Ok(World {
            user,
            friends: friends.into(),
            groups: groups.into(),
            discusses,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_world_is_the_seed_example() {
        let w = World::default_world();
        assert_eq!(w.user.qq, Qq(1234567));
        assert_eq!(w.user.nick, "小灰");
        assert_eq!(w.friends.len(), 2);
        assert_eq!(w.friends[0].nick, "测试帐号1");
        assert!(
            w.groups
                .iter()
                .any(|g| g.members.iter().any(|m| m.role == MemberRole::Owner))
        );
        assert_eq!(w.discusses[0].members.len(), 3);
    }

    #[test]
    fn malformed_json_names_file_and_line() {
        let dir = std::env::temp_dir().join(format!("openqq-world-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.json");
        std::fs::write(
            &path,
            "{\n  \"user\": {\"qq\": 1},\n  \"friends\": [ {\"qq\": \"x\"} ]\n}",
        )
        .unwrap();
        let err = format!("{:#}", World::load(&path).unwrap_err());
        assert!(err.contains("bad.json"), "{err}");
        assert!(err.contains("line 3"), "{err}");
    }

    #[test]
    fn unknown_field_and_bad_role_are_errors() {
        assert!(World::from_json(r#"{"user":{"qq":1,"nik":"x"}}"#).is_err());
        let e = World::from_json(
            r#"{"user":{"qq":1},"groups":[{"gnumber":5,"members":[{"qq":2,"role":"boss"}]}]}"#,
        )
        .unwrap_err();
        assert!(format!("{e:#}").contains("boss"));
    }

    #[test]
    fn toml_worlds_load_and_report_lines() {
        let dir = std::env::temp_dir().join(format!("openqq-world-t-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("w.toml");
        std::fs::write(
            &path,
            "[user]\nqq = 7\n\n[[friends]]\nqq = 8\nnick = \"a\"\n",
        )
        .unwrap();
        let w = World::load(&path).unwrap();
        assert_eq!(w.friends[0].nick, "a");
        std::fs::write(&path, "[user]\nqq = 7\n\n[[friends]]\nqq = \"eight\"\n").unwrap();
        let err = format!("{:#}", World::load(&path).unwrap_err());
        assert!(err.contains("line 5"), "{err}");
    }
}

#[cfg(test)]
#[path = "world_props.rs"]
mod props;
