//! The JSON that clients get from the contact routes, byte for byte, in both
//! dialects, against `golden.txt`.
//!
//! `golden.txt` was written by the renderer that built `serde_json::Value`
//! trees, before the shapes became typed views; it pins field names, their
//! order (alphabetical, as a `Value` map wrote them), which values are strings,
//! numbers or `null`, and escaping. A deliberate change to a shape edits it.

use serde::Serialize;

use crate::backend::sim::World;
use crate::backend::{IdScheme, LoginSnapshot};
use crate::model::{Discuss, DiscussMember, Friend, Group, GroupMember, GroupNumber, Qq};
use crate::render::{self, Dialect, Partner};
use crate::session::Contacts;

/// One title line (`# v1 get_user_info`) and one line of JSON per answer.
const GOLDEN: &str = include_str!("golden.txt");

/// Text that JSON must escape, and text beyond the Basic Multilingual Plane.
const ODD: &str = "引号\"反斜杠\\换行\n制表\t控制\u{1}表情😀";

/// The default world, with ids equal to numbers (so the text is stable),
/// and contacts whose fields are empty, odd or not numbers.
fn contacts() -> Contacts {
    let w = World::default_world();
    let mut snap = LoginSnapshot {
        user: w.user,
        friends: w.friends,
        groups: w.groups,
        discusses: w.discusses,
    };
    snap.user.blood = String::new();
    snap.user.face = "x1".into();
    snap.user.signature = ODD.into();
    snap.friends.upsert(Friend {
        qq: Qq(42),
        nick: ODD.into(),
        face: String::new(),
        flag: "abc".into(),
        is_vip: "007".into(),
        vip_level: "18446744073709551616".into(),
        ..Friend::default()
    });
    snap.groups.upsert(Group {
        gnumber: GroupNumber(43),
        gname: ODD.into(),
        gmemo: ODD.into(),
        glevel: "x".into(),
        members: vec![GroupMember {
            qq: Qq(44),
            nick: ODD.into(),
            qage: "abc".into(),
            ..GroupMember::default()
        }]
        .into(),
        ..Group::default()
    });
    snap.discusses.upsert(Discuss {
        key: 9,
        dname: ODD.into(),
        ..Discuss::default()
    });
    snap.discusses.upsert(Discuss {
        key: 10,
        members: vec![DiscussMember {
            qq: Qq(45),
            nick: ODD.into(),
            ..DiscussMember::default()
        }]
        .into(),
        ..Discuss::default()
    });
    Contacts::from_login(snap, IdScheme::Numbers, 1)
}

/// Each route's answer for `c`, as the route writes it.
fn answers(c: &Contacts, d: Dialect) -> Vec<(&'static str, String)> {
    fn text(v: &impl Serialize) -> String {
        serde_json::to_string(v).unwrap()
    }
    let g = c.group(GroupNumber(552603)).unwrap();
    let member = g.member_by_qq(Qq(45678)).unwrap();
    vec![
        ("get_user_info", text(&render::user(&c.user, d))),
        (
            "get_friend_info",
            text(&render::friends(c.friends.iter(), d)),
        ),
        (
            "get_group_info",
            text(&render::groups(c.groups.iter(), true, d)),
        ),
        (
            "get_group_basic_info",
            text(&render::groups(c.groups.iter(), false, d)),
        ),
        (
            "get_discuss_info",
            text(&render::discusses(c.discusses.iter(), d)),
        ),
        (
            "get_recent_info",
            text(&[
                Partner::Friend(render::friend(&c.friends[0], d)),
                Partner::Member(render::member(member, g, d)),
            ]),
        ),
    ]
}

#[test]
fn every_answer_is_byte_for_byte_what_the_value_renderer_wrote() {
    let c = contacts();
    let mut golden = GOLDEN.lines();
    for (d, name) in [(Dialect::V1, "v1"), (Dialect::V2, "v2")] {
        for (route, body) in answers(&c, d) {
            let title = golden.next().unwrap_or_default();
            assert_eq!(
                title,
                format!("# {name} {route}"),
                "golden.txt is out of step"
            );
            let old = golden.next().unwrap_or_default();
            if body != old {
                // Field for field first, for a readable failure; then order.
                let parse = |t: &str| serde_json::from_str::<serde_json::Value>(t).unwrap();
                assert_eq!(parse(&body), parse(old), "{name} {route}: a field differs");
                let at = body
                    .bytes()
                    .zip(old.bytes())
                    .take_while(|(a, b)| a == b)
                    .count();
                panic!(
                    "{name} {route}: same fields, other text from byte {at}:\n new …{}\n old …{}",
                    body.get(at.saturating_sub(40)..).unwrap_or(&body),
                    old.get(at.saturating_sub(40)..).unwrap_or(old),
                );
            }
        }
    }
    assert!(golden.next().is_none(), "golden.txt has more answers");
}
