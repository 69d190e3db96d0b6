//! The records in an action's `data`: login info, strangers, friends, groups,
//! members, status, a send's result. Every field defaults, and a list keeps
//! the entries that decode (`list`), so one odd entry never hides the rest.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::scalars::{Flag, Id, Text};
use crate::backend::BackendError;

/// `get_login_info`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct LoginInfo {
    pub user_id: Id,
    pub nickname: Text,
}

/// `get_stranger_info`: the standard fields plus the extensions we map
/// (NapCat `long_nick`, go-cqhttp `sign`, NapCat birthday parts).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct StrangerInfo {
    pub user_id: Id,
    pub nickname: Text,
    pub sex: Text,
    pub long_nick: Text,
    pub sign: Text,
    pub birthday_year: Id,
    pub birthday_month: Id,
    pub birthday_day: Id,
}

/// One entry of `get_friend_list`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct FriendEntry {
    pub user_id: Id,
    pub nickname: Text,
    pub remark: Text,
}

/// One entry of `get_group_list` (or `get_group_info`).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct GroupEntry {
    pub group_id: Id,
    pub group_name: Text,
    /// NapCat's own remark for the group.
    pub group_remark: Text,
    pub group_create_time: Text,
    pub group_level: Text,
}

/// One entry of `get_group_member_list` (or `get_group_member_info`).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct MemberEntry {
    pub user_id: Id,
    pub nickname: Text,
    pub card: Text,
    pub sex: Text,
    pub role: Text,
    pub join_time: Text,
    pub last_sent_time: Text,
    pub level: Text,
    pub unfriendly: Flag,
    pub area: Text,
}

/// `get_status`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Status {
    pub online: Option<Flag>,
}

/// `send_private_msg` / `send_group_msg`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct SendResult {
    pub message_id: Id,
}

/// A single object from `data` (`null` reads as all defaults).
///
/// # Errors
/// `Protocol` when `data` has the wrong shape.
pub fn object<T: DeserializeOwned + Default>(data: Value) -> Result<T, BackendError> {
    if data.is_null() {
        return Ok(T::default());
    }
    serde_json::from_value(data).map_err(|e| BackendError::Protocol(e.to_string()))
}

/// A list from `data`, keeping every entry that decodes: one odd entry must
/// not hide a whole friend list. Returns the entries and how many were
/// skipped.
///
/// # Errors
/// `Protocol` when `data` is not an array (`null` is an empty list).
pub fn list<T: DeserializeOwned>(data: Value) -> Result<(Vec<T>, usize), BackendError> {
    let items = match data {
        Value::Array(items) => items,
        Value::Null => Vec::new(),
        other => {
            return Err(BackendError::Protocol(format!(
                "expected a list, got {}",
                kind_of(&other)
            )));
        }
    };
    let total = items.len();
    let ok: Vec<T> = items
        .into_iter()
        .filter_map(|v| serde_json::from_value(v).ok())
        .collect();
    let skipped = total - ok.len();
    Ok((ok, skipped))
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn lists_keep_the_entries_that_decode() {
        let (friends, skipped): (Vec<FriendEntry>, usize) = list(json!([
            {"user_id": 1, "nickname": "a", "remark": null},
            {"user_id": "2", "nickname": 5},
            {"user_id": "two"}
        ]))
        .unwrap();
        assert_eq!(friends.len(), 2);
        assert_eq!(skipped, 1);
        assert_eq!(friends[1].nickname.0, "5");
        assert!(list::<FriendEntry>(json!({"x": 1})).is_err());
        assert_eq!(list::<FriendEntry>(Value::Null).unwrap().0.len(), 0);
        let m: MemberEntry =
            object(json!({"user_id": 1, "level": 3, "unfriendly": false, "role": "admin"}))
                .unwrap();
        assert_eq!(m.level.0, "3");
        assert_eq!(m.role.0, "admin");
    }
}
