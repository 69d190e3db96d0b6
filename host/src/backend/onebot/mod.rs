//! `onebot`: real QQ through a OneBot v11 implementation (NapCat,
//! Lagrange.OneBot, LLOneBot, go-cqhttp) over WebSocket.
//!
//! Owns: the link to the implementation, the conversion of its events into
//! `BackendEvent`s, and a copy of the contacts. Must not: know Openqq's
//! dialects; the session owns ids (here ids equal the numbers).
//!
//! The parts, one concern each (`spec/onebot.md` is the reference):
//!
//! | file | owns |
//! |---|---|
//! | `codec.rs` | JSON ⇄ action requests, responses, events (pure) |
//! | `cq.rs` | segments, CQ codes, plain-text rendering (pure) |
//! | `link.rs` | the WebSocket: dial/accept, echo matching, pings, reconnects |
//! | `contacts.rs` | reading and mapping contacts; the cache and its diff |
//! | `dedup.rs` | dropping events delivered twice |
//!
//! Tasks (all owned by `OneBot`, aborted when it is dropped): the link's
//! connection loop, `Inbound` (link events → session events), and the
//! background contact refresh.

mod codec;
mod contacts;
mod cq;
mod dedup;
mod faces;
mod link;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use serde_json::json;
use tokio::sync::{Notify, mpsc};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

/// The CQ-code codec, for tools and tests that speak OneBot themselves.
pub use cq::{Segment, encode, escape, parse, render, unescape};

use self::codec::{Event, Id, MessageEvent, Notice, SendResult};
use self::contacts::Cache;
use self::dedup::Dedup;
use self::link::{AcceptRules, Link, LinkEvent, LinkState, Timing};
use super::{Backend, BackendError, BackendEvent, IdScheme, LoginSnapshot, RawChat, RawInbound};
use crate::config::OnebotMode;
use crate::model::{
    Friend, GroupMember, GroupNumber, MemberRef, MemberRole, MsgId, Qq, SendTarget,
};

/// Link events waiting for conversion; a full queue slows the socket reader.
const LINK_QUEUE: usize = 1024;
/// How long the first login waits for the link to come up.
const STARTUP_WAIT: Duration = Duration::from_secs(10);
/// Until contacts were read once, how often the refresh task tries again.
const RETRY_EMPTY: Duration = Duration::from_secs(15);
/// How long an event key is remembered for de-duplication.
const DEDUP_TTL: Duration = Duration::from_secs(120);
const DEDUP_CAPACITY: usize = 20_000;

/// The `onebot` backend's settings (`[backend]` in the config file).
#[derive(Debug, Clone)]
pub struct OnebotConfig {
    /// `ws://host:port/path`: dialed in forward mode, listened on in reverse.
    pub url: String,
    pub access_token: String,
    pub mode: OnebotMode,
    /// Reads and mute/kick.
    pub timeout: Duration,
    /// Sends; past it the outcome is unknown and the send is not retried.
    pub send_timeout: Duration,
    /// Background contact refresh; `None` = only at login and reconnects.
    pub refresh: Option<Duration>,
}

impl OnebotConfig {
    /// Checks the URL.
    ///
    /// # Errors
    /// Not `ws://host[:port]/…` (TLS is not built in: use a loopback URL or
    /// a TLS-terminating proxy).
    pub fn check(&self) -> anyhow::Result<()> {
        if self.url.starts_with("wss://") {
            anyhow::bail!(
                "[backend] url: wss:// is not supported; connect over ws:// on the same host or through a TLS-terminating proxy"
            );
        }
        ws_parts(&self.url).with_context(|| {
            format!("[backend] url {:?} is not a ws://host:port/ URL", self.url)
        })?;
        Ok(())
    }
}

/// `ws://authority/path?query` → (authority, path without the query).
fn ws_parts(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("ws://")?;
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    let path = tail
        .split('?')
        .next()
        .filter(|p| !p.is_empty())
        .unwrap_or("/");
    (!authority.is_empty()).then_some((authority, path))
}

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
        let (link_tx, link_rx) = mpsc::channel(LINK_QUEUE);
        let timing = Timing::default();
        let mut tasks = Vec::new();
        match cfg.mode {
            OnebotMode::Forward => tasks.push(tokio::spawn(link::run_forward(
                link.clone(),
                cfg.url.clone(),
                cfg.access_token.clone(),
                link_tx,
                timing,
            ))),
            OnebotMode::Reverse => {
                let (addr, path) = ws_parts(&cfg.url).context("[backend] url")?;
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
                    link_tx,
                    timing,
                )));
            }
        }
        let inbound = Inbound {
            link: link.clone(),
            cache: cache.clone(),
            events: events.clone(),
            refresh: refresh.clone(),
            timeout: cfg.timeout,
            dedup: Dedup::new(DEDUP_TTL, DEDUP_CAPACITY),
            enrich: JoinSet::new(),
            pending: Vec::new(),
        };
        tasks.push(tokio::spawn(inbound.run(link_rx)));
        tasks.push(tokio::spawn(refresh_loop(
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
}

// ------------------------------------------------------------ inbound

/// Turns link events into session events, in order.
struct Inbound {
    link: Link,
    cache: Arc<Cache>,
    events: mpsc::Sender<BackendEvent>,
    refresh: Arc<Notify>,
    timeout: Duration,
    dedup: Dedup,
    /// Look-ups that fill in a member or friend who just arrived; each ends
    /// by its own timeout, and all end with this task.
    enrich: JoinSet<()>,
    /// Look-ups the last converted event asks for, started once its events
    /// were sent: the update a look-up sends then always follows the join
    /// it completes.
    pending: Vec<Enrich>,
}

/// Who to look up after a join or a new friend.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Enrich {
    Member(GroupNumber, Qq),
    Friend(Qq),
}

impl Inbound {
    async fn run(mut self, mut link_events: mpsc::Receiver<LinkEvent>) {
        loop {
            let ev = tokio::select! {
                ev = link_events.recv() => match ev {
                    Some(ev) => ev,
                    None => return,
                },
                Some(_) = self.enrich.join_next() => continue,
            };
            let out = match ev {
                LinkEvent::Up { generation } => {
                    tracing::debug!(
                        backend = "onebot",
                        generation,
                        "link up; the session re-reads contacts"
                    );
                    vec![BackendEvent::Up]
                }
                LinkEvent::Down => vec![BackendEvent::Down],
                LinkEvent::Event(inc) => {
                    if let Some(key) = &inc.dedup_key
                        && !self.dedup.first_time(key, Instant::now())
                    {
                        tracing::debug!(backend = "onebot", key, "dropped a duplicate event");
                        continue;
                    }
                    self.convert(inc.event)
                }
            };
            for e in out {
                self.cache.apply(&e);
                if self.events.send(e).await.is_err() {
                    return;
                }
            }
            for job in std::mem::take(&mut self.pending) {
                match job {
                    Enrich::Member(group, qq) => self.enrich_member(group, qq),
                    Enrich::Friend(qq) => self.enrich_friend(qq),
                }
            }
        }
    }

    fn convert(&mut self, event: Event) -> Vec<BackendEvent> {
        match event {
            Event::Message(m) => self
                .message(m)
                .map(BackendEvent::Message)
                .into_iter()
                .collect(),
            Event::Notice(n) => self.notice(n),
            Event::Meta(_) => Vec::new(),
            // A lost message is worth seeing by default: the implementation
            // sent something we cannot read (a field of an unexpected type).
            Event::Undecodable {
                post_type,
                reason,
                excerpt,
            } => {
                tracing::warn!(
                    backend = "onebot",
                    post_type,
                    %reason,
                    frame = %excerpt,
                    "dropped an event whose fields could not be read"
                );
                Vec::new()
            }
            Event::Other { post_type, .. } => {
                // `message_sent` (our own sends) and requests have no Openqq
                // counterpart.
                tracing::debug!(backend = "onebot", post_type, "ignored an event");
                Vec::new()
            }
        }
    }

    fn message(&self, m: MessageEvent) -> Option<RawInbound> {
        let Some(sender) = m.user_id.qq() else {
            warn_dropped(&m, "no usable user_id (the sender)");
            return None;
        };
        // Some implementations report the account's own messages as
        // messages: never feed them to bots (reply loops).
        if Some(sender) == self.cache.me() || m.self_id.qq() == Some(sender) {
            return None;
        }
        let from = match m.message_type.0.as_str() {
            "group" => match m.group_id.and_then(Id::group) {
                Some(n) => RawChat::Group(n),
                None => {
                    warn_dropped(&m, "a group message without a usable group_id");
                    return None;
                }
            },
            "private" if m.sub_type.0 == "group" => {
                m.temp_group().map_or(RawChat::Friend, RawChat::GroupSess)
            }
            "private" => RawChat::Friend,
            _ => {
                // `discuss` (CQHTTP v4) or an extension: nowhere to put it.
                warn_dropped(&m, "an unknown message_type");
                return None;
            }
        };
        let mut segments = cq::segments(&m.message);
        if segments.is_empty() {
            segments = cq::parse(&m.raw_message.0);
        }
        let group = match from {
            RawChat::Group(n) | RawChat::GroupSess(n) => Some(n),
            _ => None,
        };
        let content = cq::render(&segments, |qq| {
            qq.parse()
                .ok()
                .and_then(|q| self.cache.name_of(group, Qq(q)))
        });
        let time = u64::try_from(m.time.0)
            .ok()
            .filter(|&t| t > 0)
            .unwrap_or_else(unix_now);
        Some(RawInbound {
            msg_id: m.message_id.0.to_string(),
            time,
            from,
            sender,
            content,
        })
    }

    fn notice(&mut self, n: Notice) -> Vec<BackendEvent> {
        let me = self.cache.me();
        match n {
            Notice::GroupIncrease {
                group_id,
                user_id,
                time,
            } => {
                let (Some(group), Some(qq)) = (group_id.group(), user_id.qq()) else {
                    return Vec::new();
                };
                if Some(qq) == me {
                    tracing::info!(backend = "onebot", %group, "the account joined a group; re-reading contacts");
                    self.refresh.notify_one();
                    return Vec::new();
                }
                // Already a member: a second notice for the same join (NapCat
                // #574 sends invites twice, with different bodies), or a
                // re-read saw them first and already reported the join.
                if self.cache.has_member(group, qq) {
                    tracing::debug!(backend = "onebot", %group, %qq, "a join notice for a known member; not a new join");
                    return Vec::new();
                }
                // The join is reported now with what is known at once (the
                // nick from the friend list or another group, the notice's
                // time); the look-up's card, role and level follow as a
                // silent update, so the event path never waits on it.
                self.pending.push(Enrich::Member(group, qq));
                let join_time = u64::try_from(time.0)
                    .ok()
                    .filter(|&t| t > 0)
                    .unwrap_or_else(unix_now);
                vec![BackendEvent::MemberJoined {
                    group,
                    member: GroupMember {
                        qq,
                        nick: self.cache.nick_of(qq).unwrap_or_default(),
                        role: MemberRole::Member,
                        join_time: join_time.to_string(),
                        ..GroupMember::default()
                    },
                }]
            }
            Notice::GroupDecrease {
                group_id,
                user_id,
                sub_type,
            } => {
                let (Some(group), Some(qq)) = (group_id.group(), user_id.qq()) else {
                    return Vec::new();
                };
                if Some(qq) == me || sub_type == "kick_me" || sub_type == "disband" {
                    tracing::info!(backend = "onebot", %group, sub_type, "the account left a group; re-reading contacts");
                    self.refresh.notify_one();
                    return Vec::new();
                }
                vec![BackendEvent::MemberLeft { group, member: qq }]
            }
            Notice::FriendAdd { user_id } => {
                let Some(qq) = user_id.qq() else {
                    return Vec::new();
                };
                // NapCat-Docker#78: the same friend-add pushed several times.
                if self.cache.has_friend(qq) {
                    tracing::debug!(backend = "onebot", %qq, "a friend-add notice for a known friend; not a new friend");
                    return Vec::new();
                }
                self.pending.push(Enrich::Friend(qq));
                vec![BackendEvent::FriendAdded(Friend {
                    qq,
                    nick: self.cache.nick_of(qq).unwrap_or_default(),
                    ..Friend::default()
                })]
            }
            Notice::BotOffline { .. } | Notice::Other { .. } => Vec::new(),
        }
    }

    /// Fills in a member who just joined (one look-up, off the event path).
    fn enrich_member(&mut self, group: GroupNumber, qq: Qq) {
        let (link, cache, events, timeout) = self.parts();
        self.enrich.spawn(async move {
            let params = json!({"group_id": group.0, "user_id": qq.0, "no_cache": false});
            let Ok(data) = link.call("get_group_member_info", params, timeout).await else {
                return;
            };
            let Some(member) = codec::object(data).ok().as_ref().and_then(contacts::member) else {
                return;
            };
            // Only if they are still there (a leave may have come meanwhile)
            // and only if it says something new. The join was reported
            // already: this is an update, never a second join.
            if member.qq == qq && cache.member(group, qq).is_some_and(|m| m != member) {
                let e = BackendEvent::MemberUpdated { group, member };
                cache.apply(&e);
                let _ = events.send(e).await;
            }
        });
    }

    /// Fills in a friend who was just added.
    fn enrich_friend(&mut self, qq: Qq) {
        let (link, cache, events, timeout) = self.parts();
        self.enrich.spawn(async move {
            let params = json!({"user_id": qq.0, "no_cache": false});
            let Ok(data) = link.call("get_stranger_info", params, timeout).await else {
                return;
            };
            let Ok(info) = codec::object::<codec::StrangerInfo>(data) else {
                return;
            };
            // The nick only: a remark a re-read brought meanwhile is kept.
            // An update, as for members: the add was reported already.
            let Some(known) = cache.friend(qq) else {
                return;
            };
            if info.nickname.0.is_empty() || info.nickname.0 == known.nick {
                return;
            }
            let e = BackendEvent::FriendUpdated(Friend {
                nick: info.nickname.0,
                ..known
            });
            cache.apply(&e);
            let _ = events.send(e).await;
        });
    }

    fn parts(&self) -> (Link, Arc<Cache>, mpsc::Sender<BackendEvent>, Duration) {
        (
            self.link.clone(),
            self.cache.clone(),
            self.events.clone(),
            self.timeout,
        )
    }
}

/// Says at `warn` that a message was dropped, why, and what it was (its
/// identifying fields and the start of its text).
fn warn_dropped(m: &MessageEvent, reason: &str) {
    let what = format!(
        "message_type={:?} sub_type={:?} message_id={} user_id={} group_id={} raw_message={:?}",
        m.message_type.0,
        m.sub_type.0,
        m.message_id.0,
        m.user_id.0,
        m.group_id
            .map_or_else(|| "none".to_string(), |g| g.0.to_string()),
        m.raw_message.0,
    );
    tracing::warn!(
        backend = "onebot",
        reason,
        frame = %codec::excerpt(&what),
        "dropped a message"
    );
}

/// Re-reads contacts every `every` (and when poked), and tells the session
/// what changed: member and friend changes as events, anything else as a
/// request to re-read everything (`Up`; the session's answer to it is
/// exactly a re-sync).
async fn refresh_loop(
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

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_address_and_path() {
        assert_eq!(
            ws_parts("ws://127.0.0.1:3001/"),
            Some(("127.0.0.1:3001", "/"))
        );
        assert_eq!(
            ws_parts("ws://127.0.0.1:8080"),
            Some(("127.0.0.1:8080", "/"))
        );
        assert_eq!(
            ws_parts("ws://localhost:8080/onebot/v11/ws?x=1"),
            Some(("localhost:8080", "/onebot/v11/ws"))
        );
        assert_eq!(ws_parts("ws://h:1?access_token=t"), Some(("h:1", "/")));
        assert_eq!(ws_parts("http://h/"), None);
        assert_eq!(ws_parts("ws:///x"), None);
    }

    fn inbound() -> (Inbound, mpsc::Receiver<BackendEvent>) {
        let (tx, rx) = mpsc::channel(16);
        (
            Inbound {
                link: Link::new(),
                cache: Arc::new(Cache::default()),
                events: tx,
                refresh: Arc::new(Notify::new()),
                timeout: Duration::from_secs(1),
                dedup: Dedup::new(DEDUP_TTL, 100),
                enrich: JoinSet::new(),
                pending: Vec::new(),
            },
            rx,
        )
    }

    fn event(v: serde_json::Value) -> Event {
        match codec::decode(&v.to_string()).unwrap() {
            codec::Frame::Event(inc) => inc.event,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn messages_become_raw_inbound_per_chat_kind() {
        let (mut ib, _rx) = inbound();
        let group = event(
            json!({"post_type": "message", "message_type": "group", "message_id": 3000000000i64,
            "group_id": 552603, "user_id": 888888, "time": 1700000000,
            "message": "[CQ:at,qq=1]hi &#91;x&#93;"}),
        );
        let out = ib.convert(group);
        let [BackendEvent::Message(m)] = out.as_slice() else {
            panic!("{out:?}")
        };
        assert_eq!(m.from, RawChat::Group(GroupNumber(552603)));
        assert_eq!(m.msg_id, "3000000000");
        assert_eq!(m.time, 1700000000);
        assert_eq!(m.content, "@1hi [x]");

        let temp = event(
            json!({"post_type": "message", "message_type": "private", "sub_type": "group",
            "message_id": 1, "user_id": 5, "group_id": 552603, "message": [{"type": "text", "data": {"text": "t"}}]}),
        );
        let out = ib.convert(temp);
        assert!(
            matches!(&out[0], BackendEvent::Message(m) if m.from == RawChat::GroupSess(GroupNumber(552603)))
        );

        let friend = event(
            json!({"post_type": "message", "message_type": "private", "sub_type": "friend",
            "message_id": 2, "user_id": 5, "self_id": 10001, "message": [], "raw_message": "raw"}),
        );
        let out = ib.convert(friend);
        assert!(
            matches!(&out[0], BackendEvent::Message(m) if m.from == RawChat::Friend && m.content == "raw")
        );

        // The account's own message is not an inbound message.
        let own = event(
            json!({"post_type": "message", "message_type": "group", "message_id": 3,
            "group_id": 1, "user_id": 10001, "self_id": 10001, "message": "x"}),
        );
        assert!(ib.convert(own).is_empty());
    }

    #[tokio::test]
    async fn notices_become_contact_events() {
        let (mut ib, _rx) = inbound();
        let join = event(
            json!({"post_type": "notice", "notice_type": "group_increase", "group_id": 1, "user_id": 7, "time": 1700000123}),
        );
        let out = ib.convert(join);
        assert!(
            matches!(&out[..], [BackendEvent::MemberJoined { member, .. }] if member.qq == Qq(7) && member.join_time == "1700000123"),
            "{out:?}"
        );
        // The look-up is asked for, to start once the join was sent.
        assert_eq!(ib.pending, [Enrich::Member(GroupNumber(1), Qq(7))]);
        let leave = event(
            json!({"post_type": "notice", "notice_type": "group_decrease", "sub_type": "leave", "group_id": 1, "user_id": 7}),
        );
        assert_eq!(
            ib.convert(leave),
            vec![BackendEvent::MemberLeft {
                group: GroupNumber(1),
                member: Qq(7)
            }]
        );
        let kicked_me = event(
            json!({"post_type": "notice", "notice_type": "group_decrease", "sub_type": "kick_me", "group_id": 1, "user_id": 9}),
        );
        assert!(ib.convert(kicked_me).is_empty());
        let friend =
            event(json!({"post_type": "notice", "notice_type": "friend_add", "user_id": 8}));
        let out = ib.convert(friend.clone());
        assert!(matches!(&out[..], [BackendEvent::FriendAdded(f)] if f.qq == Qq(8)));
        // Once known, the same notice again is no second add (NapCat-Docker#78).
        ib.cache.apply(&out[0]);
        assert!(ib.convert(friend).is_empty());
        let poke =
            event(json!({"post_type": "notice", "notice_type": "notify", "sub_type": "poke"}));
        assert!(ib.convert(poke).is_empty());
    }

    /// Regression: a join was reported twice, the look-up's details as a
    /// second join; and a second notice for a known member joined again.
    #[tokio::test]
    async fn a_join_is_reported_once_with_what_is_known() {
        let (mut ib, _rx) = inbound();
        let n = GroupNumber(552603);
        let mut snap = LoginSnapshot::default();
        snap.friends.upsert(Friend {
            qq: Qq(7),
            nick: "七".into(),
            ..Friend::default()
        });
        snap.groups.upsert(crate::model::Group {
            gnumber: n,
            ..crate::model::Group::default()
        });
        ib.cache.store(snap, 1);
        let join = event(
            json!({"post_type": "notice", "notice_type": "group_increase", "group_id": 552603, "user_id": 7}),
        );
        let out = ib.convert(join);
        let [BackendEvent::MemberJoined { member, .. }] = out.as_slice() else {
            panic!("{out:?}")
        };
        assert_eq!(
            member.nick, "七",
            "the friend list's nick, before any look-up"
        );
        assert!(!member.join_time.is_empty());
        ib.cache.apply(&out[0]);
        // The same join notified again, with another body: not a new join.
        let again = event(
            json!({"post_type": "notice", "notice_type": "group_increase", "sub_type": "invite", "group_id": 552603, "user_id": 7, "operator_id": 1}),
        );
        assert!(ib.convert(again).is_empty());
    }
}
