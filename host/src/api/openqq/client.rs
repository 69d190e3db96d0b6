//! The v2 client routes: `check_event`, `get_client_info`, `relogin`,
//! `stop_client` (spec §7, `openqq-original.md` §1.3, §2.4).

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use serde_json::{Value, json};

use crate::api::error::OpenqqJson;
use crate::api::state::AppState;

/// How long an empty `check_event` waits for the next report.
const LONG_POLL: Duration = Duration::from_secs(30);

/// Everything buffered, or the next report within 30 s, or `[]`.
pub async fn check_event(State(s): State<AppState>, _body: Bytes) -> OpenqqJson {
    OpenqqJson(Value::Array(s.reports.poll(LONG_POLL).await))
}

pub async fn get_client_info(State(s): State<AppState>, _body: Bytes) -> OpenqqJson {
    let c = s.session.contacts();
    OpenqqJson(json!({
        "account": c.user.qq.0,
        "code": 0,
        "http_debug": 0,
        "log_encoding": "utf8",
        "log_level": "info",
        "log_path": null,
        "os": std::env::consts::OS,
        "pid": std::process::id(),
        "runtime": s.started.elapsed().map_or(0, |d| d.as_secs()),
        "starttime": crate::clock::unix_secs(s.started),
        "status": "success",
        "version": env!("CARGO_PKG_VERSION"),
        "backend": s.session.backend_name(),
    }))
}

/// A fresh login (the simulator) or a contact re-sync (OneBot); ids change
/// where the backend has per-login ids.
pub async fn relogin(State(s): State<AppState>, _body: Bytes) -> OpenqqJson {
    let account = s.session.contacts().user.qq.0;
    match s.session.relogin().await {
        Ok(()) => OpenqqJson(json!({
            "account": account,
            "code": 0,
            "status": format!("success, client({}) relogged in", std::process::id()),
        })),
        Err(e) => OpenqqJson(
            json!({"account": account, "code": -1, "status": format!("relogin failed: {e}")}),
        ),
    }
}

/// Stops the gateway gracefully: requests in flight (synchronous sends
/// waiting in the outbox) finish first.
pub async fn stop_client(State(s): State<AppState>, _body: Bytes) -> OpenqqJson {
    let pid = std::process::id();
    tracing::info!("stop_client: stopping after in-flight requests");
    s.session.emit(crate::model::Event::StateChange {
        old: "running".into(),
        new: "stop".into(),
    });
    // The gateway reports `stop` itself once it has stopped (exactly once).
    s.stopping.send_replace(true);
    OpenqqJson(json!({
        "account": s.session.contacts().user.qq.0,
        "code": 0,
        "pid": pid,
        "runtime": s.started.elapsed().map_or(0, |d| d.as_secs()),
        "starttime": crate::clock::unix_secs(s.started),
        "status": format!("success, client({pid}) is stopping"),
    }))
}
