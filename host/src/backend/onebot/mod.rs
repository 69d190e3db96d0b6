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

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use futures_util::future::{BoxFuture, FutureExt};
use futures_util::stream::{FuturesUnordered, StreamExt};
use serde_json::json;
use tokio::sync::{Notify, Semaphore, mpsc, oneshot};
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
use crate::throttle::Throttle;

/// Link events waiting for conversion; a full queue slows the socket reader.
const LINK_QUEUE: usize = 1024;
/// How long the first login waits for the link to come up.
const STARTUP_WAIT: Duration = Duration::from_secs(10);
/// Until contacts were read once, how often the refresh task tries again.
const RETRY_EMPTY: Duration = Duration::from_secs(15);
/// How long an event key is remembered for de-duplication.
const DEDUP_TTL: Duration = Duration::from_secs(120);
const DEDUP_CAPACITY: usize = 20_000;
/// How long a join waits for the member's look-up before it is reported
/// with what is known (at most `[backend] timeout_secs`): NapCat takes 2–6 s
/// to ask QQ's servers (`spec/onebot.md` §5). The group's later events wait
/// as long.
const JOIN_WAIT: Duration = Duration::from_secs(5);

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
        let inbound = Inbound::new(
            link.clone(),
            cache.clone(),
            events.clone(),
            refresh.clone(),
            cfg.timeout,
            Dedup::new(DEDUP_TTL, DEDUP_CAPACITY),
        );
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
///
/// A member who joins is looked up before the join is reported (for at
/// most `join_wait` from the notice), so the first `new_group_member`
/// carries their name. Meanwhile the group's later events wait behind the
/// join (in `held`), every other chat's go on, and so do further joins'
/// look-ups, at once: a burst of joins in one group holds it for about one
/// look-up, not one per join. Nothing here waits on a look-up itself: the
/// loop keeps taking link events while they run.
struct Inbound {
    link: Link,
    cache: Arc<Cache>,
    events: mpsc::Sender<BackendEvent>,
    refresh: Arc<Notify>,
    timeout: Duration,
    /// How long a join waits for its member's look-up.
    join_wait: Duration,
    /// Member look-ups running at once; more wait for a place (within their
    /// join's wait).
    lookups: Arc<Semaphore>,
    dedup: Dedup,
    /// Look-ups (members who join, friends just added, and a member's
    /// look-up that outlived `join_wait`); each ends by its own timeout, and
    /// all end with this task.
    enrich: JoinSet<()>,
    /// Joins waiting for their member's look-up, each for `join_wait` at most.
    joins: FuturesUnordered<BoxFuture<'static, (GroupNumber, u64, Looked)>>,
    next_join: u64,
    /// For each group with a join being looked up, its joins and its other
    /// events in arrival order, reported in that order as the joins are
    /// settled.
    held: HashMap<GroupNumber, VecDeque<Held>>,
    /// Friend look-ups the last converted event asks for, started once its
    /// events were sent: the update a look-up sends then always follows the
    /// add it completes.
    pending: Vec<Qq>,
}

/// Something waiting behind a join in its group.
/// Both boxed: a queue of them costs a pointer per event.
enum Held {
    Event(Box<Event>),
    Join(Box<Join>),
}

/// A member's join, waiting for their look-up.
struct Join {
    id: u64,
    /// What was known without the look-up (the fallback name, the notice's
    /// time).
    known: GroupMember,
    /// `None` while the look-up runs (and `join_wait` has not passed).
    outcome: Option<Looked>,
}

/// How a join's look-up ended.
struct Looked {
    /// The member, when the look-up answered within `join_wait`.
    found: Option<GroupMember>,
    /// A look-up still running after `join_wait`: its answer becomes an
    /// update.
    late: Option<oneshot::Receiver<Option<GroupMember>>>,
}

/// Member look-ups at once (a burst of joins, or NapCat#87's flood of
/// notices right after login, must not flood the implementation).
const LOOKUPS_AT_ONCE: usize = 8;

/// A join reported with the fallback name (the look-up failed or was slow).
static JOIN_FALLBACK: Throttle = Throttle::new(Duration::from_secs(60));

impl Inbound {
    fn new(
        link: Link,
        cache: Arc<Cache>,
        events: mpsc::Sender<BackendEvent>,
        refresh: Arc<Notify>,
        timeout: Duration,
        dedup: Dedup,
    ) -> Inbound {
        Inbound {
            link,
            cache,
            events,
            refresh,
            timeout,
            join_wait: JOIN_WAIT.min(timeout),
            lookups: Arc::new(Semaphore::new(LOOKUPS_AT_ONCE)),
            dedup,
            enrich: JoinSet::new(),
            joins: FuturesUnordered::new(),
            next_join: 0,
            held: HashMap::new(),
            pending: Vec::new(),
        }
    }

    async fn run(mut self, mut link_events: mpsc::Receiver<LinkEvent>) {
        loop {
            let sent = tokio::select! {
                ev = link_events.recv() => match ev {
                    Some(ev) => self.on_link(ev).await,
                    None => return,
                },
                Some((group, id, looked)) = self.joins.next(), if !self.joins.is_empty() => {
                    self.settled(group, id, looked).await
                }
                Some(_) = self.enrich.join_next() => true,
            };
            if !sent {
                return;
            }
        }
    }

    /// Handles one link event; `false` once the session is gone.
    async fn on_link(&mut self, ev: LinkEvent) -> bool {
        match ev {
            LinkEvent::Up { generation } => {
                tracing::debug!(
                    backend = "onebot",
                    generation,
                    "link up; the session re-reads contacts"
                );
                self.send(vec![BackendEvent::Up]).await
            }
            LinkEvent::Down => self.send(vec![BackendEvent::Down]).await,
            LinkEvent::Event(inc) => {
                if let Some(key) = &inc.dedup_key
                    && !self.dedup.first_time(key, Instant::now())
                {
                    tracing::debug!(backend = "onebot", key, "dropped a duplicate event");
                    return true;
                }
                // Behind a join: wait. A join itself is converted at once
                // (its look-up starts now, and it takes its place in line).
                let is_join = matches!(inc.event, Event::Notice(Notice::GroupIncrease { .. }));
                if !is_join
                    && let Some(queue) = group_of(&inc.event).and_then(|g| self.held.get_mut(&g))
                {
                    queue.push_back(Held::Event(Box::new(inc.event)));
                    return true;
                }
                let out = self.convert(inc.event);
                self.send(out).await
            }
        }
    }

    /// Sends converted events to the session (mirroring them in the cache),
    /// then starts the friend look-ups they asked for.
    async fn send(&mut self, out: Vec<BackendEvent>) -> bool {
        for e in out {
            self.cache.apply(&e);
            if self.events.send(e).await.is_err() {
                return false;
            }
        }
        for qq in std::mem::take(&mut self.pending) {
            self.enrich_friend(qq);
        }
        true
    }

    /// A join's look-up ended (or `join_wait` passed): reports what its
    /// group holds, in order, up to the next join still being looked up.
    async fn settled(&mut self, group: GroupNumber, id: u64, looked: Looked) -> bool {
        let Some(queue) = self.held.get_mut(&group) else {
            return true;
        };
        if let Some(join) = queue.iter_mut().find_map(|h| match h {
            Held::Join(j) if j.id == id => Some(j),
            _ => None,
        }) {
            join.outcome = Some(looked);
        }
        loop {
            let Some(queue) = self.held.get_mut(&group) else {
                return true;
            };
            let ready = match queue.front() {
                None => {
                    self.held.remove(&group);
                    return true;
                }
                Some(Held::Join(j)) => j.outcome.is_some(),
                Some(Held::Event(_)) => true,
            };
            if !ready {
                return true;
            }
            let out = match queue.pop_front() {
                Some(Held::Event(e)) => self.convert(*e),
                Some(Held::Join(j)) => self.report_join(group, *j),
                None => Vec::new(),
            };
            if !self.send(out).await {
                return false;
            }
        }
    }

    /// The join of a member whose look-up ended: with the look-up's member,
    /// or with what was known (and the look-up, if still running, to fill
    /// in the rest later).
    fn report_join(&mut self, group: GroupNumber, join: Join) -> Vec<BackendEvent> {
        let Join { known, outcome, .. } = join;
        let qq = known.qq;
        self.cache.end_join(group, qq);
        let (found, late) = outcome.map_or((None, None), |o| (o.found, o.late));
        let member = match found {
            Some(found) => completed(found, &known),
            None => {
                if let Some(held_back) = JOIN_FALLBACK.allow() {
                    tracing::warn!(
                        backend = "onebot",
                        %group,
                        %qq,
                        name = %known.nick,
                        held_back,
                        "a member who joined could not be looked up in time; reported with the name known so far"
                    );
                }
                if let Some(late) = late {
                    self.enrich_late_member(group, known.clone(), late);
                }
                known
            }
        };
        vec![BackendEvent::MemberJoined { group, member }]
    }

    /// Whether `qq` is a member of `group` once what the group holds is
    /// reported: a join notice for them is then no new join (NapCat#574
    /// sends some twice).
    fn will_be_member(&self, group: GroupNumber, qq: Qq) -> bool {
        let mut member = self.cache.has_member(group, qq);
        for h in self.held.get(&group).into_iter().flatten() {
            match h {
                Held::Join(j) if j.known.qq == qq => member = true,
                Held::Event(e) => {
                    if let Event::Notice(Notice::GroupDecrease { user_id, .. }) = e.as_ref()
                        && user_id.qq() == Some(qq)
                    {
                        member = false;
                    }
                }
                Held::Join(_) => {}
            }
        }
        member
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
            .unwrap_or_else(crate::clock::unix_now);
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
                if self.will_be_member(group, qq) {
                    tracing::debug!(backend = "onebot", %group, %qq, "a join notice for a known member; not a new join");
                    return Vec::new();
                }
                // The join waits for the member's look-up (bounded by
                // `join_wait`), so it is reported with their name; what is
                // known now (a nick from the friend list or another group,
                // else the number; the notice's time) stands in when the
                // look-up fails or is slow.
                let join_time = u64::try_from(time.0)
                    .ok()
                    .filter(|&t| t > 0)
                    .unwrap_or_else(crate::clock::unix_now);
                let known = GroupMember {
                    qq,
                    nick: self.cache.nick_of(qq).unwrap_or_else(|| qq.0.to_string()),
                    role: MemberRole::Member,
                    join_time: join_time.to_string(),
                    ..GroupMember::default()
                };
                self.begin_join(group, known);
                Vec::new()
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
                self.pending.push(qq);
                vec![BackendEvent::FriendAdded(Friend {
                    qq,
                    nick: self.cache.nick_of(qq).unwrap_or_default(),
                    ..Friend::default()
                })]
            }
            Notice::BotOffline { .. } | Notice::Other { .. } => Vec::new(),
        }
    }

    /// Starts looking up a member who joined `group`; the join waits in the
    /// group's line, and holds what comes after it, until the look-up ends
    /// or `join_wait` passes (`settled`).
    fn begin_join(&mut self, group: GroupNumber, known: GroupMember) {
        let (link, timeout, lookups) = (self.link.clone(), self.timeout, self.lookups.clone());
        let qq = known.qq;
        let (tx, mut rx) = oneshot::channel();
        self.enrich.spawn(async move {
            // The semaphore is never closed; a look-up without a place is
            // no look-up.
            let Ok(_place) = lookups.acquire_owned().await else {
                return;
            };
            let _ = tx.send(look_up_member(&link, group, qq, timeout).await);
        });
        let (wait, id) = (self.join_wait, self.next_join);
        self.next_join += 1;
        self.joins.push(
            async move {
                let looked = match tokio::time::timeout(wait, &mut rx).await {
                    Ok(found) => Looked {
                        found: found.ok().flatten(),
                        late: None,
                    },
                    Err(_) => Looked {
                        found: None,
                        late: Some(rx),
                    },
                };
                (group, id, looked)
            }
            .boxed(),
        );
        self.cache.begin_join(group, qq);
        self.held
            .entry(group)
            .or_default()
            .push_back(Held::Join(Box::new(Join {
                id,
                known,
                outcome: None,
            })));
    }

    /// Fills in a member whose join was reported with the fallback name,
    /// once the look-up that was too slow answers: an update, never a
    /// second join.
    fn enrich_late_member(
        &mut self,
        group: GroupNumber,
        known: GroupMember,
        late: oneshot::Receiver<Option<GroupMember>>,
    ) {
        let (cache, events) = (self.cache.clone(), self.events.clone());
        self.enrich.spawn(async move {
            let Ok(Some(found)) = late.await else {
                return;
            };
            let member = completed(found, &known);
            // Only if they are still there (a leave may have come meanwhile)
            // and only if it says something new.
            if cache.member(group, member.qq).is_some_and(|m| m != member) {
                let e = BackendEvent::MemberUpdated { group, member };
                cache.apply(&e);
                let _ = events.send(e).await;
            }
        });
    }

    /// Fills in a friend who was just added.
    fn enrich_friend(&mut self, qq: Qq) {
        let (link, cache, events, timeout) = (
            self.link.clone(),
            self.cache.clone(),
            self.events.clone(),
            self.timeout,
        );
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
}

/// Looks up a member who just joined: first as the implementation has them
/// at hand (`no_cache: false`: go-cqhttp adds a joining member to its cache
/// before it reports the join, and NapCat answers at once or fails within
/// ~250 ms), then from QQ's servers (`no_cache: true`: NapCat waits up to
/// 5 s for it). `None` when neither gives a member with a nick.
async fn look_up_member(
    link: &Link,
    group: GroupNumber,
    qq: Qq,
    timeout: Duration,
) -> Option<GroupMember> {
    for no_cache in [false, true] {
        let params = json!({"group_id": group.0, "user_id": qq.0, "no_cache": no_cache});
        match link.call("get_group_member_info", params, timeout).await {
            Ok(data) => {
                let member = codec::object(data)
                    .ok()
                    .as_ref()
                    .and_then(contacts::member)
                    .filter(|m| m.qq == qq && !m.nick.is_empty());
                if member.is_some() {
                    return member;
                }
            }
            // Not connected: asking again cannot help.
            Err(BackendError::Down(_)) => return None,
            Err(e) => {
                tracing::debug!(backend = "onebot", %group, %qq, no_cache, error = %e, "member look-up failed");
            }
        }
    }
    None
}

/// A looked-up member, with the notice's join time when the look-up has
/// none.
fn completed(mut found: GroupMember, known: &GroupMember) -> GroupMember {
    if found.join_time.is_empty() || found.join_time == "0" {
        found.join_time.clone_from(&known.join_time);
    }
    found
}

/// The group an event belongs to: a group message, a temporary message via
/// a group, a member's join or leave.
fn group_of(event: &Event) -> Option<GroupNumber> {
    match event {
        Event::Message(m) => match m.message_type.0.as_str() {
            "group" => m.group_id.and_then(Id::group),
            "private" if m.sub_type.0 == "group" => m.temp_group(),
            _ => None,
        },
        Event::Notice(
            Notice::GroupIncrease { group_id, .. } | Notice::GroupDecrease { group_id, .. },
        ) => group_id.group(),
        _ => None,
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_tungstenite::tungstenite::Message;

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
            Inbound::new(
                Link::new(),
                Arc::new(Cache::default()),
                tx,
                Arc::new(Notify::new()),
                Duration::from_secs(1),
                Dedup::new(DEDUP_TTL, 100),
            ),
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
        // The join waits for the member's look-up, and the group with it.
        assert!(ib.convert(join).is_empty());
        assert_eq!(ib.joins.len(), 1);
        assert!(ib.held.contains_key(&GroupNumber(1)));
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
    /// With no answer (here: not connected), the join still comes, with the
    /// nick the friend list knows.
    #[tokio::test]
    async fn a_join_is_reported_once_with_what_is_known() {
        let (mut ib, mut rx) = inbound();
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
        assert!(ib.convert(join).is_empty());
        let (group, id, looked) = ib.joins.next().await.expect("a join waits");
        assert!(ib.settled(group, id, looked).await);
        let Some(BackendEvent::MemberJoined { member, .. }) = rx.recv().await else {
            panic!("no join")
        };
        assert_eq!(member.nick, "七", "the friend list's nick");
        assert!(!member.join_time.is_empty());
        assert!(ib.held.is_empty(), "the group's events flow again");
        // The same join notified again, with another body: not a new join.
        let again = event(
            json!({"post_type": "notice", "notice_type": "group_increase", "sub_type": "invite", "group_id": 552603, "user_id": 7, "operator_id": 1}),
        );
        assert!(ib.convert(again).is_empty());
        assert!(ib.joins.is_empty());

        // Someone nobody knows: their number, never an empty name.
        let stranger = event(
            json!({"post_type": "notice", "notice_type": "group_increase", "group_id": 552603, "user_id": 4242}),
        );
        assert!(ib.convert(stranger).is_empty());
        let (group, id, looked) = ib.joins.next().await.expect("a join waits");
        assert!(ib.settled(group, id, looked).await);
        let Some(BackendEvent::MemberJoined { member, .. }) = rx.recv().await else {
            panic!("no join")
        };
        assert_eq!(member.nick, "4242");
    }

    // ------------------------------------------- joins against a live link

    /// The implementation's end of a link, driven by hand.
    struct Implementation {
        from_link: mpsc::Receiver<Message>,
        to_link: mpsc::Sender<Result<Message, String>>,
    }

    impl Implementation {
        /// The next action asked.
        async fn request(&mut self) -> serde_json::Value {
            loop {
                match self.from_link.recv().await.expect("link open") {
                    Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
                    _ => continue,
                }
            }
        }

        async fn answer(&self, req: &serde_json::Value, data: Option<serde_json::Value>) {
            let frame = match data {
                Some(d) => json!({"status": "ok", "retcode": 0, "data": d, "echo": req["echo"]}),
                None => json!({"status": "failed", "retcode": 1200, "data": null,
                    "message": "成员不存在", "echo": req["echo"]}),
            };
            self.to_link
                .send(Ok(Message::text(frame.to_string())))
                .await
                .unwrap();
        }
    }

    /// A link that is up, with the implementation's end.
    async fn live_link() -> (Link, Implementation) {
        let link = Link::new();
        let (out_tx, from_link) = mpsc::channel(64);
        let (to_link, in_rx) = mpsc::channel(64);
        let sink = Box::pin(futures_util::sink::unfold(
            out_tx,
            |tx, m: Message| async move { tx.send(m).await.map(|()| tx).map_err(|_| "closed") },
        ));
        let stream = Box::pin(futures_util::stream::unfold(in_rx, |mut rx| async move {
            rx.recv().await.map(|m| (m, rx))
        }));
        // The link's own events are not looked at here; the test feeds the
        // converter itself.
        let (ev_tx, mut ev_rx) = mpsc::channel(64);
        tokio::spawn(async move { while ev_rx.recv().await.is_some() {} });
        let queue = link::EventQueue::start(ev_tx);
        let l = link.clone();
        tokio::spawn(async move { l.serve(sink, stream, &queue, &Timing::default()).await });
        let mut state = link.state();
        state
            .wait_for(|s| matches!(s, LinkState::Up { .. }))
            .await
            .unwrap();
        (link, Implementation { from_link, to_link })
    }

    /// A converter on `link` with group 552603 (member 888888) and 661234
    /// known, fed through the returned sender.
    fn running(
        link: &Link,
        timeout: Duration,
    ) -> (mpsc::Sender<LinkEvent>, mpsc::Receiver<BackendEvent>) {
        let (tx, rx) = mpsc::channel(16);
        let cache = Arc::new(Cache::default());
        let mut snap = LoginSnapshot::default();
        for n in [552603, 661234] {
            let mut g = crate::model::Group {
                gnumber: GroupNumber(n),
                ..crate::model::Group::default()
            };
            g.members.upsert(GroupMember {
                qq: Qq(888888),
                nick: "路人甲".into(),
                ..GroupMember::default()
            });
            snap.groups.upsert(g);
        }
        cache.store(snap, 1);
        let ib = Inbound::new(
            link.clone(),
            cache,
            tx,
            Arc::new(Notify::new()),
            timeout,
            Dedup::new(DEDUP_TTL, 100),
        );
        let (link_tx, link_rx) = mpsc::channel(16);
        tokio::spawn(ib.run(link_rx));
        (link_tx, rx)
    }

    fn incoming(v: serde_json::Value) -> LinkEvent {
        match codec::decode(&v.to_string()).unwrap() {
            codec::Frame::Event(inc) => LinkEvent::Event(Box::new(inc)),
            other => panic!("{other:?}"),
        }
    }

    fn join_notice(group: i64, user: i64) -> LinkEvent {
        incoming(
            json!({"post_type": "notice", "notice_type": "group_increase", "sub_type": "approve",
            "group_id": group, "user_id": user, "operator_id": 0, "time": 1700000123}),
        )
    }

    fn said(group: i64, user: i64, id: i64, text: &str) -> LinkEvent {
        incoming(
            json!({"post_type": "message", "message_type": "group", "message_id": id,
            "group_id": group, "user_id": user, "message": text}),
        )
    }

    fn member_info(user: i64, nick: &str, card: &str) -> serde_json::Value {
        json!({"group_id": 552603, "user_id": user, "nickname": nick, "card": card,
            "role": "member", "join_time": 0, "last_sent_time": 0, "level": "1"})
    }

    /// The bug: a joining member was reported with an empty nick, so a
    /// welcome bot greeted nobody. The join now waits for the look-up (the
    /// cached one, then QQ's servers, as NapCat needs for a fresh member);
    /// the group's messages wait behind it, in order, and other groups' do
    /// not wait at all.
    #[tokio::test(start_paused = true)]
    async fn a_join_is_reported_with_the_looked_up_member_and_its_group_waits() {
        let (link, mut imp) = live_link().await;
        let (feed, mut out) = running(&link, Duration::from_secs(15));
        let started = Instant::now();
        feed.send(join_notice(552603, 4242)).await.unwrap();
        feed.send(said(552603, 4242, 1, "大家好")).await.unwrap();
        feed.send(said(552603, 888888, 2, "欢迎")).await.unwrap();
        feed.send(said(661234, 888888, 3, "别的群")).await.unwrap();

        let cached = imp.request().await;
        assert_eq!(cached["action"], "get_group_member_info");
        assert_eq!(cached["params"]["no_cache"], false);
        assert_eq!(cached["params"]["user_id"], 4242);
        // Another group's message is not held behind the look-up.
        let Some(BackendEvent::Message(m)) = out.recv().await else {
            panic!("the other group's message")
        };
        assert_eq!(m.from, RawChat::Group(GroupNumber(661234)));
        imp.answer(&cached, None).await;
        let fresh = imp.request().await;
        assert_eq!(fresh["params"]["no_cache"], true);
        tokio::time::sleep(Duration::from_secs(2)).await; // NapCat asks QQ's servers
        imp.answer(&fresh, Some(member_info(4242, "新人", "新人卡")))
            .await;

        let Some(BackendEvent::MemberJoined { group, member }) = out.recv().await else {
            panic!("the join")
        };
        assert_eq!(group, GroupNumber(552603));
        assert_eq!(
            (member.qq, member.nick.as_str(), member.card.as_str()),
            (Qq(4242), "新人", "新人卡")
        );
        assert_eq!(member.join_time, "1700000123", "the notice's time");
        assert!(started.elapsed() < Duration::from_secs(3));
        for (sender, content) in [(4242, "大家好"), (888888, "欢迎")] {
            let Some(BackendEvent::Message(m)) = out.recv().await else {
                panic!("a held message")
            };
            assert_eq!((m.sender, m.content.as_str()), (Qq(sender), content));
        }
        // Later messages of that group flow at once again.
        feed.send(said(552603, 4242, 4, "再说")).await.unwrap();
        let Some(BackendEvent::Message(m)) = out.recv().await else {
            panic!("no message")
        };
        assert_eq!(m.content, "再说");
    }

    /// A look-up slower than the join's wait: the join comes at the bound,
    /// with the fallback name, the held messages after it; the look-up's
    /// answer then follows as a silent update.
    #[tokio::test(start_paused = true)]
    async fn a_slow_look_up_reports_the_join_at_the_bound_then_updates_it() {
        let (link, mut imp) = live_link().await;
        let (feed, mut out) = running(&link, Duration::from_secs(15));
        let started = Instant::now();
        feed.send(join_notice(552603, 4242)).await.unwrap();
        feed.send(said(552603, 4242, 1, "大家好")).await.unwrap();
        // The cached look-up hangs (NapCat#34, #708).
        let cached = imp.request().await;
        assert_eq!(cached["params"]["no_cache"], false);

        let Some(BackendEvent::MemberJoined { member, .. }) = out.recv().await else {
            panic!("the join")
        };
        assert_eq!(member.nick, "4242", "the number, not an empty name");
        let waited = started.elapsed();
        assert!(
            waited >= JOIN_WAIT && waited < JOIN_WAIT + Duration::from_millis(100),
            "{waited:?}"
        );
        let Some(BackendEvent::Message(m)) = out.recv().await else {
            panic!("the held message")
        };
        assert_eq!(m.content, "大家好");

        imp.answer(&cached, Some(member_info(4242, "新人", "")))
            .await;
        let Some(BackendEvent::MemberUpdated { member, .. }) = out.recv().await else {
            panic!("the update")
        };
        assert_eq!((member.qq, member.nick.as_str()), (Qq(4242), "新人"));
        assert_eq!(member.join_time, "1700000123");
    }

    /// Joins in one group are looked up at once, not one after the other,
    /// and reported in the order they came whichever answers first; a
    /// second notice for a join in line is no second join.
    #[tokio::test(start_paused = true)]
    async fn joins_in_one_group_are_looked_up_together_and_reported_in_order() {
        let (link, mut imp) = live_link().await;
        let (feed, mut out) = running(&link, Duration::from_secs(15));
        feed.send(join_notice(552603, 4242)).await.unwrap();
        feed.send(said(552603, 4242, 1, "我是第一个"))
            .await
            .unwrap();
        feed.send(join_notice(552603, 4343)).await.unwrap();
        feed.send(said(552603, 4343, 2, "我是第二个"))
            .await
            .unwrap();
        // NapCat#574: the same join notified again, with another body.
        feed.send(incoming(
            json!({"post_type": "notice", "notice_type": "group_increase", "sub_type": "invite",
            "group_id": 552603, "user_id": 4343, "operator_id": 1}),
        ))
        .await
        .unwrap();
        let (a, b) = (imp.request().await, imp.request().await);
        let (first, second) = if a["params"]["user_id"] == 4242 {
            (a, b)
        } else {
            (b, a)
        };
        assert_eq!(
            (&first["params"]["user_id"], &second["params"]["user_id"]),
            (&json!(4242), &json!(4343)),
            "both asked before either answered"
        );
        imp.answer(&second, Some(member_info(4343, "乙", ""))).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        imp.answer(&first, Some(member_info(4242, "甲", ""))).await;
        let mut seen = Vec::new();
        for _ in 0..4 {
            seen.push(match out.recv().await {
                Some(BackendEvent::MemberJoined { member, .. }) => member.nick,
                Some(BackendEvent::Message(m)) => m.content,
                other => panic!("{other:?}"),
            });
        }
        assert_eq!(seen, ["甲", "我是第一个", "乙", "我是第二个"]);
        // Nothing more: the second notice was not a join.
        feed.send(said(552603, 888888, 3, "marker")).await.unwrap();
        let Some(BackendEvent::Message(m)) = out.recv().await else {
            panic!("no marker")
        };
        assert_eq!(m.content, "marker");
    }

    /// Someone who joins, leaves and joins again while the first join is
    /// looked up joins twice and leaves once, in that order.
    #[tokio::test(start_paused = true)]
    async fn a_leave_and_rejoin_behind_a_join_are_kept() {
        let (link, mut imp) = live_link().await;
        let (feed, mut out) = running(&link, Duration::from_secs(15));
        feed.send(join_notice(552603, 4242)).await.unwrap();
        feed.send(incoming(
            json!({"post_type": "notice", "notice_type": "group_decrease", "sub_type": "leave",
            "group_id": 552603, "user_id": 4242, "operator_id": 4242}),
        ))
        .await
        .unwrap();
        feed.send(incoming(
            json!({"post_type": "notice", "notice_type": "group_increase", "sub_type": "approve",
            "group_id": 552603, "user_id": 4242, "operator_id": 0, "time": 1700000200}),
        ))
        .await
        .unwrap();
        for _ in 0..2 {
            let req = imp.request().await;
            imp.answer(&req, Some(member_info(4242, "回头客", "")))
                .await;
        }
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.push(match out.recv().await {
                Some(BackendEvent::MemberJoined { member, .. }) => format!("+{}", member.nick),
                Some(BackendEvent::MemberLeft { member, .. }) => format!("-{member}"),
                other => panic!("{other:?}"),
            });
        }
        assert_eq!(seen, ["+回头客", "-4242", "+回头客"]);
    }

    /// A re-read that sees a member whose join is being looked up does not
    /// report the join too: the join itself will.
    #[test]
    fn a_re_read_during_a_join_leaves_the_join_to_the_notice() {
        let cache = Cache::default();
        let n = GroupNumber(552603);
        let mut snap = LoginSnapshot::default();
        snap.groups.upsert(crate::model::Group {
            gnumber: n,
            ..crate::model::Group::default()
        });
        cache.store(snap.clone(), 1);
        cache.begin_join(n, Qq(4242));
        snap.groups.update(n, |g| {
            g.members.upsert(GroupMember {
                qq: Qq(4242),
                nick: "新人".into(),
                ..GroupMember::default()
            })
        });
        assert!(cache.store(snap.clone(), 1).events.is_empty());
        cache.end_join(n, Qq(4242));
        snap.groups.update(n, |g| {
            g.members.upsert(GroupMember {
                qq: Qq(4343),
                nick: "又一个".into(),
                ..GroupMember::default()
            })
        });
        assert!(matches!(
            &cache.store(snap, 1).events[..],
            [BackendEvent::MemberJoined { member, .. }] if member.qq == Qq(4343)
        ));
    }
}
