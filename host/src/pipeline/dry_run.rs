//! Dry runs (`POST /admin/dry-run`): a message typed by an operator goes
//! through the same chain as a received one — the same handlers in the same
//! order, each bot's grants, limits and trace steps (`Chain::decide`) — but
//! nothing it causes is carried out:
//! - the effects sink records instead of starting work (`Effects::dry_run`):
//!   a bot's `host.send`s, mutes and kicks, and the decision's reply and
//!   mute become `Suppressed` entries;
//! - a bot's KV writes and one-shot timers are kept apart for the call and
//!   forgotten after it (`scripts::dry_store`), so reads in the same call
//!   see them and the database never does;
//! - a message no handler took is not passed to the webhook: the fallback
//!   only says what it would have been asked (`Fallback::would_pass`).
//!
//! The message never enters a lane (it waits for no chat's queue), and its
//! trace is marked as a dry run. What is *not* kept apart, because it is
//! the bot's own doing and cannot be undone: the live instance's memory (a
//! bot that counts in a variable counts the dry run), outgoing HTTP of a
//! bot granted `http`, the call's place in the bot's counters and send
//! rate, and — if the call traps — the instance's rebuild and failure pause.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use futures_util::FutureExt;
use serde::Serialize;

use super::{Chain, Effects, panic_text, traced};
use crate::grants::Chat;
use crate::model::{Decided, DecidedBy, GroupNumber, InboundMessage, MemberRole, Qq};
use crate::session::SessionError;
use crate::trace::{Stamped, Step, Trace, Traces};

/// Something a dry run did not do: who asked for it and what it was.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suppressed {
    /// The bot (or handler) that asked.
    pub by: String,
    /// `reply`, `mute`, `send`, `unmute` or `kick`.
    pub action: &'static str,
    /// Where: a chat in the grants' syntax (`group:123`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat: Option<String>,
    /// Whom, for mutes and kicks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qq: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secs: Option<u64>,
    /// Why the gateway or QQ's rules would have refused it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

impl Suppressed {
    pub fn new(by: impl Into<String>, action: &'static str) -> Suppressed {
        Suppressed {
            by: by.into(),
            action,
            chat: None,
            qq: None,
            text: None,
            secs: None,
            refused: None,
        }
    }

    /// One line for a trace: "keyword-reply's reply to group:1".
    pub fn describe(&self) -> String {
        let mut s = format!("{}'s {}", self.by, self.action);
        if let Some(qq) = &self.qq {
            s.push_str(&format!(" of {qq}"));
        }
        if let Some(chat) = &self.chat {
            let at = if self.qq.is_some() { "in" } else { "to" };
            s.push_str(&format!(" {at} {chat}"));
        }
        if let Some(secs) = self.secs {
            s.push_str(&format!(" for {secs} s"));
        }
        if let Some(r) = &self.refused {
            s.push_str(&format!(", which would be refused: {r}"));
        }
        s
    }
}

/// A handler as the console names it: a bot by its name.
fn name(by: &DecidedBy) -> String {
    match by {
        DecidedBy::Native(n) => (*n).to_string(),
        DecidedBy::Script(n) => n.to_string(),
        DecidedBy::Webhook => "webhook".to_string(),
    }
}

/// The decision a dry run reached.
#[derive(Debug, Clone, Serialize)]
pub struct DecisionView {
    pub by: String,
    pub reply: Option<String>,
    pub mute: Option<u64>,
}

/// What a dry run answers.
#[derive(Debug, Clone, Serialize)]
pub struct DryRunAnswer {
    /// Always true: nothing was sent.
    pub dry_run: bool,
    /// The message as the bots saw it.
    pub msg_id: String,
    /// The handler whose decision ended the chain, if any.
    pub decided: Option<DecisionView>,
    /// Each bot's turn, in order (the trace's bot steps: outcome, detail, µs).
    pub bots: Vec<Stamped>,
    /// What would have been done, in order, and was not.
    pub suppressed: Vec<Suppressed>,
    /// No handler took it: what the fallback (the webhook) would have been
    /// asked.
    pub fallback: Option<serde_json::Value>,
    /// The whole run, in microseconds.
    pub us: u64,
    /// The dry run's trace (in the ring too when tracing is on).
    pub trace: Trace,
}

/// Runs typed messages through the chain without effects. Cheap to clone.
#[derive(Clone)]
pub struct DryRun {
    chain: Arc<Chain>,
    traces: Traces,
}

/// Numbers dry runs' message ids (`dry-run:1`), which QQ never uses.
static RUNS: AtomicU64 = AtomicU64::new(1);

impl DryRun {
    pub(super) fn new(chain: Arc<Chain>, traces: Traces) -> DryRun {
        DryRun { chain, traces }
    }

    /// Decides `msg` as the pipeline would and says what would follow.
    /// `role` stands in for the sender's role in a group (a mute's check)
    /// when the contacts do not know it.
    pub async fn run(&self, mut msg: InboundMessage, role: Option<MemberRole>) -> DryRunAnswer {
        let started = Instant::now();
        msg.id = format!("dry-run:{}", RUNS.fetch_add(1, Ordering::Relaxed));
        let (trace, live) = self.traces.begin_dry_run(traced::header(&msg));
        msg.trace = trace;
        let mut effects = Effects::dry_run();
        let decided = AssertUnwindSafe(self.chain.decide(&msg, &mut effects))
            .catch_unwind()
            .await;
        let mut answer_decided = None;
        let mut fallback = None;
        match decided {
            Ok(Some(decided)) => {
                answer_decided = Some(DecisionView {
                    by: name(&decided.by),
                    reply: decided.decision.reply.clone(),
                    mute: decided.decision.shutup,
                });
                self.would_act(&msg, &decided, role, &mut effects);
            }
            Ok(None) => fallback = Some(self.chain.fallback.would_pass(&msg)),
            Err(panic) => {
                let text = panic_text(&*panic);
                msg.trace
                    .step(|| Step::note(format!("deciding panicked ({text}); passed on")));
                fallback = Some(self.chain.fallback.would_pass(&msg));
            }
        }
        let msg_id = msg.id.clone();
        let suppressed = effects.dry.take().unwrap_or_default();
        // Every handle gone: the trace is complete.
        drop((msg, effects));
        let trace = live.snapshot();
        let bots = trace
            .steps
            .iter()
            .filter(|s| matches!(s.step, Step::Bot { .. }))
            .cloned()
            .collect();
        DryRunAnswer {
            dry_run: true,
            msg_id,
            decided: answer_decided,
            bots,
            suppressed,
            fallback,
            us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            trace,
        }
    }

    /// What `SessionHandle::act` would do with `decided`, recorded: the
    /// reply to the chat it came from, then the mute of its sender, each
    /// with the refusal the real one would meet.
    fn would_act(
        &self,
        msg: &InboundMessage,
        decided: &Decided,
        role: Option<MemberRole>,
        effects: &mut Effects,
    ) {
        let by = name(&decided.by);
        if let Some(text) = decided.decision.reply.as_ref().filter(|r| !r.is_empty()) {
            let mut s = Suppressed::new(by.clone(), "reply");
            s.text = Some(text.clone());
            match self.chain.session.reply_target(msg) {
                Some(t) => s.chat = Some(Chat::of_target(&t).to_string()),
                None => s.refused = Some("no way to reply to this message".into()),
            }
            effects.would(&msg.trace, s);
        }
        if let Some(secs) = decided.decision.shutup {
            let mut s = Suppressed::new(by, "mute");
            s.secs = Some(secs);
            s.qq = msg.sender.qq.map(|q| q.to_string());
            s.chat = Some(Chat::of_message(msg).to_string());
            s.refused = match decided.decision.shutup_refusal(msg) {
                Some(r) => Some(r.to_string()),
                None => match (msg.group.as_ref().and_then(|g| g.number), msg.sender.qq) {
                    (Some(group), Some(qq)) => self.mute_refusal(group, qq, role),
                    _ => Some("sender or group unknown".into()),
                },
            };
            effects.would(&msg.trace, s);
        }
    }

    /// Why muting `qq` in `group` would be refused, as the session's
    /// checks would find (`manageable_member`); `role` stands in for the
    /// role of a sender the contacts do not know.
    fn mute_refusal(&self, group: GroupNumber, qq: Qq, role: Option<MemberRole>) -> Option<String> {
        let session = &self.chain.session;
        match (session.manageable_member(group, qq), role) {
            (Ok(_), _) => None,
            (Err(SessionError::MemberNotFound(_)), Some(MemberRole::Member)) => {
                let manages = session
                    .contacts()
                    .group(group)
                    .is_some_and(|g| g.gtype.can_manage());
                (!manages).then(|| "the account is not an admin of this group".to_string())
            }
            (Err(SessionError::MemberNotFound(_)), Some(role)) => {
                Some(format!("member {qq} is the group's {}", role.as_str()))
            }
            (Err(e), _) => Some(e.to_string()),
        }
    }
}
