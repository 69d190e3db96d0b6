//! `/admin/*`: what bots are loaded, and reloading them; what became of
//! webhook reports (`/admin/webhook`).
//!
//! Answers only loopback clients, unless an `admin_token` is configured: then
//! any client that presents it (`Authorization: Bearer …` or `?token=`).

use crate::auth::{Presented, TokenCheck};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::error::OpenqqJson;
use super::state::AppState;
use crate::scripts::{Rejection, ReloadReport, ScriptStats};

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/admin/scripts", get(scripts))
        .route("/admin/scripts/reload", post(reload))
        .route("/admin/webhook", get(webhook))
        .layer(middleware::from_fn_with_state(state, guard))
}

async fn guard(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let allowed = match &s.admin_token {
        Some(token) => TOKEN.check(req.headers(), req.uri(), token) == Presented::Right,
        None => super::guard::peer(req.extensions()).is_some_and(super::guard::is_loopback),
    };
    if !allowed {
        return (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "text/plain;charset=UTF-8")],
            "admin: forbidden",
        )
            .into_response();
    }
    next.run(req).await
}

/// The admin token, by header or `?token=`.
const TOKEN: TokenCheck = TokenCheck::new("token");

fn rejection(r: &Rejection) -> Value {
    json!({"name": r.name, "path": r.path.display().to_string(), "sha256": r.sha256, "reason": r.reason, "at": crate::clock::unix_secs(r.at)})
}

async fn scripts(State(s): State<AppState>) -> OpenqqJson {
    let list: Vec<Value> = s
        .scripts
        .list()
        .iter()
        .map(|script| {
            let v = script.current();
            let st = &script.stats;
            let (p50, p99) = st
                .percentiles_us()
                .map_or((None, None), |(a, b)| (Some(a), Some(b)));
            let f = st.failures();
            let recent: Vec<Value> = f
                .recent
                .iter()
                .map(|(at, reason)| json!({"at": crate::clock::unix_secs(*at), "reason": reason}))
                .collect();
            json!({
                "name": &*script.name,
                "path": v.path.display().to_string(),
                "sha256": v.prepared.sha256,
                "world": v.prepared.world,
                "generation": script.generation(),
                "loaded_at": crate::clock::unix_secs(v.loaded_at),
                "timeout_ms": v.deadline.as_millis() as u64,
                "wall_ms": v.wall.as_millis() as u64,
                "memory_mb": v.memory_mb,
                "instances": script.instances(),
                "calls": ScriptStats::get(&st.calls),
                "passes": ScriptStats::get(&st.passes),
                "decisions": ScriptStats::get(&st.decisions),
                "traps": ScriptStats::get(&st.traps),
                "timeouts": ScriptStats::get(&st.timeouts),
                "wall_clock": ScriptStats::get(&st.wall_clock),
                "refused": ScriptStats::get(&st.refused),
                "skipped": ScriptStats::get(&st.skipped),
                "recent_failures": f.count,
                "paused_until": f.paused_until.map(crate::clock::unix_secs),
                "last_failures": recent,
                "p50_us": p50,
                "p99_us": p99,
            })
        })
        .collect();
    let rejected: Vec<Value> = s
        .reloader
        .as_ref()
        .map(|r| r.rejections().iter().map(rejection).collect())
        .unwrap_or_default();
    OpenqqJson(json!({"scripts": list, "rejected": rejected}))
}

fn report(r: &ReloadReport) -> Value {
    json!({
        "code": if r.rejected.is_empty() && r.config_error.is_none() { 0 } else { 1 },
        "loaded": r.loaded, "swapped": r.swapped, "unchanged": r.unchanged, "unloaded": r.unloaded,
        "rejected": r.rejected.iter().map(rejection).collect::<Vec<_>>(),
        "config_error": r.config_error,
    })
}

async fn webhook(State(s): State<AppState>) -> OpenqqJson {
    OpenqqJson(crate::webhook::admin_status(s.webhook.as_ref(), &s.reports))
}

async fn reload(State(s): State<AppState>) -> OpenqqJson {
    let Some(reloader) = &s.reloader else {
        return OpenqqJson(
            json!({"code": 404, "status": "no scripts are configured (set scripts_dir or [[scripts]])"}),
        );
    };
    match reloader.reload().await {
        Some(r) => OpenqqJson(report(&r)),
        None => OpenqqJson(json!({"code": 503, "status": "the reloader has stopped"})),
    }
}
