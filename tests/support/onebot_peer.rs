//! A OneBot v11 implementation on 127.0.0.1 for the `onebot` backend's
//! tests: a small QQ world (the sim's default world, in OneBot shapes),
//! forward WebSocket server or reverse dialer, and switchable quirks of the
//! real implementations (`spec/onebot.md` §5, §7).
//!
//! It records every action it was asked, lets a test push events, drop the
//! connection, fail or ignore chosen actions, and counts connection attempts.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};

const WAIT: Duration = Duration::from_secs(10);

/// How a wrong token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthStyle {
    /// go-cqhttp: HTTP 401 (missing) / 403 (wrong) at the upgrade.
    HttpStatus,
    /// NapCat, LLOneBot: accept, send a `1403` frame, close.
    Frame1403,
}

/// Which implementation's habits to play.
#[derive(Debug, Clone)]
pub struct Quirks {
    pub auth: AuthStyle,
    /// The retcode of a business failure (NapCat 1200, go-cqhttp 100).
    pub failure_retcode: i64,
    /// go-cqhttp puts the code in `msg` and the text in `wording`; NapCat
    /// uses `message`.
    pub gocq_messages: bool,
    /// Events carry CQ strings instead of segment arrays.
    pub cq_strings: bool,
    /// Ids in lists are numeric strings.
    pub string_ids: bool,
    /// Every event is sent twice.
    pub duplicate_events: bool,
    /// Answers are held back (every other one) so they arrive out of order.
    pub out_of_order: bool,
    /// Before each real answer, a stray one with an empty echo (NapCat#950).
    pub stray_empty_echo: bool,
    /// A member who just joined (`Peer::join`) is not in the
    /// implementation's cache: `get_group_member_info` finds them only with
    /// `no_cache: true` (NapCat asks QQ's servers then; go-cqhttp caches a
    /// joining member before it reports the join).
    pub fresh_members_uncached: bool,
}

impl Quirks {
    pub fn napcat() -> Quirks {
        Quirks {
            auth: AuthStyle::Frame1403,
            failure_retcode: 1200,
            gocq_messages: false,
            cq_strings: false,
            string_ids: false,
            duplicate_events: false,
            out_of_order: false,
            stray_empty_echo: false,
            fresh_members_uncached: true,
        }
    }

    pub fn gocq() -> Quirks {
        Quirks {
            auth: AuthStyle::HttpStatus,
            failure_retcode: 100,
            gocq_messages: true,
            cq_strings: true,
            string_ids: true,
            fresh_members_uncached: false,
            ..Quirks::napcat()
        }
    }
}

#[derive(Debug, Clone)]
pub struct PeerMember {
    pub qq: i64,
    pub nick: String,
    pub card: String,
    pub role: &'static str,
    /// `last_sent_time`: moves whenever the member talks.
    pub last_sent: i64,
}

#[derive(Debug, Clone)]
pub struct PeerGroup {
    pub id: i64,
    pub name: String,
    pub members: Vec<PeerMember>,
}

/// The QQ world the peer reports.
#[derive(Debug, Clone)]
pub struct PeerWorld {
    pub self_id: i64,
    pub nickname: String,
    /// (qq, nickname, remark)
    pub friends: Vec<(i64, String, String)>,
    pub groups: Vec<PeerGroup>,
}

fn m(qq: i64, nick: &str, card: &str, role: &'static str) -> PeerMember {
    PeerMember {
        qq,
        nick: nick.into(),
        card: card.into(),
        role,
        last_sent: 1_700_000_000,
    }
}

impl PeerWorld {
    /// The sim's default world (`host/src/backend/sim/default_world.json`),
    /// without the discussion, which QQ no longer has.
    pub fn standard() -> PeerWorld {
        PeerWorld {
            self_id: 1234567,
            nickname: "小灰".into(),
            friends: vec![
                (123456, "测试帐号1".into(), "xxx".into()),
                (7891234, "测试帐号2".into(), "哈哈".into()),
            ],
            groups: vec![
                PeerGroup {
                    id: 552603,
                    name: "PERL学习交流".into(),
                    members: vec![
                        m(123455, "群主", "", "owner"),
                        m(45678, "灰灰", "灰灰的名片", "admin"),
                        m(123456, "测试帐号1", "", "member"),
                        m(888888, "路人甲", "", "member"),
                        m(999999, "路人乙", "乙", "member"),
                        m(1234567, "小灰", "", "admin"),
                    ],
                },
                PeerGroup {
                    id: 661234,
                    name: "吃瓜群".into(),
                    members: vec![
                        m(777777, "瓜主", "", "owner"),
                        m(888888, "路人甲", "", "member"),
                        m(1234567, "小灰", "", "member"),
                    ],
                },
            ],
        }
    }
}

enum Out {
    Frame(String),
    Close,
}

struct State {
    world: PeerWorld,
    quirks: Quirks,
    token: String,
    /// Every action asked: `{"action", "params"}`.
    calls: Vec<Value>,
    /// Actions that fail with the given text.
    fail: HashMap<String, String>,
    /// Actions that are never answered.
    silent: HashSet<String>,
    /// Actions answered only after this long.
    slow: HashMap<String, Duration>,
    /// (group, member) joined but not in the implementation's cache yet.
    uncached: HashSet<(i64, i64)>,
    /// Upgrade attempts, accepted or not.
    attempts: usize,
    /// Connections that got past auth.
    connections: usize,
    live: Vec<mpsc::Sender<Out>>,
    /// When false, new TCP connections are dropped at once.
    accepting: bool,
    next_message_id: i64,
    answers: u64,
}

/// The peer; it stops when dropped.
pub struct Peer {
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
    /// `ws://127.0.0.1:port/` for forward mode.
    pub url: String,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Some(s) = &self.server {
            s.abort();
        }
        self.drop_connections();
    }
}

fn num(v: i64, as_string: bool) -> Value {
    if as_string {
        json!(v.to_string())
    } else {
        json!(v)
    }
}

impl Peer {
    fn new(world: PeerWorld, quirks: Quirks, token: &str) -> Peer {
        Peer {
            state: Arc::new(Mutex::new(State {
                world,
                quirks,
                token: token.into(),
                calls: Vec::new(),
                fail: HashMap::new(),
                silent: HashSet::new(),
                slow: HashMap::new(),
                uncached: HashSet::new(),
                attempts: 0,
                connections: 0,
                live: Vec::new(),
                accepting: true,
                // Above i32, as NapCat and Shiro#385 send.
                next_message_id: 3_000_000_000,
                answers: 0,
            })),
            changed: Arc::new(Notify::new()),
            url: String::new(),
            server: None,
        }
    }

    fn st(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A forward-WebSocket server on 127.0.0.1 (the gateway dials it).
    // The upgrade callback's `Result<Response, ErrorResponse>` is tungstenite's signature.
    #[allow(clippy::result_large_err)]
    pub async fn serve(world: PeerWorld, quirks: Quirks, token: &str) -> Peer {
        let mut peer = Peer::new(world, quirks, token);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind peer");
        peer.url = format!("ws://{}/", listener.local_addr().expect("addr"));
        let (state, changed) = (peer.state.clone(), peer.changed.clone());
        peer.server = Some(tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                if !state.lock().unwrap_or_else(|p| p.into_inner()).accepting {
                    drop(tcp);
                    changed.notify_waiters();
                    continue;
                }
                let (state, changed) = (state.clone(), changed.clone());
                tokio::spawn(async move {
                    let verdict = Arc::new(Mutex::new(None::<bool>));
                    let v = verdict.clone();
                    let st = state.clone();
                    let check = move |req: &Request,
                                      resp: Response|
                          -> Result<Response, ErrorResponse> {
                        let mut s = st.lock().unwrap_or_else(|p| p.into_inner());
                        s.attempts += 1;
                        let given = req
                            .headers()
                            .get("authorization")
                            .and_then(|h| h.to_str().ok())
                            .and_then(|h| h.split_once(' '))
                            .map(|(_, t)| t.to_string());
                        let ok = s.token.is_empty() || given.as_deref() == Some(s.token.as_str());
                        *v.lock().unwrap_or_else(|p| p.into_inner()) = Some(ok);
                        if ok || s.quirks.auth == AuthStyle::Frame1403 {
                            return Ok(resp);
                        }
                        let mut e = ErrorResponse::new(Some("token".into()));
                        *e.status_mut() = if given.is_none() {
                            StatusCode::UNAUTHORIZED
                        } else {
                            StatusCode::FORBIDDEN
                        };
                        Err(e)
                    };
                    let ws = tokio_tungstenite::accept_hdr_async(tcp, check).await;
                    changed.notify_waiters();
                    let Ok(mut ws) = ws else {
                        return;
                    };
                    let accepted = *verdict.lock().unwrap_or_else(|p| p.into_inner());
                    if accepted != Some(true) {
                        // NapCat: accept, refuse in a frame, close.
                        let frame = json!({"status": "failed", "retcode": 1403, "data": null,
                            "message": "token验证失败", "wording": "token验证失败", "echo": null});
                        let _ = ws.send(Message::text(frame.to_string())).await;
                        let _ = ws.close(None).await;
                        return;
                    }
                    run_connection(ws, state, changed).await;
                });
            }
        }));
        peer
    }

    /// A reverse-mode implementation: dials `url` with `X-Self-ID`, the
    /// Universal role and `Authorization: <scheme> <token>`. Returns the
    /// HTTP status when the upgrade is refused, 0 when nobody listens.
    pub async fn dial(
        world: PeerWorld,
        quirks: Quirks,
        url: &str,
        auth: Option<&str>,
    ) -> Result<Peer, u16> {
        let peer = Peer::new(world, quirks, "");
        peer.redial(url, auth).await?;
        Ok(peer)
    }

    /// Dials again (after `drop_connections`), as an implementation's
    /// reconnect loop would.
    pub async fn redial(&self, url: &str, auth: Option<&str>) -> Result<(), u16> {
        let mut req = url.into_client_request().expect("url");
        let self_id = self.st().world.self_id.to_string();
        let h = req.headers_mut();
        h.insert(
            "x-self-id",
            HeaderValue::from_str(&self_id).expect("header"),
        );
        h.insert("x-client-role", HeaderValue::from_static("Universal"));
        if let Some(a) = auth {
            h.insert("authorization", HeaderValue::from_str(a).expect("header"));
        }
        self.st().attempts += 1;
        match tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(req)).await {
            Ok(Ok((ws, _))) => {
                let (state, changed) = (self.state.clone(), self.changed.clone());
                tokio::spawn(run_connection(ws, state, changed));
                Ok(())
            }
            Ok(Err(tokio_tungstenite::tungstenite::Error::Http(resp))) => {
                Err(resp.status().as_u16())
            }
            // Not listening (yet): 0, so callers can retry.
            Ok(Err(_)) | Err(_) => Err(0),
        }
    }

    // ------------------------------------------------------------ control

    pub fn edit_world(&self, f: impl FnOnce(&mut PeerWorld)) {
        f(&mut self.st().world);
    }

    /// Makes `action` fail with `text` until `succeed` is called.
    pub fn fail(&self, action: &str, text: &str) {
        self.st().fail.insert(action.into(), text.into());
    }

    pub fn succeed(&self, action: &str) {
        self.st().fail.remove(action);
    }

    /// Makes `action` go unanswered.
    pub fn ignore(&self, action: &str) {
        self.st().silent.insert(action.into());
    }

    /// Makes `action` answer only after `delay`.
    pub fn slow(&self, action: &str, delay: Duration) {
        self.st().slow.insert(action.into(), delay);
    }

    /// `member` joins group `group`: in the world, and reported with a
    /// `group_increase` notice (which, as in v11, carries no name). Returns
    /// whether a connection was live.
    pub fn join(&self, group: i64, member: PeerMember) -> bool {
        let qq = member.qq;
        {
            let mut st = self.st();
            let uncached = st.quirks.fresh_members_uncached;
            let g = st
                .world
                .groups
                .iter_mut()
                .find(|g| g.id == group)
                .expect("the group exists");
            g.members.push(member);
            if uncached {
                st.uncached.insert((group, qq));
            }
        }
        self.push(
            json!({"post_type": "notice", "notice_type": "group_increase", "sub_type": "approve",
            "group_id": group, "user_id": qq, "operator_id": 0}),
        )
    }

    /// Stops (or resumes) accepting connections, as if the implementation
    /// were down.
    pub fn set_accepting(&self, on: bool) {
        self.st().accepting = on;
    }

    pub fn attempts(&self) -> usize {
        self.st().attempts
    }

    pub fn connections(&self) -> usize {
        self.st().connections
    }

    /// Closes every connection abruptly (a crash or a network cut).
    pub fn drop_connections(&self) {
        let live = std::mem::take(&mut self.st().live);
        for tx in live {
            let _ = tx.try_send(Out::Close);
        }
    }

    /// Sends an event on every live connection (twice with
    /// `duplicate_events`); `time` and `self_id` are filled in. Returns
    /// whether any connection was live (real implementations drop events
    /// while disconnected).
    pub fn push(&self, mut event: Value) -> bool {
        let st = self.st();
        if event.get("time").is_none() {
            event["time"] = json!(1_700_000_000);
        }
        event["self_id"] = json!(st.world.self_id);
        let times = if st.quirks.duplicate_events { 2 } else { 1 };
        let text = event.to_string();
        let mut sent = false;
        for tx in &st.live {
            for _ in 0..times {
                sent |= tx.try_send(Out::Frame(text.clone())).is_ok();
            }
        }
        sent
    }

    /// A message segment array, or its CQ string under `cq_strings`.
    pub fn message(&self, segments: Value) -> Value {
        if !self.st().quirks.cq_strings {
            return segments;
        }
        let segs: Vec<openqq::backend::onebot::Segment> = segments
            .as_array()
            .expect("segments")
            .iter()
            .map(|s| openqq::backend::onebot::Segment {
                kind: s["type"].as_str().expect("type").to_string(),
                data: s["data"].as_object().cloned().unwrap_or_default(),
            })
            .collect();
        json!(openqq::backend::onebot::encode(&segs))
    }

    /// A `message.group` event from `user` in `group`.
    pub fn group_message(&self, group: i64, user: i64, message_id: i64, segments: Value) -> Value {
        json!({"post_type": "message", "message_type": "group", "sub_type": "normal",
            "message_id": message_id, "group_id": group, "user_id": user, "anonymous": null,
            "message": self.message(segments), "raw_message": "", "font": 14,
            "sender": {"user_id": user, "nickname": "", "card": "", "role": "member"}})
    }

    /// A `message.private` event (`sub_type` `friend`, or `group` for temp).
    pub fn private_message(
        &self,
        user: i64,
        via_group: Option<i64>,
        message_id: i64,
        segments: Value,
    ) -> Value {
        let mut e = json!({"post_type": "message", "message_type": "private",
            "sub_type": if via_group.is_some() { "group" } else { "friend" },
            "message_id": message_id, "user_id": user,
            "message": self.message(segments), "raw_message": "", "font": 0,
            "sender": {"user_id": user, "nickname": ""}});
        if let Some(g) = via_group {
            e["group_id"] = json!(g);
        }
        e
    }

    // ------------------------------------------------------------ observing

    /// Every call of `action` so far (its params).
    pub fn calls(&self, action: &str) -> Vec<Value> {
        self.st()
            .calls
            .iter()
            .filter(|c| c["action"] == action)
            .map(|c| c["params"].clone())
            .collect()
    }

    pub fn all_calls(&self) -> Vec<Value> {
        self.st().calls.clone()
    }

    /// Waits until `done` holds for the peer's state, or panics after 10 s.
    pub async fn until<T>(&self, what: &str, mut done: impl FnMut(&Peer) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(v) = done(self) {
                return v;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "peer: timed out waiting for {what}; calls: {:#?}",
                    self.all_calls()
                );
            }
        }
    }

    /// Waits for the `n`th call (1-based) of `action` and returns its params.
    pub async fn nth_call(&self, action: &str, n: usize) -> Value {
        self.until(&format!("call {n} of {action}"), |p| {
            p.calls(action).get(n - 1).cloned()
        })
        .await
    }

    /// Waits until at least `n` connections got past auth.
    pub async fn connected(&self, n: usize) {
        self.until(&format!("{n} connections"), |p| {
            (p.connections() >= n).then_some(())
        })
        .await;
    }
}

async fn run_connection<S>(
    ws: tokio_tungstenite::WebSocketStream<S>,
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel::<Out>(1024);
    let self_id = {
        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
        s.connections += 1;
        s.live.push(tx.clone());
        s.world.self_id
    };
    changed.notify_waiters();
    let (mut sink, mut stream) = ws.split();
    let hello = json!({"time": 1_700_000_000, "self_id": self_id, "post_type": "meta_event",
        "meta_event_type": "lifecycle", "sub_type": "connect"});
    if sink.send(Message::text(hello.to_string())).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            frame = stream.next() => {
                let Some(Ok(frame)) = frame else { return };
                let Message::Text(text) = frame else { continue };
                let Ok(req) = serde_json::from_str::<Value>(text.as_str()) else { continue };
                let (answers, delay) = {
                    let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
                    s.calls.push(json!({"action": req["action"], "params": req["params"]}));
                    let answers = answer(&mut s, &req);
                    s.answers += 1;
                    let action = req["action"].as_str().unwrap_or_default();
                    let delay = if let Some(d) = s.slow.get(action) {
                        *d
                    } else if s.quirks.out_of_order && s.answers % 2 == 1 {
                        Duration::from_millis(150)
                    } else {
                        Duration::ZERO
                    };
                    (answers, delay)
                };
                changed.notify_waiters();
                let tx = tx.clone();
                tokio::spawn(async move {
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    for a in answers {
                        let _ = tx.send(Out::Frame(a)).await;
                    }
                });
            }
            out = rx.recv() => match out {
                Some(Out::Frame(text)) => {
                    if sink.send(Message::text(text)).await.is_err() {
                        return;
                    }
                }
                Some(Out::Close) | None => return,
            },
        }
    }
}

/// The frames that answer `req` (none for an ignored action).
fn answer(s: &mut State, req: &Value) -> Vec<String> {
    let action = req["action"].as_str().unwrap_or_default().to_string();
    let echo = req["echo"].clone();
    if s.silent.contains(&action) {
        return Vec::new();
    }
    let result = match s.fail.get(&action) {
        Some(text) => Err((s.quirks.failure_retcode, text.clone())),
        None => perform(s, &action, &req["params"]),
    };
    let mut frames = Vec::new();
    if s.quirks.stray_empty_echo {
        frames.push(
            json!({"status": "ok", "retcode": 0, "data": {"stray": true}, "echo": ""}).to_string(),
        );
    }
    let frame = match result {
        Ok(data) => {
            json!({"status": "ok", "retcode": 0, "data": data, "message": "", "wording": "", "echo": echo})
        }
        Err((retcode, text)) if s.quirks.gocq_messages => {
            json!({"status": "failed", "retcode": retcode,
            "data": null, "msg": "SEND_MSG_API_ERROR", "wording": text, "echo": echo})
        }
        Err((retcode, text)) => json!({"status": "failed", "retcode": retcode, "data": null,
            "message": text, "wording": text, "echo": echo}),
    };
    frames.push(frame.to_string());
    frames
}

fn id(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Carries out an action on the world, with NapCat's rules.
fn perform(s: &mut State, action: &str, p: &Value) -> Result<Value, (i64, String)> {
    let retcode = s.quirks.failure_retcode;
    let fail = move |text: &str| Err((retcode, text.to_string()));
    let sid = s.quirks.string_ids;
    let w = &mut s.world;
    let member_json = |g: i64, mm: &PeerMember| {
        json!({"group_id": num(g, sid), "user_id": num(mm.qq, sid), "nickname": mm.nick, "card": mm.card,
            "sex": "unknown", "age": 0, "area": "", "join_time": 1_600_000_000, "last_sent_time": mm.last_sent,
            "level": "1", "role": mm.role, "unfriendly": false, "title": ""})
    };
    match action {
        "get_login_info" => Ok(json!({"user_id": w.self_id, "nickname": w.nickname})),
        "get_status" => Ok(json!({"online": true, "good": true})),
        "get_stranger_info" => {
            let qq = id(&p["user_id"]).unwrap_or_default();
            let nick = if qq == w.self_id {
                w.nickname.clone()
            } else {
                w.friends.iter().find(|f| f.0 == qq).map(|f| f.1.clone()).unwrap_or_else(|| format!("陌生人{qq}"))
            };
            Ok(json!({"user_id": qq, "nickname": nick, "sex": "male", "age": 0, "long_nick": "签名"}))
        }
        "get_friend_list" => Ok(Value::Array(
            w.friends
                .iter()
                .map(|(qq, nick, remark)| json!({"user_id": num(*qq, sid), "nickname": nick, "remark": remark}))
                .collect(),
        )),
        "get_group_list" => Ok(Value::Array(
            w.groups
                .iter()
                .map(|g| json!({"group_id": num(g.id, sid), "group_name": g.name,
                    "member_count": g.members.len(), "max_member_count": 500}))
                .collect(),
        )),
        "get_group_member_list" => {
            let gid = id(&p["group_id"]).unwrap_or_default();
            match w.groups.iter().find(|g| g.id == gid) {
                Some(g) => Ok(Value::Array(g.members.iter().map(|mm| member_json(g.id, mm)).collect())),
                None => fail("群不存在"),
            }
        }
        "get_group_member_info" => {
            let gid = id(&p["group_id"]).unwrap_or_default();
            let qq = id(&p["user_id"]).unwrap_or_default();
            // NapCat's own default is `no_cache: true`.
            let no_cache = p["no_cache"].as_bool().unwrap_or(true);
            if s.uncached.contains(&(gid, qq)) {
                if !no_cache {
                    return fail("成员不存在");
                }
                s.uncached.remove(&(gid, qq));
            }
            match w.groups.iter().find(|g| g.id == gid).and_then(|g| g.members.iter().find(|mm| mm.qq == qq)) {
                Some(mm) => Ok(member_json(gid, mm)),
                None => fail("成员不存在"),
            }
        }
        "send_private_msg" | "send_group_msg" => {
            if !p["message"].is_array() {
                return fail("openqq must send segment arrays");
            }
            let user = id(&p["user_id"]);
            let group = id(&p["group_id"]);
            let ok = match (action, user, group) {
                ("send_group_msg", _, Some(g)) => w.groups.iter().any(|x| x.id == g),
                ("send_private_msg", Some(u), None) => w.friends.iter().any(|f| f.0 == u),
                ("send_private_msg", Some(u), Some(g)) => {
                    w.groups.iter().any(|x| x.id == g && x.members.iter().any(|mm| mm.qq == u))
                }
                _ => false,
            };
            if !ok {
                return fail("发送消息失败: 目标不存在");
            }
            s.next_message_id += 1;
            Ok(json!({"message_id": s.next_message_id}))
        }
        "set_group_ban" | "set_group_kick" => {
            if action == "set_group_ban" && p.get("duration").is_none() {
                // NapCat would read this as 0 (= lift the mute).
                return fail("duration missing");
            }
            let gid = id(&p["group_id"]).unwrap_or_default();
            let qq = id(&p["user_id"]).unwrap_or_default();
            let self_id = w.self_id;
            let Some(g) = w.groups.iter_mut().find(|g| g.id == gid) else {
                return fail("群不存在");
            };
            let my_role = g.members.iter().find(|mm| mm.qq == self_id).map(|mm| mm.role);
            let Some(target) = g.members.iter().find(|mm| mm.qq == qq) else {
                return fail("user not in group");
            };
            if !matches!(my_role, Some("owner" | "admin")) || target.role != "member" {
                return fail("权限不足");
            }
            if action == "set_group_kick" {
                g.members.retain(|mm| mm.qq != qq);
            }
            Ok(Value::Null)
        }
        _ => Err((1404, format!("{action} is not an action"))),
    }
}
