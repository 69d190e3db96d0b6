//! `/admin/trace`: the per-message trace ring (`crate::trace`) — a page of
//! traces, one trace, and every new or changed trace live as Server-Sent
//! Events. Mounted by `admin::router`, behind its access rule.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::Stream;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::error::OpenqqJson;
use super::state::AppState;

/// Traces per page unless `limit` says otherwise, and the most it may say.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;
/// A comment this often keeps proxies and browsers from closing a quiet
/// stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/trace", get(list))
        // A fixed segment wins over `{id}`.
        .route("/admin/trace/stream", get(stream))
        .route("/admin/trace/{id}", get(one))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    after: Option<u64>,
    limit: Option<usize>,
    chat: Option<String>,
    bot: Option<String>,
}

fn error(status: StatusCode, text: impl Into<String>) -> Response {
    (status, OpenqqJson(json!({"error": text.into()}))).into_response()
}

/// `GET /admin/trace?after=&limit=&chat=&bot=`: `{"traces": [...], "last": n}`,
/// by number ascending; `last` is the newest number in the ring.
async fn list(State(s): State<AppState>, q: Result<Query<ListQuery>, QueryRejection>) -> Response {
    let Ok(Query(q)) = q else {
        return error(
            StatusCode::BAD_REQUEST,
            "expected after=<number>, limit=<number>, chat=<kind:number>, bot=<name>",
        );
    };
    let query = crate::trace::Query {
        after: q.after.unwrap_or(0),
        limit: q.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT),
        chat: q.chat.filter(|c| !c.is_empty()),
        bot: q.bot.filter(|b| !b.is_empty()),
    };
    let (traces, last) = s.scripts.traces().list(&query);
    OpenqqJson(json!({"traces": traces, "last": last})).into_response()
}

/// `GET /admin/trace/<id>`: one trace, by the message's id or the trace's
/// number.
async fn one(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    match s.scripts.traces().find(&id) {
        Some(t) => OpenqqJson(t).into_response(),
        None if !s.scripts.traces().is_on() => error(
            StatusCode::NOT_FOUND,
            "tracing is off ([console] trace_size = 0)",
        ),
        None => error(
            StatusCode::NOT_FOUND,
            format!("no trace {id:?} (never traced, or no longer in the ring)"),
        ),
    }
}

/// `GET /admin/trace/stream`: `event: trace` with the trace's JSON each time
/// one begins or changes (the same `seq` again, with more steps). A viewer
/// that falls behind misses intermediate states only. The stream ends when
/// the gateway stops (a graceful stop waits for open requests).
async fn stream(State(s): State<AppState>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let changes = s.scripts.traces().subscribe();
    let stopping = s.stopping.subscribe();
    let events = futures_util::stream::unfold(
        (changes, stopping, None),
        |(mut changes, mut stopping, mut last)| async move {
            loop {
                let next = async {
                    match changes.as_mut() {
                        Some(rx) => rx.recv().await,
                        // Tracing off: nothing will ever come.
                        None => std::future::pending().await,
                    }
                };
                let live = tokio::select! {
                    _ = stopping.wait_for(|s| *s) => return None,
                    next = next => match next {
                        Ok(live) => live,
                        Err(RecvError::Lagged(_)) => continue,
                        Err(RecvError::Closed) => return None,
                    },
                };
                // Several changes may be read after the trace moved on:
                // send each state once.
                let now = (live.seq(), live.progress());
                if last == Some(now) {
                    continue;
                }
                last = Some(now);
                let data = serde_json::to_string(&live.snapshot()).unwrap_or_default();
                let event = Event::default().event("trace").data(data);
                return Some((Ok(event), (changes, stopping, last)));
            }
        },
    );
    Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}
