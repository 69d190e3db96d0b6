//! Property tests of world files: any JSON or TOML text is a world or an
//! error with a message, never a panic; a generated valid world, written as
//! JSON and as TOML, reads back as the world it describes (the defaults
//! filled in as documented), the same from both.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::*;
use crate::props::{config, json_value};

/// A QQ or group number (TOML integers are `i64`).
fn number() -> impl Strategy<Value = u64> {
    1u64..100_000_000_000
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    prop::option::of("(?s).{0,8}")
}

#[derive(Debug, Clone)]
struct PersonSpec {
    qq: u64,
    nick: Option<String>,
    /// A friend's markname, a member's card.
    label: Option<String>,
    role: Option<&'static str>,
}

#[derive(Debug, Clone)]
struct GroupSpecGen {
    gnumber: u64,
    gname: Option<String>,
    gtype: Option<&'static str>,
    members: Vec<PersonSpec>,
}

#[derive(Debug, Clone)]
struct WorldSpec {
    qq: u64,
    nick: Option<String>,
    signature: Option<String>,
    friends: Vec<PersonSpec>,
    groups: Vec<GroupSpecGen>,
    discusses: Vec<(Option<String>, Vec<PersonSpec>)>,
}

/// People with distinct numbers, in any order.
fn people(max: usize) -> impl Strategy<Value = Vec<PersonSpec>> {
    prop::collection::btree_map(
        number(),
        (
            opt_text(),
            opt_text(),
            prop::option::of(prop::sample::select(vec!["owner", "admin", "member"])),
        ),
        0..max,
    )
    .prop_map(|m| {
        m.into_iter()
            .map(|(qq, (nick, label, role))| PersonSpec {
                qq,
                nick,
                label,
                role,
            })
            .collect::<Vec<_>>()
    })
    .prop_shuffle()
}

fn world_spec() -> impl Strategy<Value = WorldSpec> {
    let group = (
        opt_text(),
        prop::option::of(prop::sample::select(vec!["attend", "manage", "create"])),
        people(5),
    );
    (
        number(),
        opt_text(),
        opt_text(),
        people(4),
        prop::collection::btree_map(number(), group, 0..3),
        prop::collection::vec((opt_text(), people(3)), 0..3),
        any::<bool>(),
    )
        .prop_map(
            |(qq, nick, signature, friends, groups, discusses, self_in_group)| {
                let mut groups: Vec<GroupSpecGen> = groups
                    .into_iter()
                    .map(|(gnumber, (gname, gtype, members))| GroupSpecGen {
                        gnumber,
                        gname,
                        gtype,
                        members,
                    })
                    .collect();
                // Sometimes the account lists itself in its first group.
                if let Some(g) = groups.first_mut().filter(|_| self_in_group) {
                    g.members.retain(|m| m.qq != qq);
                    g.members.push(PersonSpec {
                        qq,
                        nick: None,
                        label: None,
                        role: Some("admin"),
                    });
                }
                WorldSpec {
                    qq,
                    nick,
                    signature,
                    friends,
                    groups,
                    discusses,
                }
            },
        )
}

fn put(obj: &mut Map<String, Value>, key: &str, v: &Option<String>) {
    if let Some(v) = v {
        obj.insert(key.into(), json!(v));
    }
}

impl WorldSpec {
    /// The file, as a JSON value (absent fields left out).
    fn file(&self) -> Value {
        let mut user = Map::new();
        user.insert("qq".into(), json!(self.qq));
        put(&mut user, "nick", &self.nick);
        put(&mut user, "signature", &self.signature);
        let friends: Vec<Value> = self
            .friends
            .iter()
            .map(|f| {
                let mut o = Map::new();
                o.insert("qq".into(), json!(f.qq));
                put(&mut o, "nick", &f.nick);
                put(&mut o, "markname", &f.label);
                Value::Object(o)
            })
            .collect();
        let groups: Vec<Value> = self
            .groups
            .iter()
            .map(|g| {
                let mut o = Map::new();
                o.insert("gnumber".into(), json!(g.gnumber));
                put(&mut o, "gname", &g.gname);
                put(&mut o, "gtype", &g.gtype.map(String::from));
                let members: Vec<Value> = g
                    .members
                    .iter()
                    .map(|m| {
                        let mut mo = Map::new();
                        mo.insert("qq".into(), json!(m.qq));
                        put(&mut mo, "nick", &m.nick);
                        put(&mut mo, "card", &m.label);
                        put(&mut mo, "role", &m.role.map(String::from));
                        Value::Object(mo)
                    })
                    .collect();
                o.insert("members".into(), Value::Array(members));
                Value::Object(o)
            })
            .collect();
        let discusses: Vec<Value> = self
            .discusses
            .iter()
            .map(|(dname, members)| {
                let mut o = Map::new();
                put(&mut o, "dname", dname);
                let members: Vec<Value> = members
                    .iter()
                    .map(|m| {
                        let mut mo = Map::new();
                        mo.insert("qq".into(), json!(m.qq));
                        put(&mut mo, "nick", &m.nick);
                        Value::Object(mo)
                    })
                    .collect();
                o.insert("members".into(), Value::Array(members));
                Value::Object(o)
            })
            .collect();
        json!({"user": user, "friends": friends, "groups": groups, "discusses": discusses})
    }

    /// Checks `w` against the spec and the documented defaults.
    fn check(&self, w: &World) -> Result<(), TestCaseError> {
        let or = |v: &Option<String>, d: String| v.clone().unwrap_or(d);
        prop_assert_eq!(w.user.qq, Qq(self.qq));
        prop_assert_eq!(&w.user.nick, &or(&self.nick, "小灰".into()));
        prop_assert_eq!(&w.user.signature, &or(&self.signature, String::new()));
        prop_assert_eq!(&w.user.account, &self.qq.to_string());
        prop_assert_eq!(w.friends.len(), self.friends.len());
        for (got, want) in w.friends.iter().zip(&self.friends) {
            prop_assert_eq!(got.qq, Qq(want.qq));
            prop_assert_eq!(&got.nick, &or(&want.nick, want.qq.to_string()));
            prop_assert_eq!(&got.markname, &or(&want.label, String::new()));
            prop_assert_eq!(&got.category, "我的好友");
            prop_assert!(got.id.is_empty());
        }
        prop_assert_eq!(w.groups.len(), self.groups.len());
        for (got, want) in w.groups.iter().zip(&self.groups) {
            prop_assert_eq!(got.gnumber, GroupNumber(want.gnumber));
            prop_assert_eq!(&got.gname, &or(&want.gname, want.gnumber.to_string()));
            let gtype = match want.gtype {
                Some("manage") => GroupRole::Manage,
                Some("create") => GroupRole::Create,
                _ => GroupRole::Attend,
            };
            prop_assert_eq!(got.gtype, gtype);
            let listed = want.members.iter().any(|m| m.qq == self.qq);
            prop_assert_eq!(got.members.len(), want.members.len() + usize::from(!listed));
            for (m, spec) in got.members.iter().zip(&want.members) {
                prop_assert_eq!(m.qq, Qq(spec.qq));
                prop_assert_eq!(&m.nick, &or(&spec.nick, spec.qq.to_string()));
                prop_assert_eq!(&m.card, &or(&spec.label, String::new()));
                let role = match spec.role {
                    Some("owner") => MemberRole::Owner,
                    Some("admin") => MemberRole::Admin,
                    _ => MemberRole::Member,
                };
                prop_assert_eq!(m.role, role);
            }
            if !listed {
                // The account is added last, with the role its gtype implies.
                let me = got.members.last().expect("the account");
                prop_assert_eq!(me.qq, Qq(self.qq));
                prop_assert_eq!(&me.nick, &w.user.nick);
                let role = match gtype {
                    GroupRole::Create => MemberRole::Owner,
                    GroupRole::Manage => MemberRole::Admin,
                    GroupRole::Attend => MemberRole::Member,
                };
                prop_assert_eq!(me.role, role);
            }
            let owner = got
                .members
                .iter()
                .find(|m| m.role == MemberRole::Owner)
                .map(|m| m.qq.to_string());
            prop_assert_eq!(&got.gowner, &owner.unwrap_or_default());
            prop_assert!(got.gid.is_empty() && got.gcode.is_empty());
        }
        prop_assert_eq!(w.discusses.len(), self.discusses.len());
        for (i, (got, (dname, members))) in w.discusses.iter().zip(&self.discusses).enumerate() {
            prop_assert_eq!(got.key, i as u64 + 1);
            prop_assert_eq!(&got.dname, &or(dname, format!("讨论组{}", i + 1)));
            let qqs: Vec<Qq> = got.members.iter().map(|m| m.qq).collect();
            let want: Vec<Qq> = members.iter().map(|m| Qq(m.qq)).collect();
            prop_assert_eq!(qqs, want);
        }
        Ok(())
    }
}

/// JSON in the shape of a world file, with members of any type.
fn world_shaped() -> impl Strategy<Value = Value> {
    let person = prop::collection::vec(
        (
            prop::sample::select(vec![
                "qq", "nick", "role", "card", "markname", "gtype", "gnumber", "members",
            ]),
            json_value(),
        ),
        0..4,
    )
    .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()));
    (
        person.clone(),
        prop::collection::vec(person.clone(), 0..3),
        prop::collection::vec(person, 0..3),
    )
        .prop_map(
            |(user, friends, groups)| json!({"user": user, "friends": friends, "groups": groups}),
        )
}

fn reads(r: anyhow::Result<World>) -> Result<(), TestCaseError> {
    if let Err(e) = r {
        let text = format!("{e:#}");
        prop_assert!(!text.trim().is_empty());
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn any_text_is_a_world_or_an_error(text in prop_oneof![
        any::<String>(),
        "[\\[\\]{}\":=,.a-z0-9 \n]{0,60}",
    ]) {
        reads(World::from_json(&text))?;
        reads(World::from_toml(&text))?;
    }

    #[test]
    fn world_shaped_json_of_any_types_is_a_world_or_an_error(v in world_shaped()) {
        reads(World::from_json(&v.to_string()))?;
        if let Ok(toml) = toml::to_string(&v) {
            reads(World::from_toml(&toml))?;
        }
    }

    #[test]
    fn a_generated_world_reads_back_from_json_and_toml(spec in world_spec()) {
        let file = spec.file();
        let from_json = World::from_json(&file.to_string()).map_err(|e| TestCaseError::fail(format!("{e:#}")))?;
        spec.check(&from_json)?;
        let toml = toml::to_string(&file).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let from_toml = World::from_toml(&toml).map_err(|e| TestCaseError::fail(format!("{e:#}\n{toml}")))?;
        spec.check(&from_toml)?;
        prop_assert_eq!(format!("{from_json:?}"), format!("{from_toml:?}"));
    }

    #[test]
    fn a_value_of_the_wrong_type_in_toml_is_refused_naming_its_key(
        spec in world_spec(),
        which in 0u8..4,
        wrong in prop::sample::select(vec![json!("x"), json!(-1), json!(1.5), json!([1]), json!({"a": 1}), json!(true)]),
    ) {
        let mut file = spec.file();
        let key = match which {
            0 => { file["user"]["qq"] = wrong.clone(); "qq" }
            1 => { file["user"]["nick"] = wrong.clone(); "nick" }
            2 if !spec.groups.is_empty() => { file["groups"][0]["gnumber"] = wrong.clone(); "gnumber" }
            _ if !spec.friends.is_empty() => { file["friends"][0]["markname"] = wrong.clone(); "markname" }
            _ => return Ok(()),
        };
        // A string where a string belongs is no defect.
        prop_assume!(!(wrong.is_string() && matches!(key, "nick" | "markname")));
        let toml = toml::to_string(&file).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let e = World::from_toml(&toml).expect_err("a wrong type");
        prop_assert!(format!("{e:#}").contains(&format!("`{key}`")) || format!("{e:#}").contains(&format!(".{key}`")), "{:#} does not name {}", e, key);
    }

    #[test]
    fn a_world_with_a_defect_is_refused_naming_it(spec in world_spec(), defect in 0u8..3, bad in "[a-z]{1,6}") {
        let mut file = spec.file();
        let named = match defect {
            0 => {
                let Some(f) = spec.friends.first() else { return Ok(()) };
                file["friends"].as_array_mut().expect("a list").push(json!({"qq": f.qq}));
                format!("friend {} is listed twice", f.qq)
            }
            1 => {
                let Some(g) = spec.groups.first() else { return Ok(()) };
                file["groups"][0]["gtype"] = json!(format!("x{bad}"));
                format!("group {}: gtype \"x{bad}\"", g.gnumber)
            }
            _ => {
                let Some(g) = spec.groups.iter().position(|g| !g.members.is_empty()) else { return Ok(()) };
                file["groups"][g]["members"][0]["role"] = json!(format!("x{bad}"));
                format!("role \"x{bad}\"")
            }
        };
        let e = World::from_json(&file.to_string()).expect_err("a defect");
        prop_assert!(format!("{e:#}").contains(&named), "{:#} does not say {}", e, named);
    }
}
