//! The v2 `check_event` buffer: the latest reports, for clients that poll
//! instead of receiving `post_api` (spec §7, `openqq-original.md` §2.4).
//!
//! Bounded: past `capacity` the oldest report is dropped and counted
//! (`dropped`, shown by `/admin/webhook`), and logged at most once per
//! interval: with nobody polling, every report overflows it, and the
//! original dropped silently.
//! A poll takes everything buffered; on an empty buffer it waits (up to the
//! long-poll limit) for the next report. Several pollers never get `[null]`:
//! each gets real reports or `[]`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Notify;

use crate::throttle::Throttle;

/// One "buffer full" warning per interval at most, for all buffers.
static FULL: Throttle = Throttle::new(Duration::from_secs(60));

/// Clonable handle to the buffer.
#[derive(Clone)]
pub struct ReportBuffer {
    inner: Arc<Inner>,
}

struct Inner {
    /// A std mutex: held for a push or a drain, never across `.await`.
    items: Mutex<VecDeque<Value>>,
    capacity: usize,
    arrived: Notify,
    dropped: AtomicU64,
}

impl ReportBuffer {
    pub fn new(capacity: usize) -> ReportBuffer {
        ReportBuffer {
            inner: Arc::new(Inner {
                items: Mutex::new(VecDeque::new()),
                capacity: capacity.max(1),
                arrived: Notify::new(),
                dropped: AtomicU64::new(0),
            }),
        }
    }

    pub fn push(&self, report: Value) {
        {
            let mut items = self.inner.items.lock().unwrap_or_else(|p| p.into_inner());
            if items.len() == self.inner.capacity {
                items.pop_front();
                let n = self.inner.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if let Some(held_back) = FULL.allow() {
                    tracing::warn!(
                        dropped_total = n,
                        held_back,
                        "check_event buffer full (nobody polls?): oldest report dropped"
                    );
                }
            }
            items.push_back(report);
        }
        self.inner.arrived.notify_waiters();
    }

    fn drain(&self) -> Vec<Value> {
        self.inner
            .items
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
            .collect()
    }

    /// Everything buffered; when empty, waits up to `wait` for the next
    /// report(s). `[]` when none came.
    pub async fn poll(&self, wait: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // Register interest before looking, so a push in between is seen.
            let arrived = self.inner.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            let got = self.drain();
            if !got.is_empty() {
                return got;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                return Vec::new();
            }
        }
    }

    pub fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn bounded_and_drained() {
        let b = ReportBuffer::new(2);
        for i in 0..3 {
            b.push(json!(i));
        }
        assert_eq!(b.dropped(), 1);
        assert_eq!(b.poll(Duration::ZERO).await, vec![json!(1), json!(2)]);
        assert!(b.poll(Duration::from_millis(10)).await.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_poll_gets_the_next_report() {
        let b = ReportBuffer::new(20);
        let poll = tokio::spawn({
            let b = b.clone();
            async move { b.poll(Duration::from_secs(30)).await }
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        b.push(json!("x"));
        assert_eq!(poll.await.unwrap(), vec![json!("x")]);
    }
}
