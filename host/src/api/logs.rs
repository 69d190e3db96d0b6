//! `/admin/logs`: the recent log lines (`crate::logring`), as a page and as
//! a live stream of Server-Sent Events.
//!
//! - `GET /admin/logs?after=<seq>&limit=<n>` → `{"lines": [LogLine…], "last": <seq>}`:
//!   without `after`, the newest `limit` lines; with it, the oldest `limit`
//!   lines numbered after it (a client pages forward with `after = ` the
//!   last `seq` it has). Lines come oldest first; `last` is the newest
//!   number given (0 before any line). `limit`: default 100, at most 1000.
//! - `GET /admin/logs/stream?after=<seq>` → `event: log`, `id: <boot>-<seq>`,
//!   `data: <LogLine JSON>` per line as it is logged; with `after` (or a
//!   reconnecting browser's `Last-Event-ID`) the lines after it that the
//!   ring still holds come first, so a reader misses nothing in between.
//!   An id from before a restart (another `boot`, or a number this run has
//!   not reached) starts from the oldest line kept. Keep-alive comments
//!   every 15 s; the stream ends when the gateway stops.

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
    // `Last-Event-ID` is `<boot>-<seq>` (this stream's ids); `after` a
    // plain number, as `/admin/logs` pages.
    let resume = q.after.map(|seq| (None, seq)).or_else(|| {
        let id = headers.get("last-event-id")?.to_str().ok()?.trim();
        match id.split_once('-') {
            Some((boot, seq)) => Some((boot.parse().ok(), seq.parse().ok()?)),
            None => Some((None, id.parse().ok()?)),
        }
    });
    let live = s.logs.subscribe();
    // Subscribed first: a line logged meanwhile is in the ring or in
    // `live` (or both: numbers tell).
    let (sent, behind) = match resume {
        Some((boot, seq)) => (s.logs.resume_after(boot, seq), true),
        None => (s.logs.after(u64::MAX, 0).1, false),
    };
    let boot = s.logs.boot;
    let lines = Lines {
        ring: s.logs.clone(),
        live,
        replay: VecDeque::new(),
        behind,
        sent,
        stop: s.stopping.subscribe(),
    };
    let events = futures_util::stream::unfold(lines, move |mut l| async move {
        let line = l.next().await?;
        let event = Event::default()
            .event("log")
            .id(format!("{boot}-{}", line.seq))
            .data(serde_json::to_string(&*line).unwrap_or_default());
        Some((Ok(event), l))
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}

/// Lines a catching-up reader copies out of the ring at a time: the ring's
/// lock (which every log line takes) is held for one page, never for the
/// whole ring.
const REPLAY_PAGE: usize = 256;

/// A watcher's place in the log: what it still has to replay, what comes
/// live, and the last number it was sent.
struct Lines {
    ring: Arc<LogRing>,
    live: broadcast::Receiver<Arc<LogLine>>,
    replay: VecDeque<Arc<LogLine>>,
    /// More may be in the ring after `sent` than `live` holds: read it
    /// from the ring, a page at a time, before going live.
    behind: bool,
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
            if self.replay.is_empty() && self.behind {
                let page = self.ring.after(self.sent, REPLAY_PAGE).0;
                // A full page: there may be more.
                self.behind = page.len() == REPLAY_PAGE;
                self.replay = page.into();
            }
            let line = match self.replay.pop_front() {
                Some(line) => line,
                None => tokio::select! {
                    _ = self.stop.wait_for(|s| *s) => return None,
                    got = self.live.recv() => match got {
                        Ok(line) => line,
                        // Fell behind: what was missed is in the ring.
                        Err(RecvError::Lagged(_)) => {
                            self.behind = true;
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
