//! Waiting for something to be there — never for something not to be.
//!
//! Every helper here polls for a *presence* with a deadline and panics when
//! the deadline passes. An absence is proven otherwise: by a later marker
//! on the same ordered path (one chat is handled in order, one session
//! emits in order), by a counter, or in paused time.

use std::future::Future;
use std::time::Duration;

/// How often the helpers look again.
const EVERY: Duration = Duration::from_millis(10);

/// Polls `f` until it returns `Some`, or panics after `limit` naming `what`.
pub async fn poll<T, F, Fut>(what: &str, limit: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(EVERY).await;
    }
}
