//! `onebot`: real QQ through a OneBot v11 implementation (NapCat,
//! Lagrange.OneBot, LLOneBot, go-cqhttp) over WebSocket.
//!
//! Owns: the link to the implementation, the conversion of its events into
//! `BackendEvent`s, and a copy of the contacts. Must not: know Openqq's
//! dialects or read the config file; the session owns ids (here ids equal
//! the numbers).
//!
//! The parts, one concept each (`spec/onebot.md` is the reference):
//!
//! | file | what it is |
//! |---|---|
//! | `config.rs` | `OnebotConfig`, `OnebotMode`, the URL check |
//! | `mod.rs` | `OneBot`: wiring, and `impl Backend` (login, send, mute, kick) |
//! | `codec/` | JSON ⇄ OneBot frames (pure): the frame and `decode` (`mod.rs`), lenient scalars, actions and responses, events, action data |
//! | `cq.rs`, `faces.rs` | segments, CQ codes, plain-text rendering; face names (pure) |
//! | `link/` | the WebSocket: the handle and echo matching, one connection's loop, the event queue, forward dial, reverse accept |
//! | `inbound/` | the converter: link events → session events; joins held for their member's look-up |
//! | `contacts/` | reading contacts (`mod.rs`), mapping them (`map.rs`), the backend's copy and its diff (`cache.rs`) |
//! | `refresh.rs` | the background re-read of the contacts |
//! | `dedup.rs` | dropping events delivered twice |
//! | `testing.rs` | (tests only) an in-memory WebSocket and a hand-driven implementation |
//!
//! Tasks (all owned by `OneBot`, aborted when it is dropped): the link's
//! (dialing or accepting, one connection at a time), `Inbound` (link events
//! → session events, reading the link's queue directly), and the refresh.
//! An inbound message passes two of them and two queues: the connection
//! reads and decodes it into the link's queue, the converter turns it into
//! a `RawInbound` for the session's channel.

mod codec;
mod config;
mod contacts;
mod cq;
mod dedup;
mod faces;
mod inbound;
mod link;
mod refresh;
#[cfg(test)]
mod testing;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use serde_json::json;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

pub use config::{OnebotConfig, OnebotMode};
/// The CQ-code codec, for tools and tests that speak OneBot themselves.
pub use cq::{Segment, encode};

use self::codec::SendResult;
use self::contacts::Cache;
use self::dedup::Dedup;
use self::inbound::Inbound;
use self::link::{AcceptRules, EventQueue, Link, LinkState, Timing};
use super::{Backend, BackendError, BackendEvent, IdScheme, LoginSnapshot};
use crate::model::{MemberRef, MsgId, SendTarget};

/// How long the first login waits for the link to come up.
const STARTUP_WAIT: Duration = Duration::from_secs(10);
/// How long an event key is remembered for de-duplication.
const DEDUP_TTL: Duration = Duration::from_secs(120);
const DEDUP_CAPACITY: usize = 20_000;

/// The backend. Cheap to share behind an `Arc`.
pub struct OneBot {
    link: Link,
    cache: Arc<Cache>,
    cfg: OnebotConfig,
    /// Asks the refresh task to re-read contacts now.
    refresh: Arc<Notify>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for OneBot {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl OneBot {
    /// Starts the link (dialing, or listening in reverse mode) and the
    /// background tasks. Returns at once; `login` waits for the link.
    ///
    /// # Errors
    /// A bad URL, or a reverse-mode address that cannot be bound.
    pub async fn start(
        cfg: OnebotConfig,
        events: mpsc::Sender<BackendEvent>,
    ) -> anyhow::Result<OneBot> {
        cfg.check()?;
        let link = Link::new();
        let cache = Arc::new(Cache::default());
        let refresh = Arc::new(Notify::new());
        let (queue, link_events) = EventQueue::new();
        let timing = Timing::default();
        let mut tasks = Vec::new();
        match cfg.mode {
            OnebotMode::Forward => tasks.push(tokio::spawn(link::run_forward(
                link.clone(),
                cfg.url.clone(),
                cfg.access_token.clone(),
                queue,
                timing,
            ))),
            OnebotMode::Reverse => {
                let (addr, path) = config::ws_parts(&cfg.url).context("[backend] url")?;
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen for OneBot connections on {addr}"))?;
                tracing::info!(backend = "onebot", url = %cfg.url, "waiting for the OneBot implementation to connect");
                let rules = AcceptRules {
                    path: path.to_string(),
                    token: cfg.access_token.clone(),
                };
                tasks.push(tokio::spawn(link::run_reverse(
                    link.clone(),
                    listener,
                    rules,
                    queue,
                    timing,
                )));
            }
        }
        let inbound = Inbound::new(
            link.clone(),
            cache.clone(),
            events.clone(),
            refresh.clone(),
            cfg.timeout,
            Dedup::new(DEDUP_TTL, DEDUP_CAPACITY),
        );
        tasks.push(tokio::spawn(inbound.run(link_events)));
        tasks.push(tokio::spawn(refresh::refresh_loop(
            link.clone(),
            cache.clone(),
            cfg.timeout,
            cfg.refresh,
            refresh.clone(),
            events,
        )));
        Ok(OneBot {
            link,
            cache,
            cfg,
            refresh,
            tasks,
        })
    }

    async fn call(
        &self,
        action: &str,
        params: serde_json::Value,
        timeout: Duration,
    ) -> Result<serde_json::Value, BackendError> {
        self.link.call(action, params, timeout).await
    }
}

#[async_trait]
impl Backend for OneBot {
    fn name(&self) -> &'static str {
        "onebot"
    }

    fn id_scheme(&self) -> IdScheme {
        IdScheme::Numbers
    }

    /// Reads the account and contacts on the current connection. While the
    /// link is down it serves the contacts last read (the API keeps
    /// answering); the link's next `Up` makes the session ask again.
    async fn login(&self) -> Result<LoginSnapshot, BackendError> {
        let mut state = self.link.state();
        if !self.cache.is_filled() {
            let _ = tokio::time::timeout(
                STARTUP_WAIT,
                state.wait_for(|s| {
                    matches!(
                        s,
                        LinkState::Up { .. } | LinkState::Down { auth_refused: true }
                    )
                }),
            )
            .await;
        }
        let current = *state.borrow();
        let LinkState::Up { generation } = current else {
            tracing::warn!(
                backend = "onebot",
                state = ?current,
                "not connected to the OneBot implementation; serving the contacts last read"
            );
            return Ok(self.cache.snapshot());
        };
        if let Some(snap) = self.cache.fresh(generation) {
            return Ok(snap);
        }
        match contacts::fetch(&self.link, self.cfg.timeout, &self.cache.snapshot()).await {
            Ok(snap) => {
                self.cache.store(snap.clone(), generation);
                tracing::info!(
                    backend = "onebot",
                    qq = %snap.user.qq,
                    friends = snap.friends.len(),
                    groups = snap.groups.len(),
                    "contacts read"
                );
                Ok(snap)
            }
            // The first read must not keep the gateway from starting: serve
            // nothing for now and let the refresh task keep trying.
            Err(e) if !self.cache.is_filled() => {
                tracing::warn!(backend = "onebot", error = %e, "cannot read contacts yet; retrying in the background");
                self.refresh.notify_one();
                Ok(self.cache.snapshot())
            }
            Err(e) => Err(e),
        }
    }

    /// Sends `content` as one text segment, so text that looks like a CQ
    /// code is never interpreted (`spec/onebot.md` §2).
    async fn send(
        &self,
        msg_id: MsgId,
        to: &SendTarget,
        content: &str,
    ) -> Result<(), BackendError> {
        let message = cq::text_message(content);
        let (action, params) = match to {
            SendTarget::Friend { qq, .. } => (
                "send_private_msg",
                json!({"user_id": qq.0, "message": message}),
            ),
            SendTarget::Group { gnumber, .. } => (
                "send_group_msg",
                json!({"group_id": gnumber.0, "message": message}),
            ),
            // A temp message: go-cqhttp and NapCat take the group on
            // send_private_msg; `send_msg` would route differently per
            // implementation.
            SendTarget::GroupSess { gnumber, qq, .. } => (
                "send_private_msg",
                json!({"user_id": qq.0, "group_id": gnumber.0, "message": message}),
            ),
            SendTarget::Discuss { .. } | SendTarget::DiscussSess { .. } => {
                return Err(BackendError::NotFound(
                    "discussions no longer exist on QQ".into(),
                ));
            }
        };
        let data = self.call(action, params, self.cfg.send_timeout).await?;
        let sent: SendResult = codec::object(data).unwrap_or_default();
        tracing::debug!(backend = "onebot", %msg_id, qq_message_id = sent.message_id.0, "sent");
        Ok(())
    }

    /// `set_group_ban` with an explicit `duration`: NapCat's default is 0,
    /// which lifts a mute.
    async fn shutup(&self, target: &MemberRef, seconds: u32) -> Result<(), BackendError> {
        let params =
            json!({"group_id": target.gnumber.0, "user_id": target.qq.0, "duration": seconds});
        self.call("set_group_ban", params, self.cfg.timeout).await?;
        Ok(())
    }

    async fn kick(&self, target: &MemberRef) -> Result<(), BackendError> {
        let params = json!({"group_id": target.gnumber.0, "user_id": target.qq.0, "reject_add_request": false});
        self.call("set_group_kick", params, self.cfg.timeout)
            .await?;
        self.cache.apply(&BackendEvent::MemberLeft {
            group: target.gnumber,
            member: target.qq,
        });
        Ok(())
    }

    fn link(&self) -> super::LinkStatus {
        let state = match self.link.current() {
            LinkState::Connecting => "connecting",
            LinkState::Up { .. } => "up",
            LinkState::Down {
                auth_refused: false,
            } => "down",
            LinkState::Down { auth_refused: true } => "auth_refused",
        };
        super::LinkStatus {
            state,
            reconnects: self.link.connections().saturating_sub(1),
        }
    }
}
