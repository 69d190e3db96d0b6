//! `POST /admin/dry-run`: a typed message through the loaded bots as the
//! pipeline would decide it, with nothing sent (`crate::pipeline::DryRun`
//! says what is and is not kept apart). Works on every backend; the
//! console's chat page uses it on `onebot`. Mounted by `admin::router`,
//! behind its access rule.
//!
//! Body (JSON): `kind` (`friend`, `group`, `discuss`, `sess`), `sender`
//! (QQ number), `chat` (the group's number, the discussion's key, the
//! group or discussion a temp chat came through; not needed for `friend`),
//! `content`, and optionally `sender_name`, `chat_name` (for people and
//! chats the contacts do not know), `role` (`owner`, `admin`, `member`:
//! the sender's, for a mute's check and the 0.2.0 `addressing`), `via`
//! (`group` or `discuss`, for `sess`; default `group`), and the rest of
//! `addressing` as the simulator's `/sim/receive` takes it: `mentions`
//! (QQ numbers), `at_me`, `at_all`.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use serde_json::json;

use super::error::OpenqqJson;
use super::state::AppState;
use crate::backend::{RawChat, RawInbound};
use crate::model::{
    Addressing, ChatKind, GroupNumber, MemberRole, Qq, User, strip_leading_mention,
};

pub fn routes() -> Router<AppState> {
    Router::new().route("/admin/dry-run", post(dry_run))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Typed {
    kind: String,
    sender: u64,
    chat: Option<u64>,
    content: String,
    sender_name: Option<String>,
    chat_name: Option<String>,
    role: Option<String>,
    via: Option<String>,
    #[serde(default, alias = "at")]
    mentions: Vec<u64>,
    #[serde(default)]
    at_me: bool,
    #[serde(default)]
    at_all: bool,
}

fn bad(text: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        OpenqqJson(json!({"error": text.into()})),
    )
        .into_response()
}

async fn dry_run(State(s): State<AppState>, body: axum::body::Bytes) -> Response {
    let t: Typed = match serde_json::from_slice(&body) {
        Ok(t) => t,
        Err(e) => return bad(format!("expected a JSON message: {e}")),
    };
    let (from, role) = match (chat_of(&t), role_of(t.role.as_deref())) {
        (Ok(from), Ok(role)) => (from, role),
        (Err(e), _) | (_, Err(e)) => return bad(e),
    };
    let addressing = addressing_of(&t, role, &s.session.contacts().user);
    let mut msg = s.session.normalise_dry_run(RawInbound {
        msg_id: String::new(),
        time: crate::clock::unix_now(),
        from,
        sender: Qq(t.sender),
        content: t.content,
        addressing,
    });
    if let Some(name) = t.sender_name.filter(|n| !n.is_empty()) {
        msg.sender.name = name;
    }
    if let Some(name) = t.chat_name.filter(|n| !n.is_empty()) {
        let chat = match msg.kind {
            ChatKind::Group => msg.group.as_mut(),
            ChatKind::Discuss => msg.discuss.as_mut(),
            ChatKind::Friend | ChatKind::Sess => None,
        };
        if let Some(c) = chat {
            c.name = name;
        }
    }
    // In a task of its own: a client that goes away drops this handler,
    // and a bot's call dropped half-way would leave its instance abandoned
    // mid-call for the next message. The task ends within the bots' limits.
    let dry_run = s.dry_run.clone();
    match tokio::spawn(async move { dry_run.run(msg, role).await }).await {
        Ok(answer) => OpenqqJson(answer).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a dry run failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                OpenqqJson(json!({"error": "the dry run failed"})),
            )
                .into_response()
        }
    }
}

/// Who the typed message addresses, as the simulator fills it: a mention
/// of the account is `at_me` and the reverse, and the body drops a leading
/// `@name` of the account (its nick or number).
fn addressing_of(t: &Typed, role: Option<MemberRole>, me: &User) -> Addressing {
    let mut a = Addressing {
        role,
        at_me: t.at_me,
        at_all: t.at_all,
        ..Default::default()
    };
    for &qq in &t.mentions {
        a.mention(Qq(qq), Some(me.qq));
    }
    if a.at_me {
        a.mention(me.qq, Some(me.qq));
        let number = me.qq.to_string();
        a.body = strip_leading_mention(&t.content, &[me.nick.as_str(), &number]);
    } else {
        a.body = t.content.trim_end().to_string();
    }
    a
}

/// Where the typed message was said, as a backend would say it.
fn chat_of(t: &Typed) -> Result<RawChat, String> {
    let chat = || {
        t.chat
            .ok_or_else(|| format!("`chat` is needed for {}", t.kind))
    };
    Ok(match (t.kind.as_str(), t.via.as_deref()) {
        ("friend", _) => RawChat::Friend,
        ("group", _) => RawChat::Group(GroupNumber(chat()?)),
        ("discuss", _) => RawChat::Discuss(chat()?),
        ("sess", None | Some("group")) => RawChat::GroupSess(GroupNumber(chat()?)),
        ("sess", Some("discuss")) => RawChat::DiscussSess(chat()?),
        ("sess", Some(other)) => return Err(format!("`via` {other:?} is not group or discuss")),
        (other, _) => {
            return Err(format!(
                "`kind` {other:?} is not friend, group, discuss or sess"
            ));
        }
    })
}

fn role_of(role: Option<&str>) -> Result<Option<MemberRole>, String> {
    Ok(Some(match role {
        None => return Ok(None),
        Some("owner") => MemberRole::Owner,
        Some("admin") => MemberRole::Admin,
        Some("member") => MemberRole::Member,
        Some(other) => return Err(format!("`role` {other:?} is not owner, admin or member")),
    }))
}
