//! The send routes (spec §4): resolve the target by the Openqq look-up rules,
//! check `content`, then send through the session's outbox and answer once QQ
//! has accepted or refused.

use axum::extract::State;
use serde_json::json;

use crate::api::error::{ApiError, OpenqqJson};
use crate::api::extract::{OpenqqParams, TextError};
use crate::api::state::AppState;
use crate::render::Dialect;
use crate::session::{Lookup, SendRequest};

/// Builds a look-up from the parameters named in `keys` (`(param, attr)`),
/// skipping absent and empty ones.
fn lookup(p: &OpenqqParams, keys: &[(&str, &str)]) -> Lookup {
    let mut l = Lookup::new();
    for (param, attr) in keys {
        if let Some(v) = p.get(param) {
            l = l.with(attr, v);
        }
    }
    l
}

const FRIEND_KEYS: &[(&str, &str)] = &[
    ("id", "id"),
    ("qq", "qq"),
    ("uid", "qq"),
    ("name", "nick"),
    ("displayname", "displayname"),
];
const GROUP_KEYS: &[(&str, &str)] = &[
    ("gid", "gid"),
    ("gnumber", "gnumber"),
    ("id", "gid"),
    ("uid", "gnumber"),
    ("group_id", "gid"),
    ("group_uid", "gnumber"),
    ("name", "gname"),
    ("displayname", "displayname"),
];
const DISCUSS_KEYS: &[(&str, &str)] = &[
    ("did", "did"),
    ("id", "did"),
    ("discuss_id", "did"),
    ("name", "dname"),
    ("displayname", "displayname"),
];
const SESS_GROUP_KEYS: &[(&str, &str)] = &[
    ("gid", "gid"),
    ("gnumber", "gnumber"),
    ("group_id", "gid"),
    ("group_uid", "gnumber"),
];
const SESS_DISCUSS_KEYS: &[(&str, &str)] = &[("did", "did"), ("discuss_id", "did")];
const SESS_MEMBER_KEYS: &[(&str, &str)] = &[("id", "id"), ("qq", "qq"), ("uid", "qq")];

/// Whether a send may be fire-and-forget: v2's `async` (any value Perl
/// holds true: not empty, not "0") on the friend, group and discussion
/// sends; never in v1, never for temp messages (as the original).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Async {
    Allowed,
    Never,
}

async fn send(
    s: &AppState,
    p: &OpenqqParams,
    req: SendRequest,
    may: Async,
) -> Result<OpenqqJson, ApiError> {
    let fire_and_forget = may == Async::Allowed
        && s.dialect == Dialect::V2
        && p.get("async").is_some_and(|v| !v.is_empty() && v != "0");
    send_in(s, p, req, fire_and_forget)
        .await
        .map_err(|e| e.in_dialect(s.dialect))
}

async fn send_in(
    s: &AppState,
    p: &OpenqqParams,
    req: SendRequest,
    fire_and_forget: bool,
) -> Result<OpenqqJson, ApiError> {
    let target = s.session.resolve(&req).map_err(ApiError::from_send)?;
    let content = match p.text("content") {
        Ok(c) => c,
        Err(TextError::Missing) => {
            return Err(ApiError::Send {
                code: 400,
                msg_id: None,
                status: "content missing".into(),
                info: None,
            });
        }
        Err(TextError::NotUtf8) => {
            return Err(ApiError::Send {
                code: 400,
                msg_id: None,
                status: "content not utf-8".into(),
                info: None,
            });
        }
    };
    let slot = fire_and_forget
        .then(|| s.async_sends.clone().try_acquire_owned().ok())
        .flatten();
    if let Some(slot) = slot {
        // Answered before QQ has: the outcome is logged and, in v2, reported
        // like any send's.
        let session = s.session.clone();
        let content = content.to_string();
        tokio::spawn(async move {
            let _ = session
                .send_to(target, &content, crate::model::SendOrigin::Api)
                .await;
            drop(slot);
        });
        return Ok(OpenqqJson(
            json!({"code": 0, "status": "request already in execution"}),
        ));
    }
    let msg_id = s
        .session
        .send_to(target, content, crate::model::SendOrigin::Api)
        .await
        .map_err(ApiError::from_send)?;
    Ok(OpenqqJson(match s.dialect {
        Dialect::V1 => json!({"code": 0, "msg_id": msg_id.0, "status": "发送成功"}),
        Dialect::V2 => json!({"code": 0, "id": msg_id.0, "info": "发送正常", "status": "发送成功"}),
    }))
}

pub async fn send_message(
    State(s): State<AppState>,
    p: OpenqqParams,
) -> Result<OpenqqJson, ApiError> {
    let req = SendRequest::Friend(lookup(&p, FRIEND_KEYS));
    send(&s, &p, req, Async::Allowed).await
}

pub async fn send_group_message(
    State(s): State<AppState>,
    p: OpenqqParams,
) -> Result<OpenqqJson, ApiError> {
    let req = SendRequest::Group(lookup(&p, GROUP_KEYS));
    send(&s, &p, req, Async::Allowed).await
}

pub async fn send_discuss_message(
    State(s): State<AppState>,
    p: OpenqqParams,
) -> Result<OpenqqJson, ApiError> {
    let req = SendRequest::Discuss(lookup(&p, DISCUSS_KEYS));
    send(&s, &p, req, Async::Allowed).await
}

pub async fn send_sess_message(
    State(s): State<AppState>,
    p: OpenqqParams,
) -> Result<OpenqqJson, ApiError> {
    let group = lookup(&p, SESS_GROUP_KEYS);
    let discuss = lookup(&p, SESS_DISCUSS_KEYS);
    let req = SendRequest::Sess {
        group: (!group.is_empty()).then_some(group),
        discuss: (!discuss.is_empty()).then_some(discuss),
        member: lookup(&p, SESS_MEMBER_KEYS),
    };
    send(&s, &p, req, Async::Never).await
}
