//! The account and its contacts as OneBot reports them: reading them
//! (`fetch`, here), mapping OneBot's records to Openqq objects (`map.rs`),
//! and the backend's own copy (`cache.rs`), which renders `@name`s, judges
//! repeated notices and tells what a background refresh changed.
//!
//! Only whole lists are read (`get_friend_list`, `get_group_list`,
//! `get_group_member_list` with `no_cache: false`), never one call per
//! member: NapCat's per-member lookup takes seconds each (NapCat#272).

mod cache;
mod map;

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;

use super::codec::{self, FriendEntry, GroupEntry, LoginInfo, MemberEntry, Status, StrangerInfo};
use super::link::Link;
use crate::backend::{BackendError, LoginSnapshot};
use crate::model::{GroupMember, Roster};

pub use cache::Cache;
pub use map::member;
use map::{friend, group, user};

/// Member lists fetched at once: enough to hide latency, few enough not to
/// look like a flood to the implementation.
const MEMBER_FETCHES: usize = 4;

/// Reads everything the session needs. A group whose member list cannot be
/// read keeps the members in `previous` (or none), so one slow group does
/// not fail a login.
///
/// # Errors
/// When the account, the friend list or the group list cannot be read.
pub async fn fetch(
    link: &Link,
    timeout: Duration,
    previous: &LoginSnapshot,
) -> Result<LoginSnapshot, BackendError> {
    let login: LoginInfo = codec::object(link.call("get_login_info", json!({}), timeout).await?)?;
    let me = login.user_id.qq().ok_or_else(|| {
        BackendError::Protocol("get_login_info gave no user_id (is QQ logged in?)".into())
    })?;
    // Extras only: a failure leaves the fields empty.
    let info: StrangerInfo = match link
        .call(
            "get_stranger_info",
            json!({"user_id": me.0, "no_cache": false}),
            timeout,
        )
        .await
    {
        Ok(data) => codec::object(data).unwrap_or_default(),
        Err(e) => {
            tracing::debug!(backend = "onebot", error = %e, "get_stranger_info for the account failed");
            StrangerInfo::default()
        }
    };
    let online = match link.call("get_status", json!({}), timeout).await {
        Ok(data) => codec::object::<Status>(data)
            .ok()
            .and_then(|s| s.online)
            .map(|f| f.0),
        Err(_) => None,
    };

    let (friends, skipped) = codec::list::<FriendEntry>(
        link.call("get_friend_list", json!({"no_cache": false}), timeout)
            .await?,
    )?;
    warn_skipped("get_friend_list", skipped);
    let (groups, skipped) = codec::list::<GroupEntry>(
        link.call("get_group_list", json!({"no_cache": false}), timeout)
            .await?,
    )?;
    warn_skipped("get_group_list", skipped);

    // Member lists are the slow part (MrXiaoM/Overflow#63): twice the time.
    let member_timeout = timeout.saturating_mul(2);
    let lists: Vec<(GroupEntry, Result<Roster<GroupMember>, BackendError>)> =
        futures_util::stream::iter(groups)
            .map(|g| async move {
                let params = json!({"group_id": g.group_id.0, "no_cache": false});
                let members = link
                    .call("get_group_member_list", params, member_timeout)
                    .await
                    .and_then(codec::list::<MemberEntry>)
                    .map(|(entries, skipped)| {
                        warn_skipped("get_group_member_list", skipped);
                        entries.iter().filter_map(member).collect()
                    });
                (g, members)
            })
            .buffered(MEMBER_FETCHES)
            .collect()
            .await;
    let mut out_groups = Vec::new();
    for (entry, members) in lists {
        let members = match members {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(
                    backend = "onebot",
                    group = entry.group_id.0,
                    error = %e,
                    "cannot read the member list; keeping the last one known"
                );
                entry
                    .group_id
                    .group()
                    .and_then(|n| previous.groups.get(n))
                    .map(|g| g.members.clone())
                    .unwrap_or_default()
            }
        };
        out_groups.extend(group(&entry, members, me));
    }
    Ok(LoginSnapshot {
        user: user(&login, &info, online),
        friends: friends.iter().filter_map(friend).collect(),
        groups: out_groups.into(),
        discusses: Roster::new(),
    })
}

fn warn_skipped(action: &str, skipped: usize) {
    if skipped > 0 {
        tracing::warn!(
            backend = "onebot",
            action,
            skipped,
            "entries that could not be read were left out"
        );
    }
}

/// A small account for the tests: me (10001, admin of group 552603), the
/// group's owner 1 and member 3, who is also a friend.
#[cfg(test)]
mod fixtures {
    use super::codec::{Id, Text};
    use super::*;
    use crate::model::Qq;

    pub fn entry(qq: i64, role: &str) -> MemberEntry {
        MemberEntry {
            user_id: Id(qq),
            nickname: Text(format!("n{qq}")),
            role: Text(role.into()),
            ..MemberEntry::default()
        }
    }

    pub fn snap() -> LoginSnapshot {
        let members: Roster<GroupMember> =
            [entry(1, "owner"), entry(10001, "admin"), entry(3, "member")]
                .iter()
                .filter_map(member)
                .collect();
        let g = GroupEntry {
            group_id: Id(552603),
            group_name: Text("G".into()),
            ..GroupEntry::default()
        };
        LoginSnapshot {
            user: user(
                &LoginInfo {
                    user_id: Id(10001),
                    nickname: Text("me".into()),
                },
                &StrangerInfo::default(),
                Some(true),
            ),
            friends: vec![
                friend(&FriendEntry {
                    user_id: Id(3),
                    nickname: Text("three".into()),
                    remark: Text("3号".into()),
                })
                .unwrap(),
            ]
            .into(),
            groups: vec![group(&g, members, Qq(10001)).unwrap()].into(),
            discusses: Roster::new(),
        }
    }
}
