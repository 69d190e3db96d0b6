//! A OneBot v11 load generator: this side plays the *implementation* (what
//! NapCat is to a bot framework). It dials a framework's reverse WebSocket
//! as a Universal client, sends group `message` events (array segments, as
//! NapCat with `messagePostFormat: "array"`), answers the framework's calls
//! with small valid data, and times every event frame sent → the matching
//! `send_group_msg` / `send_msg` received.
//!
//! Matching is exact because each group has at most one `ping` in flight:
//! the echo bots answer `pong` into the group the `ping` came from, so the
//! group id of a send names the event it answers. A throughput run keeps
//! one `ping` in flight in every group (the window is the number of groups);
//! a latency run sends one at a time.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The account, its groups and the members who speak in them.
#[derive(Clone, Copy)]
pub struct World {
    pub self_id: u64,
    pub groups: u64,
    /// Members per group who send (plus the account, an admin of each).
    pub users: u64,
}

const FIRST_GROUP: u64 = 600_000;

impl World {
    pub fn group(&self, g: u64) -> u64 {
        FIRST_GROUP + g
    }

    pub fn user(&self, g: u64, k: u64) -> u64 {
        200_000 + g * 100 + k % self.users
    }

    /// The group's index for a group id, if it is one of ours.
    fn index(&self, group_id: u64) -> Option<usize> {
        let g = group_id.checked_sub(FIRST_GROUP)?;
        (g < self.groups).then_some(g as usize)
    }

    fn member(&self, g: u64, user_id: u64, role: &str) -> Value {
        json!({
            "group_id": self.group(g), "user_id": user_id, "nickname": format!("user{user_id}"),
            "card": "", "sex": "unknown", "age": 0, "area": "", "join_time": 1_700_000_000,
            "last_sent_time": 1_700_000_000, "level": "1", "role": role, "unfriendly": false,
            "title": "", "title_expire_time": 0, "card_changeable": true
        })
    }

    fn group_info(&self, g: u64) -> Value {
        json!({"group_id": self.group(g), "group_name": format!("bench group {g}"),
               "member_count": self.users + 1, "max_member_count": 500})
    }

    /// The `data` of an answer to `action`, or `None` when this
    /// implementation does not support it (answered with retcode 1404).
    fn answer(&self, action: &str, params: &Value) -> Option<Value> {
        let group = || {
            as_u64(&params["group_id"])
                .and_then(|id| self.index(id))
                .map(|g| g as u64)
        };
        Some(match action {
            "get_login_info" => json!({"user_id": self.self_id, "nickname": "bench"}),
            "get_stranger_info" => {
                let id = as_u64(&params["user_id"]).unwrap_or(self.self_id);
                json!({"user_id": id, "nickname": format!("user{id}"), "sex": "unknown", "age": 0})
            }
            "get_status" => json!({"online": true, "good": true, "stat": {}}),
            "get_version_info" => json!({
                "app_name": "openqq-bench", "app_version": env!("CARGO_PKG_VERSION"),
                "protocol_version": "v11"
            }),
            "can_send_image" | "can_send_record" => json!({"yes": false}),
            "get_friend_list" => Value::Array(
                (0..self.groups.min(4))
                    .map(|g| {
                        let id = self.user(g, 0);
                        json!({"user_id": id, "nickname": format!("user{id}"), "remark": ""})
                    })
                    .collect(),
            ),
            "get_group_list" => {
                Value::Array((0..self.groups).map(|g| self.group_info(g)).collect())
            }
            "get_group_info" => self.group_info(group()?),
            "get_group_member_list" => {
                let g = group()?;
                let mut list = vec![self.member(g, self.self_id, "admin")];
                list.extend((0..self.users).map(|k| self.member(g, self.user(g, k), "member")));
                Value::Array(list)
            }
            "get_group_member_info" => {
                let g = group()?;
                let id = as_u64(&params["user_id"])?;
                self.member(
                    g,
                    id,
                    if id == self.self_id {
                        "admin"
                    } else {
                        "member"
                    },
                )
            }
            _ => return None,
        })
    }
}

/// A number that may come as a JSON number or a string (Koishi sends ids
/// as strings).
fn as_u64(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| v.as_str()?.parse().ok())
}

/// The text of an outgoing message: a CQ string, or array segments whose
/// `text` parts are joined.
fn text_of(message: &Value) -> String {
    match message {
        Value::String(s) => s.clone(),
        Value::Array(segs) => segs
            .iter()
            .filter(|s| s["type"] == "text")
            .filter_map(|s| s["data"]["text"].as_str())
            .collect(),
        Value::Object(_) => text_of(&Value::Array(vec![message.clone()])),
        _ => String::new(),
    }
}

/// What the framework did besides answering.
#[derive(Default, Clone)]
pub struct Tally {
    /// Every action called, by name, the sends aside.
    pub calls: BTreeMap<String, u64>,
    /// Sends to a group, by the action used.
    pub sends: BTreeMap<&'static str, u64>,
    /// Actions answered with retcode 1404 (not supported here).
    pub unsupported: BTreeMap<String, u64>,
    /// Sends whose text was not `pong`.
    pub wrong_text: u64,
    /// Sends to a group with no `ping` in flight (duplicates, late answers).
    pub unexpected: u64,
}

/// One run's result.
pub struct Run {
    /// Event sent → send received, one per message.
    pub latencies: Vec<Duration>,
    /// First event sent → last answer received.
    pub elapsed: Duration,
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One Universal connection to a framework, as its OneBot implementation.
pub struct Peer {
    ws: Ws,
    world: World,
    /// Per group: when its `ping` in flight was sent.
    in_flight: Vec<Option<Instant>>,
    next_message_id: u64,
    next_sent_id: u64,
    /// Which member of each group speaks next.
    speaker: Vec<u64>,
    pub tally: Tally,
}

/// How long a run may go without a single answer before it is given up.
const STALL: Duration = Duration::from_secs(30);

impl Peer {
    /// Dials `url` (retrying while the framework starts, up to `patience`)
    /// with the headers NapCat sends on a reverse WebSocket, and announces
    /// the connection with a `lifecycle` event.
    pub async fn dial(
        url: &str,
        token: &str,
        world: World,
        patience: Duration,
    ) -> anyhow::Result<Peer> {
        let deadline = Instant::now() + patience;
        let ws = loop {
            let mut req = url.into_client_request().context("the WebSocket URL")?;
            let h = req.headers_mut();
            h.insert("X-Self-ID", HeaderValue::from(world.self_id));
            h.insert("X-Client-Role", HeaderValue::from_static("Universal"));
            if !token.is_empty() {
                h.insert(
                    "Authorization",
                    HeaderValue::from_str(&format!("Bearer {token}")).context("the token")?,
                );
            }
            match tokio_tungstenite::connect_async(req).await {
                Ok((ws, _)) => break ws,
                Err(e) if Instant::now() > deadline => {
                    return Err(e).with_context(|| format!("cannot dial {url}"));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        if let MaybeTlsStream::Plain(tcp) = ws.get_ref() {
            tcp.set_nodelay(true)?;
        }
        let mut peer = Peer {
            ws,
            world,
            in_flight: vec![None; world.groups as usize],
            next_message_id: 0,
            next_sent_id: 0,
            speaker: vec![0; world.groups as usize],
            tally: Tally::default(),
        };
        let hello = json!({"time": unix_now(), "self_id": world.self_id, "post_type": "meta_event",
                           "meta_event_type": "lifecycle", "sub_type": "connect"});
        peer.ws.send(Message::text(hello.to_string())).await?;
        Ok(peer)
    }

    /// Queues a `ping` from the next member of group `g` (not flushed).
    async fn ping(&mut self, g: usize) -> anyhow::Result<()> {
        self.next_message_id += 1;
        let k = self.speaker[g];
        self.speaker[g] += 1;
        let (group, user) = (self.world.group(g as u64), self.world.user(g as u64, k));
        let frame = format!(
            r#"{{"time":{},"self_id":{},"post_type":"message","message_type":"group","sub_type":"normal","message_id":{},"group_id":{group},"user_id":{user},"anonymous":null,"message":[{{"type":"text","data":{{"text":"ping"}}}}],"raw_message":"ping","font":0,"sender":{{"user_id":{user},"nickname":"user{user}","card":"","role":"member"}},"message_format":"array"}}"#,
            unix_now(),
            self.world.self_id,
            self.next_message_id,
        );
        self.in_flight[g] = Some(Instant::now());
        self.ws.feed(Message::text(frame)).await?;
        Ok(())
    }

    /// Reads frames, answering every call, until a send to one of our
    /// groups arrives; its group and the time it took, if a `ping` was in
    /// flight there. The answer to the send is queued, not flushed.
    async fn next_send(&mut self) -> anyhow::Result<(usize, Option<Duration>)> {
        loop {
            let frame = match self.ws.next().await.context("the framework hung up")?? {
                Message::Text(t) => t.to_string(),
                Message::Binary(b) => String::from_utf8(b.to_vec()).context("a binary frame")?,
                Message::Close(c) => bail!("the framework closed the connection: {c:?}"),
                _ => continue,
            };
            let at = Instant::now();
            let v: Value = serde_json::from_str(&frame)
                .with_context(|| format!("not JSON: {}", excerpt(&frame)))?;
            let Some(action) = v["action"].as_str() else {
                continue;
            };
            let echo = v.get("echo").cloned().unwrap_or(Value::Null);
            let params = &v["params"];
            if !matches!(action, "send_group_msg" | "send_msg") {
                *self.tally.calls.entry(action.to_string()).or_default() += 1;
            }
            let group_send = match action {
                "send_group_msg" => Some("send_group_msg"),
                "send_msg"
                    if params["message_type"] != "private" && !params["group_id"].is_null() =>
                {
                    Some("send_msg")
                }
                _ => None,
            };
            let Some(send) = group_send else {
                let answer = match self.world.answer(action, params) {
                    Some(data) => json!({"status": "ok", "retcode": 0, "data": data, "echo": echo}),
                    None => {
                        *self
                            .tally
                            .unsupported
                            .entry(action.to_string())
                            .or_default() += 1;
                        json!({"status": "failed", "retcode": 1404, "data": null,
                               "message": "not supported by the load generator", "echo": echo})
                    }
                };
                self.ws.send(Message::text(answer.to_string())).await?;
                continue;
            };
            *self.tally.sends.entry(send).or_default() += 1;
            self.next_sent_id += 1;
            let answer = format!(
                r#"{{"status":"ok","retcode":0,"data":{{"message_id":{}}},"message":"","wording":"","echo":{echo}}}"#,
                1_000_000_000 + self.next_sent_id
            );
            self.ws.feed(Message::text(answer)).await?;
            if text_of(&params["message"]).trim_end() != "pong" {
                self.tally.wrong_text += 1;
            }
            let Some(g) = as_u64(&params["group_id"]).and_then(|id| self.world.index(id)) else {
                self.tally.unexpected += 1;
                self.ws.flush().await?;
                continue;
            };
            let took = self.in_flight[g].take().map(|t0| at - t0);
            if took.is_none() {
                self.tally.unexpected += 1;
            }
            return Ok((g, took));
        }
    }

    /// Sends a `ping` to the first group until a `pong` comes back (the
    /// framework has connected its bot and read what it reads at start),
    /// then reads for `settle` more, so no late `pong` is left over.
    pub async fn ready(&mut self, patience: Duration) -> anyhow::Result<Duration> {
        let started = Instant::now();
        loop {
            if started.elapsed() > patience {
                bail!("no pong within {patience:?}");
            }
            self.ping(0).await?;
            self.ws.flush().await?;
            let until = Instant::now() + Duration::from_secs(1);
            while let Ok(got) = tokio::time::timeout_at(until.into(), self.next_send()).await {
                self.ws.flush().await?;
                if let (0, _) = got? {
                    let took = started.elapsed();
                    self.drain(Duration::from_millis(500)).await?;
                    return Ok(took);
                }
            }
        }
    }

    /// Answers whatever comes for `d`, then forgets what is in flight.
    async fn drain(&mut self, d: Duration) -> anyhow::Result<()> {
        let until = Instant::now() + d;
        while let Ok(got) = tokio::time::timeout_at(until.into(), self.next_send()).await {
            got?;
            self.ws.flush().await?;
        }
        self.in_flight.iter_mut().for_each(|f| *f = None);
        Ok(())
    }

    /// `n` messages with one `ping` in flight in each of `window` groups
    /// (at most the world's groups): each answer sends that group's next.
    pub async fn window(&mut self, n: usize, window: usize) -> anyhow::Result<Run> {
        let window = window.clamp(1, self.world.groups as usize).min(n.max(1));
        let mut latencies = Vec::with_capacity(n);
        let started = Instant::now();
        for g in 0..window {
            self.ping(g).await?;
        }
        self.ws.flush().await?;
        let mut issued = window;
        while latencies.len() < n {
            let (g, took) = tokio::time::timeout(STALL, self.next_send())
                .await
                .map_err(|_| {
                    anyhow::anyhow!(
                        "no answer for {STALL:?} after {} of {n} messages",
                        latencies.len()
                    )
                })??;
            if let Some(d) = took {
                latencies.push(d);
                if issued < n {
                    self.ping(g).await?;
                    issued += 1;
                }
            }
            self.ws.flush().await?;
        }
        Ok(Run {
            latencies,
            elapsed: started.elapsed(),
        })
    }

    /// `n` messages one at a time, rotating over the groups: each is sent
    /// when the previous one was answered.
    pub async fn one_by_one(&mut self, n: usize) -> anyhow::Result<Run> {
        let mut latencies = Vec::with_capacity(n);
        let started = Instant::now();
        for i in 0..n {
            let g = i % self.world.groups as usize;
            self.ping(g).await?;
            self.ws.flush().await?;
            loop {
                let (got, took) = tokio::time::timeout(STALL, self.next_send())
                    .await
                    .map_err(|_| anyhow::anyhow!("no answer for {STALL:?} (message {i})"))??;
                self.ws.flush().await?;
                if let (true, Some(d)) = (got == g, took) {
                    latencies.push(d);
                    break;
                }
            }
        }
        Ok(Run {
            latencies,
            elapsed: started.elapsed(),
        })
    }

    /// Closes the connection politely.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.ws.close(None)).await;
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn excerpt(s: &str) -> String {
    s.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_of_reads_strings_segments_and_single_segments() {
        assert_eq!(text_of(&json!("pong")), "pong");
        let segs = json!([{"type": "text", "data": {"text": "po"}},
                          {"type": "face", "data": {"id": "1"}},
                          {"type": "text", "data": {"text": "ng"}}]);
        assert_eq!(text_of(&segs), "pong");
        assert_eq!(
            text_of(&json!({"type": "text", "data": {"text": "pong"}})),
            "pong"
        );
    }

    #[test]
    fn groups_map_back_to_their_index_and_members_list_the_account() {
        let w = World {
            self_id: 7,
            groups: 3,
            users: 2,
        };
        assert_eq!(w.index(w.group(2)), Some(2));
        assert_eq!(w.index(w.group(3)), None);
        assert_eq!(w.index(5), None);
        let list = w
            .answer("get_group_member_list", &json!({"group_id": "600001"}))
            .unwrap();
        let ids: Vec<u64> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["user_id"].as_u64().unwrap())
            .collect();
        assert_eq!(ids, vec![7, w.user(1, 0), w.user(1, 1)]);
        assert!(w.answer("delete_msg", &json!({})).is_none());
    }
}
