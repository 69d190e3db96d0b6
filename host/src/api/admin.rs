//! `/admin/*`: what bots are loaded, and reloading them; what became of
//! webhook reports (`/admin/webhook`); bots' KV stores (`/admin/kv/<bot>`);
//! the clock bots and timers see (`/admin/clock`, movable on `sim`);
//! enabling and disabling a bot (`/admin/scripts/<name>/enable|disable`);
//! the per-message trace (`/admin/trace`, `super::trace`); a dry run of a
//! typed message through the bots (`/admin/dry-run`, `super::dry_run`); the recent log
//! lines (`/admin/logs`, `super::logs`); and `/metrics` for Prometheus
//! (`super::metrics`).
//!
//! Answers only loopback clients, unless an `admin_token` is configured: then
//! any client that presents it (`Authorization: Bearer …`, `?token=`, or the
//! console's login cookie; the rule is `super::admin_auth`).

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde_json::{Value, json};

use super::error::OpenqqJson;
use super::state::AppState;
use crate::scripts::{Rejection, ReloadReport, ScriptStats};

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/admin/scripts", get(scripts))
        .route("/admin/scripts/reload", post(reload))
        .route("/admin/scripts/{name}/enable", post(enable))
        .route("/admin/scripts/{name}/disable", post(disable))
        .route("/admin/webhook", get(webhook))
        .route("/admin/kv/{bot}", get(kv_list).delete(kv_clear))
        .route("/admin/kv/{bot}/{*key}", delete(kv_delete))
        .route("/admin/clock", get(clock).post(move_clock))
        .route("/admin/logs", get(super::logs::page))
        .route("/admin/logs/stream", get(super::logs::stream))
        // Prometheus scrapes `/metrics` by convention; it tells as much
        // as `/admin/scripts`, so it opens to the same clients.
        .route("/metrics", get(super::metrics::metrics))
        .merge(super::trace::routes())
        .merge(super::dry_run::routes())
        .merge(super::console::admin_routes())
        .layer(middleware::from_fn_with_state(state, guard))
}

async fn guard(State(s): State<AppState>, req: Request, next: Next) -> Response {
    if !super::admin_auth::admits(&s, &req) {
        return (
            StatusCode::FORBIDDEN,
            [(header::CONTENT_TYPE, "text/plain;charset=UTF-8")],
            "admin: forbidden",
        )
            .into_response();
    }
    next.run(req).await
}

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
                "enabled": script.enabled(),
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
                "timer_calls": ScriptStats::get(&st.timer_calls),
                "timers": timers_of(&s, script),
                "other_chats": ScriptStats::get(&st.other_chats),
                "grants": v.granted.grants.to_json(),
                "denied": v.granted.denials.total(),
                "denials": v.granted.denials.counts(),
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

/// `POST /admin/scripts/<name>/enable`.
async fn enable(State(s): State<AppState>, Path(name): Path<String>) -> Response {
    set_enabled(&s, name, true)
}

/// `POST /admin/scripts/<name>/disable`: the bot stays loaded (instances,
/// KV, counters) but is asked nothing until enabled again.
async fn disable(State(s): State<AppState>, Path(name): Path<String>) -> Response {
    set_enabled(&s, name, false)
}

fn set_enabled(s: &AppState, name: String, on: bool) -> Response {
    match s.scripts.set_enabled(&name, on) {
        Some(enabled) => OpenqqJson(json!({"name": name, "enabled": enabled})).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            OpenqqJson(json!({"error": format!("no bot named {name:?} is loaded")})),
        )
            .into_response(),
    }
}

/// A script's declared timers and pending one-shot timers.
fn timers_of(s: &AppState, script: &crate::scripts::Script) -> Value {
    let declared: Vec<Value> = script
        .declared()
        .iter()
        .map(|d| json!({"name": d.name, "schedule": d.schedule.describe()}))
        .collect();
    let pending: Vec<Value> = s
        .scripts
        .timers()
        .pending(&script.name)
        .iter()
        .map(|p| json!({"name": p.name, "due_ms": p.due_ms}))
        .collect();
    json!({"declared": declared, "pending": pending})
}

#[derive(serde::Deserialize)]
struct KvQuery {
    #[serde(default)]
    prefix: String,
}

/// `GET /admin/kv/<bot>?prefix=`: the bot's keys and their sizes. Works
/// for bots not loaded now too: their data stays until deleted.
async fn kv_list(
    State(s): State<AppState>,
    Path(bot): Path<String>,
    Query(q): Query<KvQuery>,
) -> OpenqqJson {
    let storage = s.scripts.timers().storage().clone();
    let listed = tokio::task::spawn_blocking(move || {
        let entries = storage.kv_entries(&bot, &q.prefix)?;
        let used = storage.kv_usage(&bot)?;
        Ok::<_, crate::storage::KvError>((bot, entries, used))
    })
    .await;
    match listed {
        Ok(Ok((bot, entries, used))) => {
            let keys: Vec<Value> = entries
                .iter()
                .map(|e| json!({"key": e.key, "bytes": e.bytes}))
                .collect();
            OpenqqJson(json!({"code": 0, "bot": bot, "total_bytes": used, "keys": keys}))
        }
        Ok(Err(e)) => OpenqqJson(json!({"code": 500, "status": e.to_string()})),
        Err(e) => OpenqqJson(json!({"code": 500, "status": e.to_string()})),
    }
}

/// `DELETE /admin/kv/<bot>`: removes the bot's whole store and its
/// pending one-shot timers (a bot retired for good).
async fn kv_clear(State(s): State<AppState>, Path(bot): Path<String>) -> OpenqqJson {
    let timers = s.scripts.timers().clone();
    let cleared = tokio::task::spawn_blocking(move || {
        let keys = timers.storage().kv_clear(&bot).map_err(|e| e.to_string())?;
        let pending = timers.cancel_all(&bot)?;
        Ok::<_, String>((keys, pending))
    })
    .await;
    match cleared {
        Ok(Ok((keys, timers))) => {
            OpenqqJson(json!({"code": 0, "status": "cleared", "keys": keys, "timers": timers}))
        }
        Ok(Err(e)) => OpenqqJson(json!({"code": 500, "status": e})),
        Err(e) => OpenqqJson(json!({"code": 500, "status": e.to_string()})),
    }
}

/// `DELETE /admin/kv/<bot>/<key>`: removes one key (the rest of the path,
/// slashes included, is the key).
async fn kv_delete(
    State(s): State<AppState>,
    Path((bot, key)): Path<(String, String)>,
) -> OpenqqJson {
    let storage = s.scripts.timers().storage().clone();
    let removed = tokio::task::spawn_blocking(move || storage.kv_delete(&bot, &key)).await;
    match removed {
        Ok(Ok(true)) => OpenqqJson(json!({"code": 0, "status": "deleted"})),
        Ok(Ok(false)) => OpenqqJson(json!({"code": 404, "status": "no such key"})),
        Ok(Err(e)) => OpenqqJson(json!({"code": 500, "status": e.to_string()})),
        Err(e) => OpenqqJson(json!({"code": 500, "status": e.to_string()})),
    }
}

fn clock_status(s: &AppState) -> Value {
    let t = s.scripts.timers();
    json!({
        "code": 0,
        "now_ms": t.now_ms(),
        "offset_ms": t.clock().offset_ms(),
        "timezone": t.zone().name(),
    })
}

/// `GET /admin/clock`: the time bots and timers see.
async fn clock(State(s): State<AppState>) -> OpenqqJson {
    OpenqqJson(clock_status(&s))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct MoveClock {
    /// Milliseconds to move forward.
    #[serde(default)]
    advance_ms: Option<u64>,
    /// A time to move forward to (ms since the Unix epoch).
    #[serde(default)]
    to_ms: Option<u64>,
}

/// `POST /admin/clock` `{"advance_ms": N}` or `{"to_ms": T}`: moves the
/// clock forward (sim only), so due timers fire now. It never goes back.
async fn move_clock(
    State(s): State<AppState>,
    body: Result<axum::Json<MoveClock>, axum::extract::rejection::JsonRejection>,
) -> OpenqqJson {
    let bad = |status: String| OpenqqJson(json!({"code": 400, "status": status}));
    let Ok(axum::Json(m)) = body else {
        return bad("expected JSON {\"advance_ms\": N} or {\"to_ms\": T}".to_string());
    };
    let t = s.scripts.timers();
    let by = match (m.advance_ms, m.to_ms) {
        (Some(a), None) => a,
        (None, Some(to)) => match to.checked_sub(t.now_ms()) {
            Some(by) => by,
            None => {
                return bad(format!(
                    "to_ms = {to} is in the past; the clock only goes forward"
                ));
            }
        },
        _ => return bad("give exactly one of advance_ms and to_ms".to_string()),
    };
    match t.advance(by) {
        Ok(_) => OpenqqJson(clock_status(&s)),
        Err(e) => bad(e),
    }
}
