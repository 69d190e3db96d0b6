//! Openqq's JSON shapes of objects in both dialects. The API answers with
//! them and the webhook reports with them; nothing else knows field names.

pub mod v1;
pub mod v2;

use serde_json::Value;

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

pub fn user(u: &User, d: Dialect) -> Value {
    match d {
        Dialect::V1 => v1::user(u),
        Dialect::V2 => v2::user(u),
    }
}

pub fn friend(f: &Friend, d: Dialect) -> Value {
    match d {
        Dialect::V1 => v1::friend(f),
        Dialect::V2 => v2::friend(f),
    }
}

pub fn group(g: &Group, with_members: bool, d: Dialect) -> Value {
    match d {
        Dialect::V1 => v1::group(g, with_members),
        Dialect::V2 => v2::group(g, with_members),
    }
}

pub fn member(m: &GroupMember, g: &Group, d: Dialect) -> Value {
    match d {
        Dialect::V1 => v1::member(m, g),
        Dialect::V2 => v2::member(m, g),
    }
}

pub fn discuss(x: &Discuss, d: Dialect) -> Value {
    match d {
        Dialect::V1 => v1::discuss(x),
        Dialect::V2 => v2::discuss(x),
    }
}
