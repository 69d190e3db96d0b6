//! The outbox: every send goes through it, spaced and retried.
//!
//! With `spacing`, a clonable `Outbox` handle talks to the one task that
//! owns the pace and the order of sends (mini-redis's buffered client);
//! without it, callers send directly, bounded by `queue`. Either way a
//! caller waits for the outcome, so a synchronous API send answers only once
//! QQ has accepted or refused the message (spec §4).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc, oneshot};
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
    /// How many sends may wait (spaced) or be under way (unspaced); past
    /// that, callers wait.
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
        let secs = crate::clock::unix_now();
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
    done: oneshot::Sender<Sent>,
}

/// A send's outcome, and how many transport faults were retried first.
pub type Sent = (Result<MsgId, SessionError>, u32);

/// The handle through which everything sends.
///
/// With spacing, one task owns the order and the pace of all sends. Without
/// it there is nothing to pace, and handing each send to a task and back
/// costs two thread wake-ups (the benchmarks measured ~8 µs of each API send
/// there), so callers send themselves; a semaphore of `queue` permits still
/// bounds how many sends are under way.
#[derive(Clone)]
pub struct Outbox {
    way: Way,
    ids: Arc<MsgIds>,
    stats: Arc<OutboxStats>,
}

/// The outbox's counters (`/metrics`).
#[derive(Debug, Default)]
pub struct OutboxStats {
    /// Attempts retried after a transport fault.
    pub retried: AtomicU64,
    /// Sends waiting (spaced) or under way right now.
    pub holding: AtomicU64,
}

/// Counts a send as held from its start until it ends — answered, failed,
/// or its caller gone.
struct Holding<'a>(&'a OutboxStats);

impl<'a> Holding<'a> {
    fn new(stats: &'a OutboxStats) -> Self {
        stats.holding.fetch_add(1, Ordering::Relaxed);
        Holding(stats)
    }
}

impl Drop for Holding<'_> {
    fn drop(&mut self) {
        self.0.holding.fetch_sub(1, Ordering::Relaxed);
    }
}

#[derive(Clone)]
enum Way {
    /// Spaced sends: through the outbox task, one at a time.
    Paced(mpsc::Sender<Job>),
    /// Unspaced sends: the caller sends, at most `queue` at once.
    Direct {
        backend: Arc<dyn Backend>,
        retries: u32,
        permits: Arc<Semaphore>,
    },
}

impl Outbox {
    /// Starts the outbox; with spacing, its task ends when every handle is
    /// dropped.
    pub fn start(backend: Arc<dyn Backend>, config: OutboxConfig) -> Outbox {
        let stats = Arc::new(OutboxStats::default());
        let way = if config.spacing.is_zero() {
            Way::Direct {
                backend,
                retries: config.retries,
                permits: Arc::new(Semaphore::new(config.queue.max(1))),
            }
        } else {
            let (tx, rx) = mpsc::channel(config.queue.max(1));
            tokio::spawn(paced(backend, config, rx, stats.clone()));
            Way::Paced(tx)
        };
        Outbox {
            way,
            ids: Arc::new(MsgIds::starting_now()),
            stats,
        }
    }

    pub fn stats(&self) -> &OutboxStats {
        &self.stats
    }

    /// Sends, and waits for QQ's answer.
    ///
    /// # Errors
    /// `SessionError::Send` with the message's id when it did not go through;
    /// `Closed` when the gateway is stopping.
    pub async fn send(&self, target: SendTarget, content: String) -> Result<MsgId, SessionError> {
        self.send_as(self.reserve(), &target, &content).await
    }

    /// A `msg_id` for a send carried out later with `send_as`: a bot learns
    /// its send's id when it asks, the send goes once its call is over.
    pub fn reserve(&self) -> MsgId {
        self.ids.next()
    }

    /// Sends under an id from `reserve`, and waits for QQ's answer.
    ///
    /// # Errors
    /// As `send`.
    pub async fn send_as(
        &self,
        msg_id: MsgId,
        target: &SendTarget,
        content: &str,
    ) -> Result<MsgId, SessionError> {
        self.send_counted(msg_id, target, content).await.0
    }

    /// As `send_as`, with the number of retries it took (for the trace).
    pub async fn send_counted(&self, msg_id: MsgId, target: &SendTarget, content: &str) -> Sent {
        let _holding = Holding::new(&self.stats);
        match &self.way {
            Way::Direct {
                backend,
                retries,
                permits,
            } => {
                let Ok(_permit) = permits.acquire().await else {
                    return (Err(SessionError::Closed), 0);
                };
                attempt(
                    backend.as_ref(),
                    &self.stats,
                    *retries,
                    msg_id,
                    target,
                    content,
                    || async {},
                )
                .await
            }
            Way::Paced(jobs) => {
                let (done, answer) = oneshot::channel();
                // The outbox task owns its queue: the only copies made.
                let queued = jobs
                    .send(Job {
                        msg_id,
                        target: target.clone(),
                        content: content.to_string(),
                        done,
                    })
                    .await;
                if queued.is_err() {
                    return (Err(SessionError::Closed), 0);
                }
                answer.await.unwrap_or((Err(SessionError::Closed), 0))
            }
        }
    }
}

/// The outbox task of a spaced outbox: one send at a time, each attempt at
/// least `spacing` after the one before.
async fn paced(
    backend: Arc<dyn Backend>,
    config: OutboxConfig,
    mut jobs: mpsc::Receiver<Job>,
    stats: Arc<OutboxStats>,
) {
    let mut last: Option<Instant> = None;
    while let Some(job) = jobs.recv().await {
        let result = attempt(
            backend.as_ref(),
            &stats,
            config.retries,
            job.msg_id,
            &job.target,
            &job.content,
            || {
                // An elapsed deadline still waits for the timer's next tick,
                // so only a real wait goes to the timer.
                let now = Instant::now();
                let at = last.map_or(now, |l| (l + config.spacing).max(now));
                last = Some(at);
                async move {
                    if at > now {
                        tokio::time::sleep_until(at).await;
                    }
                }
            },
        )
        .await;
        // The caller may have gone away (client disconnected); the send stands.
        let _ = job.done.send(result);
    }
}

/// How long to wait before retry number `attempt` (1, 2, …): a dropped link
/// takes a moment to come back, so retrying at once would only spend the
/// retries. 0.5 s, doubling, at most 4 s.
fn retry_backoff(attempt: u32) -> Duration {
    Duration::from_millis(500 << attempt.saturating_sub(1).min(3))
}

/// Sends once, retrying transport faults up to `retries` times; `before`
/// runs before each attempt (the paced outbox waits there). Says how many
/// retries it took.
async fn attempt<F, W>(
    backend: &dyn Backend,
    stats: &OutboxStats,
    retries: u32,
    msg_id: MsgId,
    target: &SendTarget,
    content: &str,
    mut before: F,
) -> Sent
where
    F: FnMut() -> W,
    W: std::future::Future<Output = ()>,
{
    let mut attempt = 0;
    loop {
        before().await;
        match backend.send(msg_id, target, content).await {
            Ok(()) => return (Ok(msg_id), attempt),
            Err(e) if e.is_transient() && attempt < retries => {
                attempt += 1;
                stats.retried.fetch_add(1, Ordering::Relaxed);
                let wait = retry_backoff(attempt);
                tracing::warn!(msg_id = %msg_id, attempt, wait_ms = wait.as_millis() as u64, error = %e, "send failed, retrying");
                tokio::time::sleep(wait).await;
            }
            Err(e) => {
                let failure = match &e {
                    BackendError::Down(_) if retries > 0 => SendFailure::GaveUp,
                    BackendError::Down(_) | BackendError::Protocol(_) => SendFailure::Transport,
                    BackendError::Timeout => SendFailure::Unknown,
                    BackendError::Rejected { .. } | BackendError::NotFound(_) => {
                        SendFailure::Refused
                    }
                };
                tracing::warn!(msg_id = %msg_id, error = %e, "send failed");
                let failed = SessionError::Send {
                    msg_id,
                    failure,
                    info: e.to_string(),
                };
                return (Err(failed), attempt);
            }
        }
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

    /// An outbox over the default simulated world, spaced by `spacing`.
    fn over_sim(spacing: Duration) -> (Arc<Sim>, Outbox) {
        let (tx, _rx) = mpsc::channel(4);
        let sim = Arc::new(Sim::new(World::default_world(), tx));
        let cfg = OutboxConfig {
            spacing,
            ..OutboxConfig::default()
        };
        (sim.clone(), Outbox::start(sim, cfg))
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
        let (sim, outbox) = over_sim(Duration::from_secs(3));
        let start = Instant::now();
        for _ in 0..3 {
            outbox.send(friend(), "x".into()).await.unwrap();
        }
        assert_eq!(start.elapsed(), Duration::from_secs(6));
        assert_eq!(sim.sent_after(0).len(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_is_spaced_like_a_send() {
        let (sim, outbox) = over_sim(Duration::from_secs(3));
        sim.fail_next(1, FailureKind::Down);
        let start = Instant::now();
        outbox.send(friend(), "x".into()).await.unwrap();
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(3),
            "one failed attempt, one spaced retry"
        );
        assert_eq!(sim.sent_after(0).len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn unspaced_sends_run_side_by_side() {
        let (sim, outbox) = over_sim(Duration::ZERO);
        let start = Instant::now();
        let sends = (0..10).map(|i| outbox.send(friend(), format!("m{i}")));
        for r in futures_util::future::join_all(sends).await {
            r.unwrap();
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "no timer without spacing");
        assert_eq!(sim.sent_after(0).len(), 10);
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_retried_then_given_up() {
        let (sim, outbox) = over_sim(Duration::ZERO);
        assert_eq!(OutboxConfig::default().retries, 2);
        sim.fail_next(2, FailureKind::Down);
        let start = Instant::now();
        assert!(
            outbox.send(friend(), "x".into()).await.is_ok(),
            "third attempt succeeds"
        );
        assert_eq!(
            start.elapsed(),
            Duration::from_millis(500 + 1000),
            "retries back off: a dropped link needs a moment"
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
        assert_eq!(outbox.stats().retried.load(Ordering::Relaxed), 2 + 2);
        assert_eq!(outbox.stats().holding.load(Ordering::Relaxed), 0);
    }
}
