//! `/admin/logs`: the recent log lines (`crate::logring`), as a page and as
//! a live stream of Server-Sent Events.
//!
//! - `GET /admin/logs?after=<seq>&limit=<n>` → `{"lines": [LogLine…], "last": <seq>}`:
//!   without `after`, the newest `limit` lines; with it, the oldest `limit`
//!   lines numbered after it (a client pages forward with `after = ` the
//!   last `seq` it has). Lines come oldest first; `last` is the newest
//!   number given (0 before any line). `limit`: default 100, at most 1000.
//! - `GET /admin/logs/stream?after=<seq>` → `event: log`, `id: <seq>`,
//!   `data: <LogLine JSON>` per line as it is logged; with `after` (or a
//!   reconnecting browser's `Last-Event-ID`) the lines after it that the
//!   ring still holds come first, so a reader misses nothing in between.
//!   Keep-alive comments every 15 s; the stream ends when the gateway stops.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};

use super::error::OpenqqJson;
use super::state::AppState;
use crate::logring::{LogLine, LogRing};

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

#[derive(Deserialize)]
pub struct Page {
    after: Option<u64>,
    limit: Option<usize>,
}

/// `GET /admin/logs`.
pub async fn page(State(s): State<AppState>, Query(q): Query<Page>) -> OpenqqJson {
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
    let (lines, last) = match q.after {
        Some(after) => s.logs.after(after, limit),
        None => s.logs.tail(limit),
    };
    let lines: Vec<&LogLine> = lines.iter().map(|l| &**l).collect();
    OpenqqJson(json!({"lines": lines, "last": last}))
}

#[derive(Deserialize)]
pub struct Resume {
    after: Option<u64>,
}

/// `GET /admin/logs/stream`.
pub async fn stream(
    State(s): State<AppState>,
    Query(q): Query<Resume>,
    headers: HeaderMap,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let resume = q.after.or_else(|| {
        headers
            .get("last-event-id")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
    });
    let live = s.logs.subscribe();
    // Subscribed first: a line logged meanwhile is in the ring or in
    // `live` (or both: numbers tell).
    let (sent, replay) = match resume {
        Some(after) => (after, s.logs.after(after, usize::MAX).0.into()),
        None => (s.logs.after(u64::MAX, 0).1, VecDeque::new()),
    };
    let lines = Lines {
        ring: s.logs.clone(),
        live,
        replay,
        sent,
        stop: s.stopping.subscribe(),
    };
    let events = futures_util::stream::unfold(lines, |mut l| async move {
        let line = l.next().await?;
        let event = Event::default()
            .event("log")
            .id(line.seq.to_string())
            .data(serde_json::to_string(&*line).unwrap_or_default());
        Some((Ok(event), l))
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}

/// A watcher's place in the log: what it still has to replay, what comes
/// live, and the last number it was sent.
struct Lines {
    ring: Arc<LogRing>,
    live: broadcast::Receiver<Arc<LogLine>>,
    replay: VecDeque<Arc<LogLine>>,
    sent: u64,
    stop: watch::Receiver<bool>,
}

impl Lines {
    /// The next line after `sent`; `None` once the gateway stops (an open
    /// stream would otherwise hold its graceful shutdown for ever).
    async fn next(&mut self) -> Option<Arc<LogLine>> {
        loop {
            if *self.stop.borrow() {
                return None;
            }
            let line = match self.replay.pop_front() {
                Some(line) => line,
                None => tokio::select! {
                    _ = self.stop.wait_for(|s| *s) => return None,
                    got = self.live.recv() => match got {
                        Ok(line) => line,
                        // Fell behind: what was missed is in the ring.
                        Err(RecvError::Lagged(_)) => {
                            self.replay = self.ring.after(self.sent, usize::MAX).0.into();
                            continue;
                        }
                        Err(RecvError::Closed) => return None,
                    },
                },
            };
            if line.seq > self.sent {
                self.sent = line.seq;
                return Some(line);
            }
        }
    }
}
