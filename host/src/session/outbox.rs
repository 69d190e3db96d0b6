//! The outbox: every send goes through it, in order, spaced and retried.
//!
//! A clonable `Outbox` handle talks to the one task that owns spacing, retry
//! counting and the backend's send side (mini-redis's buffered client). A
//! caller awaits its oneshot, so a synchronous API send answers only once QQ
//! has accepted or refused the message (spec §4).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::error::{SendFailure, SessionError};
use crate::backend::{Backend, BackendError};
use crate::model::{MsgId, SendTarget};

/// Outbox settings.
#[derive(Debug, Clone)]
pub struct OutboxConfig {
    /// The least time between two dispatches (the original used 3 s; the
    /// simulator needs none).
    pub spacing: Duration,
    /// How many times a transient failure is retried (0 = one attempt).
    pub retries: u32,
    /// How many sends may wait; a full queue makes callers wait.
    pub queue: usize,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            spacing: Duration::ZERO,
            retries: 2,
            queue: 1024,
        }
    }
}

/// Makes `msg_id`s: a 4-digit prefix from the start time, then a counter
/// (`23910001`, `23910002`, … — spec §4), unique for this process run. The
/// original took `secs % 10000`, which gives a 5–7 digit id one start in
/// ten; the prefix here stays in 1000..=9999 so ids always have 8 digits.
#[derive(Debug)]
pub struct MsgIds {
    next: AtomicU64,
}

impl MsgIds {
    pub fn starting_now() -> MsgIds {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        MsgIds::starting_at((1000 + secs % 9000) * 10_000 + 1)
    }

    pub fn starting_at(first: u64) -> MsgIds {
        MsgIds {
            next: AtomicU64::new(first),
        }
    }

    pub fn next(&self) -> MsgId {
        MsgId(self.next.fetch_add(1, Ordering::Relaxed))
    }
}

struct Job {
    msg_id: MsgId,
    target: SendTarget,
    content: String,
    done: oneshot::Sender<Result<MsgId, SessionError>>,
}

/// The handle through which everything sends.
#[derive(Clone)]
pub struct Outbox {
    jobs: mpsc::Sender<Job>,
    ids: Arc<MsgIds>,
}

impl Outbox {
    /// Starts the outbox task; it ends when every handle is dropped.
    pub fn start(
        backend: Arc<dyn Backend>,
        config: OutboxConfig,
    ) -> (Outbox, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        let task = tokio::spawn(run(backend, config, rx));
        (
            Outbox {
                jobs: tx,
                ids: Arc::new(MsgIds::starting_now()),
            },
            task,
        )
    }

    /// Queues a send and waits for QQ's answer.
    ///
    /// # Errors
    /// `SessionError::Send` with the message's id when it did not go through;
    /// `Closed` when the gateway is stopping.
    pub async fn send(&self, target: SendTarget, content: String) -> Result<MsgId, SessionError> {
        let msg_id = self.ids.next();
        let (done, answer) = oneshot::channel();
        self.jobs
            .send(Job {
                msg_id,
                target,
                content,
                done,
            })
            .await
            .map_err(|_| SessionError::Closed)?;
        answer.await.map_err(|_| SessionError::Closed)?
    }
}

async fn run(backend: Arc<dyn Backend>, config: OutboxConfig, mut jobs: mpsc::Receiver<Job>) {
    let mut last: Option<Instant> = None;
    while let Some(job) = jobs.recv().await {
        let mut attempt = 0;
        let result = loop {
            // No spacing means no timer: even an elapsed `sleep_until` waits
            // for the timer wheel's next millisecond tick, which capped
            // sends at ~1,000/s (found by the benchmarks).
            if let Some(at) = last.filter(|_| !config.spacing.is_zero()) {
                tokio::time::sleep_until(at + config.spacing).await;
            }
            last = Some(Instant::now());
            match backend.send(job.msg_id, &job.target, &job.content).await {
                Ok(()) => break Ok(job.msg_id),
                Err(e) if e.is_transient() && attempt < config.retries => {
                    attempt += 1;
                    tracing::warn!(msg_id = %job.msg_id, attempt, error = %e, "send failed, retrying");
                }
                Err(e) => {
                    let failure = match &e {
                        BackendError::Down(_) if config.retries > 0 => SendFailure::GaveUp,
                        BackendError::Down(_) | BackendError::Protocol(_) => SendFailure::Transport,
                        BackendError::Timeout => SendFailure::Unknown,
                        BackendError::Rejected { .. } | BackendError::NotFound(_) => {
                            SendFailure::Refused
                        }
                    };
                    tracing::warn!(msg_id = %job.msg_id, error = %e, "send failed");
                    break Err(SessionError::Send {
                        msg_id: job.msg_id,
                        failure,
                        info: e.to_string(),
                    });
                }
            }
        };
        // The caller may have gone away (client disconnected); the send stands.
        let _ = job.done.send(result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::sim::{FailureKind, Sim, World};
    use crate::model::Qq;

    fn friend() -> SendTarget {
        SendTarget::Friend {
            id: "1".into(),
            qq: Qq(123456),
        }
    }

    #[test]
    fn msg_ids_have_eight_digits() {
        let first = MsgIds::starting_now().next().0;
        assert!((10_000_000..100_000_000).contains(&first), "{first}");
    }

    #[test]
    fn msg_ids_are_prefix_and_counter() {
        let ids = MsgIds::starting_at(23910001);
        assert_eq!(ids.next(), MsgId(23910001));
        assert_eq!(ids.next(), MsgId(23910002));
    }

    #[tokio::test(start_paused = true)]
    async fn sends_are_spaced() {
        let (tx, _rx) = mpsc::channel(4);
        let sim = Arc::new(Sim::new(World::default_world(), tx));
        let cfg = OutboxConfig {
            spacing: Duration::from_secs(3),
            ..OutboxConfig::default()
        };
        let (outbox, _task) = Outbox::start(sim.clone(), cfg);
        let start = Instant::now();
        for _ in 0..3 {
            outbox.send(friend(), "x".into()).await.unwrap();
        }
        assert_eq!(start.elapsed(), Duration::from_secs(6));
        assert_eq!(sim.sent_after(0).len(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_retried_then_given_up() {
        let (tx, _rx) = mpsc::channel(4);
        let sim = Arc::new(Sim::new(World::default_world(), tx));
        let (outbox, _task) = Outbox::start(
            sim.clone(),
            OutboxConfig {
                retries: 2,
                ..OutboxConfig::default()
            },
        );
        sim.fail_next(2, FailureKind::Down);
        assert!(
            outbox.send(friend(), "x".into()).await.is_ok(),
            "third attempt succeeds"
        );
        sim.fail_next(3, FailureKind::Down);
        let err = outbox.send(friend(), "x".into()).await.unwrap_err();
        assert!(
            matches!(
                err,
                SessionError::Send {
                    failure: SendFailure::GaveUp,
                    ..
                }
            ),
            "{err:?}"
        );
        sim.fail_next(1, FailureKind::Refuse);
        let err = outbox.send(friend(), "x".into()).await.unwrap_err();
        assert!(
            matches!(
                err,
                SessionError::Send {
                    failure: SendFailure::Refused,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(sim.sent_after(0).len(), 1);
    }
}
