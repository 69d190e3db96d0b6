//! The Openqq HTTP API at `/openqq/*` (spec §1–§4, v1 shapes, v2 aliases).
//!
//! Every route answers GET (and HEAD) and POST; other methods and unknown
//! paths get 403 `request error`. CORS is open, as the v2 original was, to
//! every request that reaches it: `api::guard` has already refused pages of
//! origins the operator did not list.

mod client;
mod contacts;
mod group;
mod jsonp;
mod send;

use axum::Router;
use axum::handler::Handler;
use axum::http::{HeaderName, Method};
use axum::routing::{MethodRouter, get};
use tower_http::cors::{Any, CorsLayer};

use super::error::OpenqqJson;
use super::error::{forbidden, request_error};
use super::extract::ACCESS_TOKEN;
use super::state::AppState;
use crate::auth::{Presented, TokenCheck};
use crate::render::Dialect;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// GET + HEAD + POST to one handler; anything else is a `request error`.
fn route<H, T>(h: H) -> MethodRouter<AppState>
where
    H: Handler<T, AppState>,
    T: 'static,
{
    get(h.clone()).post(h).fallback(request_error)
}

pub fn router(state: AppState) -> Router<AppState> {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD, Method::POST, Method::OPTIONS])
        .allow_headers([
            HeaderName::from_static("x-requested-with"),
            HeaderName::from_static("x-auth-token"),
            HeaderName::from_static("content-type"),
            HeaderName::from_static("authorization"),
        ]);
    let mut routes = Router::new()
        .route("/openqq/get_user_info", route(contacts::get_user_info))
        .route("/openqq/get_friend_info", route(contacts::get_friend_info))
        .route("/openqq/get_group_info", route(contacts::get_group_info))
        .route(
            "/openqq/get_group_basic_info",
            route(contacts::get_group_basic_info),
        )
        .route(
            "/openqq/get_discuss_info",
            route(contacts::get_discuss_info),
        )
        .route("/openqq/get_recent_info", route(contacts::get_recent_info))
        .route("/openqq/search_friend", route(contacts::search_friend))
        .route("/openqq/search_group", route(contacts::search_group))
        .route("/openqq/send_message", route(send::send_message))
        .route("/openqq/send_friend_message", route(send::send_message))
        .route(
            "/openqq/send_group_message",
            route(send::send_group_message),
        )
        .route(
            "/openqq/send_discuss_message",
            route(send::send_discuss_message),
        )
        .route("/openqq/send_sess_message", route(send::send_sess_message))
        .route(
            "/openqq/shutup_group_member",
            route(group::shutup_group_member),
        )
        .route(
            "/openqq/shuthup_group_member",
            route(group::shutup_group_member),
        )
        .route("/openqq/kick_group_member", route(group::kick_group_member))
        .route("/openqq/check_event", route(client::check_event))
        .route("/openqq/get_client_info", route(client::get_client_info))
        .route("/openqq/relogin", route(client::relogin))
        .route("/openqq/stop_client", route(client::stop_client));
    // Each layer only where it has work: a request pays for every one.
    if state.access_token.is_some() {
        routes = routes.layer(middleware::from_fn_with_state(state.clone(), require_token));
    }
    if state.dialect == Dialect::V2 {
        // Outside the token check, so a v2 auth failure is wrapped too.
        routes = routes.layer(middleware::from_fn_with_state(state, jsonp::wrap));
    }
    routes.layer(cors)
}

/// With `access_token` configured, every request must present it
/// (`Authorization: Bearer …`, or `?access_token=`); failures answer in the
/// dialect's shape: v1 HTTP 403 `auth failure`, v2 `{"code":-6,…}`.
/// The API's `access_token`, by header or query parameter.
const TOKEN: TokenCheck = TokenCheck::new(ACCESS_TOKEN);

async fn require_token(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let Some(token) = &s.access_token else {
        return next.run(req).await;
    };
    if TOKEN.check(req.headers(), req.uri(), token) == Presented::Right {
        return next.run(req).await;
    }
    match s.dialect {
        Dialect::V1 => forbidden("auth failure"),
        Dialect::V2 => OpenqqJson(json!({"code": -6, "status": "auth failure"})).into_response(),
    }
}
