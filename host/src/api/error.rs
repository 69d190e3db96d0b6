//! `ApiError`: the API's only error type, answered in Openqq's own shapes.
//!
//! Logical errors are HTTP 200 with a JSON `code` (spec §1); unknown paths and
//! methods are HTTP 403 `request error`. Backend text reaches a client only in
//! a send failure's `info`, as the spec allows.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::session::{Missing, SessionError};

/// An Openqq error answer.
#[derive(Debug)]
pub enum ApiError {
    /// A send route's error: carries `msg_id` (null unless queued).
    Send {
        code: i64,
        msg_id: Option<u64>,
        status: String,
        info: Option<String>,
    },
    /// Any other route's error: `{"code":…,"status":…}`.
    Status { code: i64, status: String },
    /// A send route's error in v2: `id` instead of `msg_id`, always `info`
    /// when known.
    SendV2 {
        code: i64,
        id: Option<u64>,
        status: String,
        info: Option<String>,
    },
}

impl ApiError {
    pub fn bad_request(status: impl Into<String>) -> ApiError {
        ApiError::Status {
            code: 400,
            status: status.into(),
        }
    }

    pub fn object_not_found() -> ApiError {
        ApiError::Status {
            code: 100,
            status: "object not found".into(),
        }
    }

    /// A send route's error for a session failure.
    pub fn from_send(e: SessionError) -> ApiError {
        let send = |code, status: &str| ApiError::Send {
            code,
            msg_id: None,
            status: status.to_string(),
            info: None,
        };
        match e {
            SessionError::NotFound(m) => send(missing_code(m), m.status()),
            SessionError::ContentMissing => send(400, "content missing"),
            SessionError::Send {
                msg_id,
                failure,
                info,
            } => ApiError::Send {
                code: failure.code(),
                msg_id: Some(msg_id.0),
                status: "发送失败".into(),
                info: Some(info),
            },
            SessionError::Closed => send(-1, "发送失败"),
            other => ApiError::Send {
                code: -3,
                msg_id: None,
                status: "发送失败".into(),
                info: Some(other.to_string()),
            },
        }
    }

    /// The same error in `dialect`'s shape.
    pub fn in_dialect(self, dialect: crate::render::Dialect) -> ApiError {
        match (self, dialect) {
            (
                ApiError::Send {
                    code,
                    msg_id,
                    status,
                    info,
                },
                crate::render::Dialect::V2,
            ) => ApiError::SendV2 {
                code,
                id: msg_id,
                status,
                info,
            },
            (other, _) => other,
        }
    }

    /// A mute/kick route's error for a session failure (spec §4).
    pub fn from_moderation(e: SessionError) -> ApiError {
        let status = |code, s: String| ApiError::Status { code, status: s };
        match e {
            SessionError::GroupObjectNotFound => ApiError::object_not_found(),
            SessionError::MemberNotFound(v) => status(100, format!("member {v} not found")),
            SessionError::MemberListEmpty => status(200, "member id empty".into()),
            other => {
                tracing::info!(error = %other, "mute/kick refused");
                status(201, "failure".into())
            }
        }
    }

    fn body(&self) -> Value {
        match self {
            ApiError::Send {
                code,
                msg_id,
                status,
                info,
            } => {
                let mut v = json!({"code": code, "msg_id": msg_id, "status": status});
                if let Some(info) = info {
                    v["info"] = json!(info);
                }
                v
            }
            ApiError::Status { code, status } => json!({"code": code, "status": status}),
            ApiError::SendV2 {
                code,
                id,
                status,
                info,
            } => {
                let mut v = json!({"code": code, "id": id, "status": status});
                if let Some(info) = info {
                    v["info"] = json!(info);
                }
                v
            }
        }
    }
}

fn missing_code(m: Missing) -> i64 {
    match m {
        Missing::Friend => 100,
        Missing::Group => 101,
        Missing::Discuss => 102,
        Missing::GroupMember => 103,
        Missing::DiscussMember => 104,
        Missing::SessChat => 105,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        OpenqqJson(self.body()).into_response()
    }
}

/// A JSON answer with Openqq's content type and raw UTF-8 (no `\u` escapes):
/// a `Value`, or a typed view written straight into the body.
pub struct OpenqqJson<T = Value>(pub T);

impl<T: serde::Serialize> IntoResponse for OpenqqJson<T> {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.0).unwrap_or_else(|_| b"{}".to_vec());
        (
            [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
            body,
        )
            .into_response()
    }
}

/// The answer to an unknown path or method (spec §1): v1 says
/// `request error`, v2 `api not found`.
pub async fn request_error(
    axum::extract::State(s): axum::extract::State<super::state::AppState>,
) -> Response {
    let text = match s.dialect {
        crate::render::Dialect::V1 => "request error",
        crate::render::Dialect::V2 => "api not found",
    };
    forbidden(text)
}

/// An unknown path: the dialect's 403 with the open CORS header that every
/// `/openqq/*` answer has, so a browser client sees the 403 itself rather
/// than a CORS failure.
pub async fn unknown_path(state: axum::extract::State<super::state::AppState>) -> Response {
    let mut res = request_error(state).await;
    res.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::HeaderValue::from_static("*"),
    );
    res
}

/// HTTP 403 with a plain-text body.
pub fn forbidden(text: &'static str) -> Response {
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "text/plain;charset=UTF-8")],
        text,
    )
        .into_response()
}
