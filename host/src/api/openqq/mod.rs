//! The Openqq HTTP API at `/openqq/*` (spec §1–§4, v1 shapes, v2 aliases).
//!
//! Every route answers GET (and HEAD) and POST; other methods and unknown
//! paths get 403 `request error`. CORS is open, as the v2 original was.

mod contacts;
mod group;
pub mod render;
mod send;

use axum::Router;
use axum::handler::Handler;
use axum::http::{HeaderName, Method};
use axum::routing::{MethodRouter, get};
use tower_http::cors::{Any, CorsLayer};

use super::error::request_error;
use super::state::AppState;

/// GET + HEAD + POST to one handler; anything else is a `request error`.
fn route<H, T>(h: H) -> MethodRouter<AppState>
where
    H: Handler<T, AppState>,
    T: 'static,
{
    get(h.clone()).post(h).fallback(request_error)
}

pub fn router() -> Router<AppState> {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::HEAD, Method::POST, Method::OPTIONS])
        .allow_headers([
            HeaderName::from_static("x-requested-with"),
            HeaderName::from_static("x-auth-token"),
            HeaderName::from_static("content-type"),
            HeaderName::from_static("authorization"),
        ]);
    Router::new()
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
        .layer(cors)
}
