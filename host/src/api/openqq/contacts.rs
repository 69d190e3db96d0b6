//! Contact reads: `get_*_info` and `search_*` (spec §4).

use axum::body::Bytes;
use axum::extract::State;
use serde_json::Value;

use crate::api::error::{ApiError, OpenqqJson};
use crate::api::extract::OpenqqParams;
use crate::api::state::AppState;
use crate::render;
use crate::session::{Lookup, Recent};

// The get_* routes take no parameters, but they read (and ignore) the body:
// a request body left unread makes hyper close the keep-alive connection.

pub async fn get_user_info(State(s): State<AppState>, _body: Bytes) -> OpenqqJson {
    OpenqqJson(render::user(&s.session.contacts().user, s.dialect))
}

pub async fn get_friend_info(State(s): State<AppState>, _body: Bytes) -> OpenqqJson {
    OpenqqJson(Value::Array(
        s.session
            .contacts()
            .friends
            .iter()
            .map(|f| render::friend(f, s.dialect))
            .collect(),
    ))
}

pub async fn get_group_info(State(s): State<AppState>, _body: Bytes) -> OpenqqJson {
    let c = s.session.contacts();
    OpenqqJson(Value::Array(
        c.groups
            .iter()
            .map(|g| render::group(g, true, s.dialect))
            .collect(),
    ))
}

pub async fn get_group_basic_info(State(s): State<AppState>, _body: Bytes) -> OpenqqJson {
    let c = s.session.contacts();
    OpenqqJson(Value::Array(
        c.groups
            .iter()
            .map(|g| render::group(g, false, s.dialect))
            .collect(),
    ))
}

pub async fn get_discuss_info(State(s): State<AppState>, _body: Bytes) -> OpenqqJson {
    OpenqqJson(Value::Array(
        s.session
            .contacts()
            .discusses
            .iter()
            .map(|d| render::discuss(d, s.dialect))
            .collect(),
    ))
}

pub async fn get_recent_info(State(s): State<AppState>, _body: Bytes) -> OpenqqJson {
    let c = s.session.contacts();
    let items = s
        .session
        .recent()
        .iter()
        .filter_map(|r| match r {
            Recent::Friend(f) => Some(render::friend(f, s.dialect)),
            Recent::Member(m, n) => c.group(*n).map(|g| render::member(m, g, s.dialect)),
        })
        .collect();
    OpenqqJson(Value::Array(items))
}

/// Every parameter is an attribute to match; v2 names are mapped to v1.
fn search_lookup(p: &OpenqqParams, aliases: &[(&str, &str)]) -> Lookup {
    let mut l = Lookup::new();
    for (k, v) in p.iter() {
        let key = aliases
            .iter()
            .find(|(from, _)| *from == k)
            .map_or(k, |(_, to)| to);
        l = l.with(key, v);
    }
    l
}

pub async fn search_friend(
    State(s): State<AppState>,
    p: OpenqqParams,
) -> Result<OpenqqJson, ApiError> {
    let l = search_lookup(&p, &[("uid", "qq"), ("name", "nick")]);
    let c = s.session.contacts();
    let found: Vec<Value> = c
        .search_friends(&l)
        .into_iter()
        .map(|f| render::friend(f, s.dialect))
        .collect();
    if found.is_empty() {
        return Err(ApiError::object_not_found());
    }
    Ok(OpenqqJson(Value::Array(found)))
}

pub async fn search_group(
    State(s): State<AppState>,
    p: OpenqqParams,
) -> Result<OpenqqJson, ApiError> {
    let l = search_lookup(
        &p,
        &[
            ("id", "gid"),
            ("uid", "gnumber"),
            ("group_id", "gid"),
            ("group_uid", "gnumber"),
            ("name", "gname"),
            ("markname", "gmarkname"),
            ("role", "gtype"),
        ],
    );
    let c = s.session.contacts();
    let found: Vec<Value> = c
        .search_groups(&l)
        .into_iter()
        .map(|g| render::group(g, true, s.dialect))
        .collect();
    if found.is_empty() {
        return Err(ApiError::object_not_found());
    }
    Ok(OpenqqJson(Value::Array(found)))
}
