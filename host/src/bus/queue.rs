//! The reports waiting to be published: bounded, in order, held while NATS
//! is unreachable.
//!
//! Producers never wait: past `bound` reports (waiting plus being
//! published), a new report is dropped and the caller counts it. A batch
//! taken for publishing stays counted until `done`; its failed reports go
//! back to the front, so an outage delays reports and keeps their order.

use std::collections::VecDeque;
use std::sync::Mutex;

use bytes::Bytes;
use tokio::sync::Notify;

/// One report as it goes on the bus.
#[derive(Debug, Clone)]
pub struct Report {
    pub subject: String,
    /// The report id (`Nats-Msg-Id`).
    pub id: String,
    pub body: Bytes,
    /// The answer subject, for reports an answer may act on.
    pub answer: Option<String>,
}

#[derive(Default)]
struct State {
    waiting: VecDeque<Report>,
    in_flight: usize,
    closed: bool,
}

pub struct Queue {
    /// A std mutex: held for a push or a take, never across `.await`.
    state: Mutex<State>,
    bound: usize,
    /// A report was pushed, or the queue closed (one waiter: the publisher).
    wake: Notify,
    /// The queue became empty with nothing in flight.
    idle: Notify,
}

impl Queue {
    pub fn new(bound: usize) -> Queue {
        Queue {
            state: Mutex::new(State::default()),
            bound: bound.max(1),
            wake: Notify::new(),
            idle: Notify::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `r`; gives it back when the queue is full.
    pub fn push(&self, r: Report) -> Result<(), Report> {
        {
            let mut s = self.state();
            if s.waiting.len() + s.in_flight >= self.bound {
                return Err(r);
            }
            s.waiting.push_back(r);
        }
        self.wake.notify_one();
        Ok(())
    }

    /// Up to `max` reports, oldest first, waiting for one; `None` once
    /// closed and empty.
    ///
    /// # Cancel safety
    /// Safe: nothing is taken until the wait is over.
    pub async fn take(&self, max: usize) -> Option<Vec<Report>> {
        loop {
            {
                let mut s = self.state();
                if !s.waiting.is_empty() {
                    let n = s.waiting.len().min(max.max(1));
                    s.in_flight += n;
                    return Some(s.waiting.drain(..n).collect());
                }
                if s.closed && s.in_flight == 0 {
                    return None;
                }
            }
            // `notify_one` keeps a permit when nobody waits yet: a push
            // between the look above and this wait is not missed.
            self.wake.notified().await;
        }
    }

    /// A taken batch is over: `published` went out, `failed` goes back to
    /// the front in its order.
    pub fn done(&self, published: usize, failed: Vec<Report>) {
        let idle = {
            let mut s = self.state();
            s.in_flight = s.in_flight.saturating_sub(published + failed.len());
            for r in failed.into_iter().rev() {
                s.waiting.push_front(r);
            }
            s.waiting.is_empty() && s.in_flight == 0
        };
        if idle {
            self.idle.notify_waiters();
        }
        self.wake.notify_one();
    }

    /// No more reports will come: the publisher ends once the rest is out.
    pub fn close(&self) {
        self.state().closed = true;
        self.wake.notify_one();
    }

    /// Reports waiting or being published.
    pub fn len(&self) -> usize {
        let s = self.state();
        s.waiting.len() + s.in_flight
    }

    /// Resolves once nothing waits and nothing is in flight.
    pub async fn drained(&self) {
        loop {
            let idle = self.idle.notified();
            tokio::pin!(idle);
            // Registered before the look, so a `done` in between wakes us.
            idle.as_mut().enable();
            if self.len() == 0 {
                return;
            }
            idle.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(id: &str) -> Report {
        Report {
            subject: "s".into(),
            id: id.into(),
            body: Bytes::new(),
            answer: None,
        }
    }

    fn ids(v: &[Report]) -> Vec<&str> {
        v.iter().map(|r| r.id.as_str()).collect()
    }

    #[tokio::test]
    async fn bounded_in_order_and_failures_go_back_first() {
        let q = Queue::new(3);
        for id in ["a", "b", "c"] {
            q.push(report(id)).unwrap();
        }
        assert_eq!(q.push(report("d")).unwrap_err().id, "d", "full");
        let batch = q.take(2).await.unwrap();
        assert_eq!(ids(&batch), ["a", "b"]);
        assert!(q.push(report("d")).is_err(), "in flight still counts");
        q.done(0, batch);
        assert_eq!(ids(&q.take(10).await.unwrap()), ["a", "b", "c"]);
        q.done(3, Vec::new());
        assert_eq!(q.len(), 0);
        q.drained().await;
        q.close();
        assert!(q.take(1).await.is_none());
    }
}
