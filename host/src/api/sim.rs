//! The simulator's control API at `/sim/*` (only on the `sim` backend):
//! inject a received message, read what the account did, force a relogin,
//! make the next sends fail.

use axum::Router;
use axum::extract::{Query, State};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::OpenqqJson;
use super::state::AppState;
use crate::backend::RawChat;
use crate::backend::sim::{FailureKind, InjectError, Sim};
use crate::model::{GroupNumber, Qq};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sim/receive", post(receive))
        .route("/sim/sent", get(sent))
        .route("/sim/relogin", post(relogin))
        .route("/sim/fail", post(fail))
        .route("/sim/join", post(join))
        .route("/sim/leave", post(leave))
        .route("/sim/friend", post(friend))
}

fn status(code: i64, status: impl Into<String>) -> OpenqqJson {
    OpenqqJson(json!({"code": code, "status": status.into()}))
}

/// Parses a JSON body leniently: a bad body is an answer, not a 4xx page.
fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, OpenqqJson> {
    serde_json::from_slice(body).map_err(|e| status(400, format!("bad request: {e}")))
}

fn sim(s: &AppState) -> Result<&Sim, OpenqqJson> {
    s.sim
        .as_deref()
        .ok_or_else(|| status(404, "the simulator is not running"))
}

#[derive(Deserialize)]
struct Receive {
    #[serde(rename = "type")]
    kind: String,
    sender_qq: u64,
    gnumber: Option<u64>,
    did: Option<String>,
    content: String,
    /// The sender's role in the group (`owner`, `admin`, `member`); by
    /// default what the world says.
    role: Option<crate::model::MemberRole>,
    /// The QQ numbers mentioned (`at` is the same list, OneBot's word).
    #[serde(default, alias = "at")]
    mentions: Vec<u64>,
    #[serde(default)]
    at_me: bool,
    #[serde(default)]
    at_all: bool,
    /// The message quoted: its id (an earlier message's `msg_id` fills in
    /// its sender and text), or `{"id", "sender_qq", "content"}`.
    reply_to: Option<ReplyTo>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ReplyTo {
    Id(String),
    Number(u64),
    Full {
        id: String,
        sender_qq: Option<u64>,
        content: Option<String>,
    },
}

impl ReplyTo {
    fn into_quoted(self) -> crate::model::Quoted {
        match self {
            ReplyTo::Id(id) => crate::model::Quoted {
                id,
                ..Default::default()
            },
            ReplyTo::Number(n) => crate::model::Quoted {
                id: n.to_string(),
                ..Default::default()
            },
            ReplyTo::Full {
                id,
                sender_qq,
                content,
            } => crate::model::Quoted {
                id,
                sender: sender_qq.map(Qq),
                text: content,
            },
        }
    }
}

async fn receive(
    State(s): State<AppState>,
    body: axum::body::Bytes,
) -> Result<OpenqqJson, OpenqqJson> {
    let sim = sim(&s)?;
    let r: Receive = parse(&body)?;
    let discuss_key = |did: &Option<String>| {
        let did = did.as_deref().ok_or_else(|| status(400, "did missing"))?;
        s.session
            .contacts()
            .discuss_by_did(did)
            .map(|d| d.key)
            .ok_or_else(|| status(102, format!("discuss {did} not found")))
    };
    let gnumber = |g: Option<u64>| {
        g.map(GroupNumber)
            .ok_or_else(|| status(400, "gnumber missing"))
    };
    let from = match r.kind.as_str() {
        "message" => RawChat::Friend,
        "group_message" => RawChat::Group(gnumber(r.gnumber)?),
        "discuss_message" => RawChat::Discuss(discuss_key(&r.did)?),
        "sess_message" => match (r.gnumber, &r.did) {
            (Some(n), _) => RawChat::GroupSess(GroupNumber(n)),
            (None, Some(_)) => RawChat::DiscussSess(discuss_key(&r.did)?),
            (None, None) => return Err(status(400, "sess_message needs gnumber or did")),
        },
        other => return Err(status(400, format!("unknown type {other:?}"))),
    };
    let addressing = crate::model::Addressing {
        role: r.role,
        mentions: r.mentions.into_iter().map(Qq).collect(),
        at_me: r.at_me,
        at_all: r.at_all,
        reply_to: r.reply_to.map(ReplyTo::into_quoted),
        body: String::new(),
    };
    match sim
        .receive_addressed(from, Qq(r.sender_qq), r.content, addressing)
        .await
    {
        Ok(id) => Ok(OpenqqJson(json!({"code": 0, "msg_id": id}))),
        Err(e @ InjectError::Sender(_)) => Err(status(100, e.to_string())),
        Err(e @ InjectError::Group(_)) => Err(status(101, e.to_string())),
        Err(e @ InjectError::Discuss) => Err(status(102, e.to_string())),
        Err(e @ InjectError::Closed) => Err(status(503, e.to_string())),
    }
}

#[derive(Deserialize)]
struct After {
    after: Option<u64>,
}

async fn sent(State(s): State<AppState>, uri: axum::http::Uri) -> OpenqqJson {
    let after = match Query::<After>::try_from_uri(&uri) {
        Ok(q) => q.after.unwrap_or(0),
        Err(e) => return status(400, format!("bad query: {e}")),
    };
    match sim(&s) {
        Ok(sim) => OpenqqJson(Value::Array(
            sim.sent_after(after).iter().map(|r| r.to_json()).collect(),
        )),
        Err(e) => e,
    }
}

async fn relogin(State(s): State<AppState>) -> OpenqqJson {
    if let Err(e) = sim(&s) {
        return e;
    }
    match s.session.relogin().await {
        Ok(()) => OpenqqJson(json!({"code": 0})),
        Err(e) => status(500, e.to_string()),
    }
}

#[derive(Deserialize)]
struct Fail {
    count: u32,
    /// `down` (retried) or `refuse` (final).
    kind: String,
}

async fn fail(
    State(s): State<AppState>,
    body: axum::body::Bytes,
) -> Result<OpenqqJson, OpenqqJson> {
    let sim = sim(&s)?;
    let f: Fail = parse(&body)?;
    let kind = match f.kind.as_str() {
        "down" => FailureKind::Down,
        "refuse" => FailureKind::Refuse,
        other => return Err(status(400, format!("kind {other:?} is not down or refuse"))),
    };
    sim.fail_next(f.count, kind);
    Ok(OpenqqJson(json!({"code": 0})))
}

/// `/sim/join`: `{"gnumber": N, "qq": N, "nick": "…", "card": "…", "role": "member"|"admin"}`.
#[derive(Deserialize)]
struct Join {
    gnumber: u64,
    qq: u64,
    nick: Option<String>,
    card: Option<String>,
    role: Option<String>,
}

fn inject_status(e: InjectError) -> OpenqqJson {
    match e {
        InjectError::Sender(q) => status(100, format!("member {q} not found")),
        InjectError::Group(_) => status(101, e.to_string()),
        InjectError::Discuss => status(102, e.to_string()),
        InjectError::Closed => status(503, e.to_string()),
    }
}

async fn join(
    State(s): State<AppState>,
    body: axum::body::Bytes,
) -> Result<OpenqqJson, OpenqqJson> {
    let sim = sim(&s)?;
    let j: Join = parse(&body)?;
    let role = match j.role.as_deref() {
        None | Some("member") => crate::model::MemberRole::Member,
        Some("admin") => crate::model::MemberRole::Admin,
        Some(other) => {
            return Err(status(
                400,
                format!("role {other:?} is not member or admin"),
            ));
        }
    };
    let member = crate::model::GroupMember {
        qq: Qq(j.qq),
        nick: j.nick.unwrap_or_else(|| j.qq.to_string()),
        card: j.card.unwrap_or_default(),
        role,
        bad_record: "0".into(),
        client_type: "unknown".into(),
        join_time: "0".into(),
        last_speak_time: "0".into(),
        qage: "0".into(),
        state: "online".into(),
        ..Default::default()
    };
    sim.join(GroupNumber(j.gnumber), member)
        .await
        .map_err(inject_status)?;
    Ok(OpenqqJson(json!({"code": 0})))
}

/// `/sim/leave`: `{"gnumber": N, "qq": N}`.
#[derive(Deserialize)]
struct Leave {
    gnumber: u64,
    qq: u64,
}

async fn leave(
    State(s): State<AppState>,
    body: axum::body::Bytes,
) -> Result<OpenqqJson, OpenqqJson> {
    let sim = sim(&s)?;
    let l: Leave = parse(&body)?;
    sim.leave(GroupNumber(l.gnumber), Qq(l.qq))
        .await
        .map_err(inject_status)?;
    Ok(OpenqqJson(json!({"code": 0})))
}

/// `/sim/friend`: `{"action": "add"|"remove", "qq": N, "nick": "…", "markname": "…", "category": "…"}`.
#[derive(Deserialize)]
struct FriendChange {
    action: String,
    qq: u64,
    nick: Option<String>,
    markname: Option<String>,
    category: Option<String>,
}

async fn friend(
    State(s): State<AppState>,
    body: axum::body::Bytes,
) -> Result<OpenqqJson, OpenqqJson> {
    let sim = sim(&s)?;
    let f: FriendChange = parse(&body)?;
    match f.action.as_str() {
        "add" => {
            let friend = crate::model::Friend {
                qq: Qq(f.qq),
                nick: f.nick.unwrap_or_else(|| f.qq.to_string()),
                markname: f.markname.unwrap_or_default(),
                category: f.category.unwrap_or_else(|| "我的好友".into()),
                client_type: "unknown".into(),
                face: "0".into(),
                flag: "0".into(),
                is_vip: "0".into(),
                state: "online".into(),
                vip_level: "0".into(),
                ..Default::default()
            };
            sim.add_friend(friend).await.map_err(inject_status)?;
        }
        "remove" => sim.remove_friend(Qq(f.qq)).await.map_err(inject_status)?,
        other => {
            return Err(status(
                400,
                format!("action {other:?} is not add or remove"),
            ));
        }
    }
    Ok(OpenqqJson(json!({"code": 0})))
}
