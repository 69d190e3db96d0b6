//! Openqq's JSON shapes of objects in both dialects. The API answers with
//! them and the webhook reports with them; nothing else knows field names.
//!
//! Each shape is a typed view that borrows from the contacts and serialises
//! itself straight into the answer: no `serde_json::Value` tree, no string
//! per field. Lists (`friends`, `groups`, …) are written item by item.

pub mod v1;
pub mod v2;

#[cfg(test)]
mod golden;

use std::fmt::Display;

use serde::{Serialize, Serializer};

use crate::model::{Discuss, Friend, Group, GroupMember, User};

/// Which generation of the Openqq API the gateway speaks (`api_version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(try_from = "u8")]
pub enum Dialect {
    /// 1.x: the seed's API; every object value a string. The default.
    #[default]
    V1,
    /// 2.x: renamed fields, JSON numbers, `post_type`, events.
    V2,
}

impl TryFrom<u8> for Dialect {
    type Error = String;
    fn try_from(v: u8) -> Result<Self, String> {
        match v {
            1 => Ok(Dialect::V1),
            2 => Ok(Dialect::V2),
            other => Err(format!("api_version {other} is not 1 or 2")),
        }
    }
}

/// An object in one dialect's shape or the other's, written as itself.
#[derive(Serialize)]
#[serde(untagged)]
pub enum Shape<A, B> {
    V1(A),
    V2(B),
}

pub fn user(u: &User, d: Dialect) -> Shape<v1::User<'_>, v2::User<'_>> {
    match d {
        Dialect::V1 => Shape::V1(v1::user(u)),
        Dialect::V2 => Shape::V2(v2::user(u)),
    }
}

pub fn friend(f: &Friend, d: Dialect) -> Shape<v1::Friend<'_>, v2::Friend<'_>> {
    match d {
        Dialect::V1 => Shape::V1(v1::friend(f)),
        Dialect::V2 => Shape::V2(v2::friend(f)),
    }
}

pub fn group(g: &Group, with_members: bool, d: Dialect) -> Shape<v1::Group<'_>, v2::Group<'_>> {
    match d {
        Dialect::V1 => Shape::V1(v1::group(g, with_members)),
        Dialect::V2 => Shape::V2(v2::group(g, with_members)),
    }
}

pub fn member<'a>(
    m: &'a GroupMember,
    g: &'a Group,
    d: Dialect,
) -> Shape<v1::Member<'a>, v2::Member<'a>> {
    match d {
        Dialect::V1 => Shape::V1(v1::member(m, g)),
        Dialect::V2 => Shape::V2(v2::member(m, g)),
    }
}

pub fn discuss(x: &Discuss, d: Dialect) -> Shape<v1::Discuss<'_>, v2::Discuss<'_>> {
    match d {
        Dialect::V1 => Shape::V1(v1::discuss(x)),
        Dialect::V2 => Shape::V2(v2::discuss(x)),
    }
}

/// A recent private partner (`get_recent_info`): a friend or a group member.
#[derive(Serialize)]
#[serde(untagged)]
pub enum Partner<'a> {
    Friend(Shape<v1::Friend<'a>, v2::Friend<'a>>),
    Member(Shape<v1::Member<'a>, v2::Member<'a>>),
}

/// Friends as a JSON array (`get_friend_info`, `search_friend`).
pub fn friends<'a>(list: impl Iterator<Item = &'a Friend> + Clone, d: Dialect) -> impl Serialize {
    Array(list.map(move |f| friend(f, d)))
}

/// Groups as a JSON array, with or without their members.
pub fn groups<'a>(
    list: impl Iterator<Item = &'a Group> + Clone,
    with_members: bool,
    d: Dialect,
) -> impl Serialize {
    Array(list.map(move |g| group(g, with_members, d)))
}

/// Discussions as a JSON array (`get_discuss_info`).
pub fn discusses<'a>(
    list: impl Iterator<Item = &'a Discuss> + Clone,
    d: Dialect,
) -> impl Serialize {
    Array(list.map(move |x| discuss(x, d)))
}

/// A JSON array written item by item as the iterator yields them.
struct Array<I>(I);

impl<I> Serialize for Array<I>
where
    I: Iterator + Clone,
    I::Item: Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.clone())
    }
}

/// A parent's list (a group's members, a discussion's) as a JSON array, each
/// item in a view that also sees the parent.
pub struct Children<'a, P, T, V> {
    parent: &'a P,
    items: &'a [T],
    view: fn(&'a T, &'a P) -> V,
}

impl<'a, P, T, V> Children<'a, P, T, V> {
    fn new(parent: &'a P, items: &'a [T], view: fn(&'a T, &'a P) -> V) -> Self {
        Children {
            parent,
            items,
            view,
        }
    }
}

impl<P, T, V: Serialize> Serialize for Children<'_, P, T, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.items.iter().map(|x| (self.view)(x, self.parent)))
    }
}

/// Writes a number as a JSON string, as v1 does, without making a `String`.
fn text<T: Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}
