//! The background contact refresh: re-reads the contacts every
//! `refresh_secs` (and when poked: the account joined or left a group, or
//! the first read at login failed) and tells the session what changed.
//!
//! Member and friend changes go out as events (`contacts::diff`); a change
//! no event can describe (a group joined, left or renamed, the account
//! itself) goes out as `BackendEvent::Resync`, on which the session re-reads
//! everything through `login`. The new snapshot becomes the backend's copy
//! (`Cache::store`), so the events are not applied to it a second time.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, mpsc};

use super::contacts::{self, Cache};
use super::link::{Link, LinkState};
use crate::backend::BackendEvent;

/// Until contacts were read once, how often the refresh tries again.
const RETRY_EMPTY: Duration = Duration::from_secs(15);

/// Re-reads contacts every `every` (and when poked), until the session is
/// gone.
pub async fn refresh_loop(
    link: Link,
    cache: Arc<Cache>,
    timeout: Duration,
    every: Option<Duration>,
    poke: Arc<Notify>,
    events: mpsc::Sender<BackendEvent>,
) {
    loop {
        // Until contacts were read once, try every RETRY_EMPTY (or sooner,
        // when the refresh interval is shorter).
        let wait = if cache.is_filled() {
            every
        } else {
            Some(every.map_or(RETRY_EMPTY, |e| e.min(RETRY_EMPTY)))
        };
        let timer = async {
            match wait {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = timer => {}
            () = poke.notified() => {}
            () = events.closed() => return,
        }
        let state = *link.state().borrow();
        let LinkState::Up { generation } = state else {
            continue;
        };
        match contacts::fetch(&link, timeout, &cache.snapshot()).await {
            Ok(snap) => {
                let changes = cache.store(snap, generation);
                if changes.resync {
                    tracing::info!(
                        backend = "onebot",
                        "contacts changed on the QQ side; asking the session to re-read them"
                    );
                    if events.send(BackendEvent::Resync).await.is_err() {
                        return;
                    }
                    continue;
                }
                for e in changes.events {
                    if events.send(e).await.is_err() {
                        return;
                    }
                }
            }
            Err(e) => {
                tracing::warn!(backend = "onebot", error = %e, "background contact refresh failed")
            }
        }
    }
}
