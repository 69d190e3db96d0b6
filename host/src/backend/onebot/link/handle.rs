//! The link handle: how the backend calls actions, and where it learns the
//! link's state.
//!
//! A `Link` is cheap to clone (an `Arc`). `call` hands a frame to the
//! current connection and waits for the answer that carries the same
//! `echo` — never for "the next answer": go-cqhttp answers out of order.
//! The calls in flight live here, by echo, so the connection that reads an
//! answer (`connection.rs`) can hand it to its caller, and a connection that
//! ends can fail them all at once (`teardown`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};

use super::{LinkState, lock};
use crate::backend::BackendError;
use crate::backend::onebot::codec::{self, ActionResponse};

/// The handle through which the backend calls actions.
#[derive(Clone)]
pub struct Link {
    shared: Arc<Shared>,
}

struct Shared {
    /// The open connection's outgoing queue; `None` while down. A std mutex:
    /// held only to clone or swap the sender, never across `.await`.
    conn: Mutex<Option<mpsc::Sender<Outgoing>>>,
    /// Calls waiting for their answer, by echo.
    pending: Mutex<HashMap<String, Pending>>,
    next_echo: AtomicU64,
    /// Makes our echoes unique across restarts of the gateway, so a late
    /// answer to a previous process can never match a new call.
    echo_prefix: String,
    generation: AtomicU64,
    state: watch::Sender<LinkState>,
    /// Answers whose echo matched no call (lost or late echoes).
    unmatched: AtomicU64,
}

struct Pending {
    /// Whether the request reached the socket: if the link then drops, the
    /// outcome is unknown (`Timeout`), otherwise nothing was sent (`Down`).
    written: bool,
    reply: oneshot::Sender<Result<ActionResponse, BackendError>>,
}

/// A request on its way to the socket.
pub(super) struct Outgoing {
    pub(super) echo: String,
    pub(super) frame: String,
}

/// Removes a call's pending entry however the call ends (answer, timeout,
/// or the caller being dropped).
struct PendingGuard<'a> {
    shared: &'a Shared,
    echo: String,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        lock(&self.shared.pending).remove(&self.echo);
    }
}

impl Default for Link {
    fn default() -> Self {
        Link::new()
    }
}

impl Link {
    pub fn new() -> Link {
        let (state, _) = watch::channel(LinkState::Connecting);
        Link {
            shared: Arc::new(Shared {
                conn: Mutex::new(None),
                pending: Mutex::new(HashMap::new()),
                next_echo: AtomicU64::new(1),
                echo_prefix: format!("openqq-{:08x}", rand::random::<u32>()),
                generation: AtomicU64::new(0),
                state,
                unmatched: AtomicU64::new(0),
            }),
        }
    }

    /// Watches the link state.
    pub fn state(&self) -> watch::Receiver<LinkState> {
        self.shared.state.subscribe()
    }

    /// The link state now.
    pub fn current(&self) -> LinkState {
        *self.shared.state.borrow()
    }

    /// How many connections came up so far (`/metrics` counts the ones
    /// after the first as reconnects).
    pub fn connections(&self) -> u64 {
        self.shared.generation.load(Ordering::Relaxed)
    }

    /// How many answers matched no call so far.
    #[cfg(test)]
    pub fn unmatched(&self) -> u64 {
        self.shared.unmatched.load(Ordering::Relaxed)
    }

    /// Calls `action` and waits up to `limit` for its answer.
    ///
    /// # Errors
    /// `Down` when not connected or the link closed before the request was
    /// written (safe to retry); `Timeout` when it was written but no answer
    /// came (the outcome is unknown); `Rejected` when the implementation
    /// answered with a status other than `ok`.
    pub async fn call(
        &self,
        action: &str,
        params: Value,
        limit: Duration,
    ) -> Result<Value, BackendError> {
        let n = self.shared.next_echo.fetch_add(1, Ordering::Relaxed);
        let echo = format!("{}-{n}", self.shared.echo_prefix);
        let out = lock(&self.shared.conn).clone().ok_or_else(|| {
            BackendError::Down("not connected to the OneBot implementation".into())
        })?;
        let (reply, answer) = oneshot::channel();
        lock(&self.shared.pending).insert(
            echo.clone(),
            Pending {
                written: false,
                reply,
            },
        );
        let _guard = PendingGuard {
            shared: &self.shared,
            echo: echo.clone(),
        };
        let frame = codec::request(action, params, &echo);
        let exchange = async {
            out.send(Outgoing { echo, frame })
                .await
                .map_err(|_| BackendError::Down("the link closed".into()))?;
            answer
                .await
                .map_err(|_| BackendError::Down("the link closed".into()))?
        };
        match tokio::time::timeout(limit, exchange).await {
            Ok(answer) => answer?.into_result(),
            Err(_) => {
                tracing::warn!(backend = "onebot", action, ?limit, "no answer in time");
                Err(BackendError::Timeout)
            }
        }
    }

    /// Notes that the request with `echo` is about to be written: once it
    /// is, the peer may act on it, so a drop makes its outcome unknown.
    pub(super) fn mark_written(&self, echo: &str) {
        if let Some(p) = lock(&self.shared.pending).get_mut(echo) {
            p.written = true;
        }
    }

    /// Hands an answer to the call waiting for its echo. An answer nobody
    /// waits for is counted and logged, unless it is an auth refusal (which
    /// ends the connection anyway).
    pub(super) fn deliver(&self, r: ActionResponse) {
        let waiting = r
            .echo_key()
            .and_then(|k| lock(&self.shared.pending).remove(&k));
        match waiting {
            Some(p) => {
                let _ = p.reply.send(Ok(r));
            }
            None if r.is_auth_failure() => {}
            None => {
                let total = self.shared.unmatched.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::warn!(
                    backend = "onebot",
                    total,
                    echo = %r.echo,
                    retcode = r.retcode,
                    "an answer matched no call (lost echo or late answer)"
                );
            }
        }
    }

    /// Makes a connection's outgoing queue the one calls use, and marks the
    /// link up. Returns the connection's generation.
    pub(super) fn connected(&self, out: mpsc::Sender<Outgoing>) -> u64 {
        let generation = self.shared.generation.fetch_add(1, Ordering::Relaxed) + 1;
        *lock(&self.shared.conn) = Some(out);
        self.shared.state.send_replace(LinkState::Up { generation });
        tracing::info!(
            backend = "onebot",
            generation,
            "connected to the OneBot implementation"
        );
        generation
    }

    /// Marks the link down and fails every call still waiting. Returns
    /// whether the link was up.
    pub fn teardown(&self, auth_refused: bool) -> bool {
        let was_up = lock(&self.shared.conn).take().is_some();
        self.shared
            .state
            .send_replace(LinkState::Down { auth_refused });
        let waiting: Vec<Pending> = lock(&self.shared.pending).drain().map(|(_, p)| p).collect();
        for p in waiting {
            let e = if p.written {
                BackendError::Timeout
            } else {
                BackendError::Down("the link closed before the request was sent".into())
            };
            let _ = p.reply.send(Err(e));
        }
        was_up
    }

    /// Marks the link down after a refused handshake (HTTP 401/403).
    pub(super) fn refused(&self) {
        self.shared
            .state
            .send_replace(LinkState::Down { auth_refused: true });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::onebot::link::{ConnEnd, LinkEvent, Timing};
    use crate::backend::onebot::testing::{lifecycle, serving};
    use serde_json::json;

    #[tokio::test(start_paused = true)]
    async fn answers_are_matched_by_echo_not_by_order() {
        let link = Link::new();
        let (mut peer, mut events, _task) = serving(&link, Timing::default());
        peer.say(lifecycle()).await;
        assert!(matches!(
            events.recv().await,
            Some(LinkEvent::Up { generation: 1 })
        ));
        let a = tokio::spawn({
            let l = link.clone();
            async move { l.call("a", json!({}), Duration::from_secs(5)).await }
        });
        let first = peer.request().await;
        let b = tokio::spawn({
            let l = link.clone();
            async move { l.call("b", json!({}), Duration::from_secs(5)).await }
        });
        let second = peer.request().await;
        assert_eq!(first["action"], "a");
        assert_eq!(second["action"], "b");
        assert!(first["echo"].is_string());
        // Answer b first, then an answer with a lost echo, then a.
        peer.say(json!({"status": "ok", "retcode": 0, "data": "for b", "echo": second["echo"]}))
            .await;
        peer.say(json!({"status": "ok", "retcode": 0, "data": "lost", "echo": ""}))
            .await;
        peer.say(
            json!({"status": "failed", "retcode": 1200, "message": "no", "echo": first["echo"]}),
        )
        .await;
        assert_eq!(b.await.unwrap(), Ok(json!("for b")));
        assert_eq!(
            a.await.unwrap(),
            Err(BackendError::Rejected {
                retcode: 1200,
                reason: "no".into()
            })
        );
        assert_eq!(link.unmatched(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn unanswered_calls_time_out_and_dropped_links_fail_fast() {
        let link = Link::new();
        assert!(matches!(
            link.call("x", json!({}), Duration::from_secs(1)).await,
            Err(BackendError::Down(_))
        ));
        let (mut peer, mut events, task) = serving(&link, Timing::default());
        peer.say(lifecycle()).await;
        events.recv().await;
        let r = link
            .call("send_private_msg", json!({}), Duration::from_secs(3))
            .await;
        assert_eq!(r, Err(BackendError::Timeout));
        peer.request().await;

        // A call in flight when the link drops: written, so the outcome is unknown.
        let pending = tokio::spawn({
            let l = link.clone();
            async move {
                l.call("send_group_msg", json!({}), Duration::from_secs(30))
                    .await
            }
        });
        peer.request().await;
        drop(peer);
        assert_eq!(pending.await.unwrap(), Err(BackendError::Timeout));
        assert!(matches!(
            task.await.unwrap(),
            ConnEnd::Closed(_) | ConnEnd::Failed(_)
        ));
        assert!(matches!(events.recv().await, Some(LinkEvent::Down)));
        assert!(matches!(
            link.call("x", json!({}), Duration::from_secs(1)).await,
            Err(BackendError::Down(_))
        ));
    }
}
