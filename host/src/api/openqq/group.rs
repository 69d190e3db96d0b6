//! Group moderation: `shutup_group_member` and `kick_group_member` (spec §4).
//!
//! The checks run in the original's order: the group first (`object not
//! found`), then `time` (400), then each member (100 / 200), then QQ's rules
//! (201 `failure`).

use axum::extract::State;
use serde_json::json;

use crate::api::error::{ApiError, OpenqqJson};
use crate::api::extract::OpenqqParams;
use crate::api::state::AppState;
use crate::session::{Lookup, MemberList};

fn group_lookup(p: &OpenqqParams) -> Lookup {
    let mut l = Lookup::new();
    for (param, attr) in [
        ("gid", "gid"),
        ("gnumber", "gnumber"),
        ("group_id", "gid"),
        ("group_uid", "gnumber"),
    ] {
        if let Some(v) = p.get(param) {
            l = l.with(attr, v);
        }
    }
    l
}

/// `member_id` wins over `member_qq` (v2: `member_uid`); comma lists.
fn members(p: &OpenqqParams) -> MemberList {
    let split = |v: &str| {
        v.split(',')
            .map(|s| s.trim().to_string())
            .collect::<Vec<_>>()
    };
    match p.raw("member_id") {
        Some(ids) => MemberList::Ids(split(ids)),
        None => MemberList::Qqs(
            p.raw("member_qq")
                .or(p.raw("member_uid"))
                .map(split)
                .unwrap_or_default(),
        ),
    }
}

fn success() -> OpenqqJson {
    OpenqqJson(json!({"code": 0, "status": "success"}))
}

pub async fn shutup_group_member(
    State(s): State<AppState>,
    p: OpenqqParams,
) -> Result<OpenqqJson, ApiError> {
    let group = group_lookup(&p);
    if s.session.contacts().find_group(&group).is_none() {
        return Err(ApiError::object_not_found());
    }
    let seconds = p
        .raw("time")
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse::<u64>().ok())
        .ok_or_else(|| ApiError::bad_request("shutup time missing or error"))?;
    // v2 (2.2.1+) counts `time` in minutes.
    let seconds = match s.dialect {
        crate::render::Dialect::V1 => seconds,
        crate::render::Dialect::V2 => seconds.saturating_mul(60),
    };
    s.session
        .shutup(&group, &members(&p), seconds)
        .await
        .map_err(ApiError::from_moderation)?;
    Ok(success())
}

pub async fn kick_group_member(
    State(s): State<AppState>,
    p: OpenqqParams,
) -> Result<OpenqqJson, ApiError> {
    s.session
        .kick(&group_lookup(&p), &members(&p))
        .await
        .map_err(ApiError::from_moderation)?;
    Ok(success())
}
