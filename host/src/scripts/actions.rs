//! What a bot's call asked the gateway to do besides its decision — sends
//! (`host.send`) and moderation (`moderation.*`) — checked when asked and
//! carried out once the call has returned and released its instance, in
//! the order asked: a bot never waits for the outbox or QQ while holding
//! the instance other chats need.

use std::sync::Arc;

use super::loaded::LoadedScript;
use crate::grants::Chat;
use crate::model::{MemberRef, SendOrigin};
use crate::pipeline::{Effects, Suppressed};
use crate::session::{PreparedSend, SessionHandle};
use crate::trace::{Done, Handle, Step, Who};

/// One action a call queued, already checked against the bot's grants
/// and the account's contacts.
#[derive(Debug)]
pub enum Queued {
    Send(PreparedSend),
    /// Mute for this many seconds; 0 lifts a mute.
    Mute(MemberRef, u32),
    Kick(MemberRef),
}

/// Carries out what a call queued, in order, once it has returned;
/// failures are logged (the bot already had its answer), at most once per
/// interval.
pub async fn carry_out(
    session: &SessionHandle,
    version: &Arc<LoadedScript>,
    queued: Vec<Queued>,
    trace: &Handle,
) {
    for action in queued {
        one(session.clone(), version.clone(), action, trace.clone()).await;
    }
}

/// As `carry_out`, as effects of the message being handled: each action is
/// handed to QQ in order without holding the chat's lane. In a dry run each
/// is only recorded (`Effects::would`).
pub fn queue_effects(
    session: &SessionHandle,
    version: &Arc<LoadedScript>,
    queued: Vec<Queued>,
    effects: &mut Effects,
    trace: &Handle,
) {
    for action in queued {
        if effects.is_dry_run() {
            effects.would(trace, suppressed(&version.name, &action));
        } else {
            effects.push(one(session.clone(), version.clone(), action, trace.clone()));
        }
    }
}

/// What a dry run says of an action it does not carry out.
fn suppressed(bot: &str, action: &Queued) -> Suppressed {
    match action {
        Queued::Send(send) => {
            let mut s = Suppressed::new(bot, "send");
            s.chat = Some(Chat::of_target(&send.target).to_string());
            s.text = Some(send.content.clone());
            s
        }
        Queued::Mute(target, secs) => {
            let mut s = Suppressed::new(bot, if *secs == 0 { "unmute" } else { "mute" });
            s.chat = Some(Chat::group(target.gnumber.0).to_string());
            s.qq = Some(target.qq.to_string());
            s.secs = (*secs > 0).then_some(u64::from(*secs));
            s
        }
        Queued::Kick(target) => {
            let mut s = Suppressed::new(bot, "kick");
            s.chat = Some(Chat::group(target.gnumber.0).to_string());
            s.qq = Some(target.qq.to_string());
            s
        }
    }
}

async fn one(session: SessionHandle, version: Arc<LoadedScript>, action: Queued, trace: Handle) {
    // The send records its own step (with its retries); moderation here.
    let moderated = |kick: bool, qq: String, r: &Result<(), String>| {
        let (outcome, detail) = (Done::from(r), r.as_ref().err().cloned());
        if kick {
            Step::Kick {
                qq,
                outcome,
                detail,
            }
        } else {
            Step::Mute {
                qq,
                outcome,
                detail,
            }
        }
    };
    let (what, result) = match action {
        Queued::Send(send) => {
            let msg_id = send.msg_id;
            let origin = SendOrigin::Script(version.name.to_string());
            let who = Who::Bot(version.name.clone());
            let r = session
                .send_traced(send, origin, &trace, who)
                .await
                .map(|_| ());
            (format!("send {msg_id}"), r.map_err(|e| e.to_string()))
        }
        Queued::Mute(target, secs) => {
            let r = session
                .mute_member(&target, secs)
                .await
                .map_err(|e| e.to_string());
            trace.step(|| moderated(false, target.qq.to_string(), &r));
            let what = if secs == 0 { "unmute" } else { "mute" };
            (format!("{what} {} in {}", target.qq, target.gnumber), r)
        }
        Queued::Kick(target) => {
            let r = session
                .kick_member(&target)
                .await
                .map_err(|e| e.to_string());
            trace.step(|| moderated(true, target.qq.to_string(), &r));
            (format!("kick {} from {}", target.qq, target.gnumber), r)
        }
    };
    match result {
        Ok(()) => tracing::debug!(script = %version.name, "{what}: done"),
        Err(e) => {
            if let Some(held_back) = version.refusals.allow() {
                tracing::warn!(script = %version.name, error = %e, held_back, "a bot's {what} failed");
            }
        }
    }
}
