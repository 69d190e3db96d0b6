//! Contact reads: `get_*_info` and `search_*` (spec §4).
//!
//! Answers are typed views over the current contacts (`render`), written
//! straight into the body while the snapshot is held.

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use crate::api::error::{ApiError, OpenqqJson};
use crate::api::extract::OpenqqParams;
use crate::api::state::AppState;
use crate::render::{self, Dialect, Partner};

use super::jsonp::JSONP_PARAMS;
use crate::session::{Lookup, Recent};

// The get_* routes take no parameters, but they read (and ignore) the body:
// a request body left unread makes hyper close the keep-alive connection.

pub async fn get_user_info(State(s): State<AppState>, _body: Bytes) -> Response {
    let c = s.session.contacts();
    OpenqqJson(render::user(&c.user, s.dialect)).into_response()
}

pub async fn get_friend_info(State(s): State<AppState>, _body: Bytes) -> Response {
    let c = s.session.contacts();
    OpenqqJson(render::friends(c.friends.iter(), s.dialect)).into_response()
}

pub async fn get_group_info(State(s): State<AppState>, _body: Bytes) -> Response {
    let c = s.session.contacts();
    OpenqqJson(render::groups(c.groups.iter(), true, s.dialect)).into_response()
}

pub async fn get_group_basic_info(State(s): State<AppState>, _body: Bytes) -> Response {
    let c = s.session.contacts();
    OpenqqJson(render::groups(c.groups.iter(), false, s.dialect)).into_response()
}

pub async fn get_discuss_info(State(s): State<AppState>, _body: Bytes) -> Response {
    let c = s.session.contacts();
    OpenqqJson(render::discusses(c.discusses.iter(), s.dialect)).into_response()
}

pub async fn get_recent_info(State(s): State<AppState>, _body: Bytes) -> Response {
    let c = s.session.contacts();
    let recent = s.session.recent();
    let items: Vec<Partner> = recent
        .iter()
        .filter_map(|r| match r {
            Recent::Friend(f) => Some(Partner::Friend(render::friend(f, s.dialect))),
            Recent::Member(m, n) => c
                .group(*n)
                .map(|g| Partner::Member(render::member(m, g, s.dialect))),
        })
        .collect();
    OpenqqJson(items).into_response()
}

/// Every parameter is an attribute to match; v2 names are mapped to v1, and
/// v2's JSONP parameters are not attributes.
fn search_lookup(p: &OpenqqParams, dialect: Dialect, aliases: &[(&str, &str)]) -> Lookup {
    let mut l = Lookup::new();
    let jsonp = |k: &str| dialect == Dialect::V2 && JSONP_PARAMS.contains(&k);
    for (k, v) in p.iter().filter(|(k, _)| !jsonp(k)) {
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
) -> Result<Response, ApiError> {
    let l = search_lookup(&p, s.dialect, &[("uid", "qq"), ("name", "nick")]);
    let c = s.session.contacts();
    let found = c.search_friends(&l);
    if found.is_empty() {
        return Err(ApiError::object_not_found());
    }
    Ok(OpenqqJson(render::friends(found.into_iter(), s.dialect)).into_response())
}

pub async fn search_group(
    State(s): State<AppState>,
    p: OpenqqParams,
) -> Result<Response, ApiError> {
    let l = search_lookup(
        &p,
        s.dialect,
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
    let found = c.search_groups(&l);
    if found.is_empty() {
        return Err(ApiError::object_not_found());
    }
    Ok(OpenqqJson(render::groups(found.into_iter(), true, s.dialect)).into_response())
}
