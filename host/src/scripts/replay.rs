//! Replaying messages through one version of a bot in a scratch instance:
//! what `openqq replay` prints and what a swap gate (`gate.rs`) compares.
//!
//! A scratch copy is the same compiled code (`Prepared`, from the one
//! `ScriptEngine`) with the same limits — deadline, wall clock, memory,
//! `[limits]` caps — and the bot's chats, but with nothing that reaches
//! the world:
//! - **sends, mutes and kicks** are queued by the call as always and then
//!   dropped (`Outcome::Decided::actions` describes them);
//! - **KV and timers** live in a fresh in-memory database, empty at the
//!   start of each replay: writes reach neither the bot's real store nor
//!   the other version's run, and one-shot timers never fire;
//! - **HTTP** is denied (no origin granted): a replayed request could
//!   post, pay or page; the bot sees its request refused, as a bot with
//!   no `http` grant does.
//!
//! Host look-ups (`whoami`, friends, groups) read the session's contacts:
//! the running gateway's for a gate, the simulated world's for the CLI.

use std::fmt;
use std::sync::Arc;

use super::error::ScriptError;
use super::loaded::{Instance, LoadedScript};
use crate::grants::{Chat, Granted};
use crate::model::{Decision, InboundMessage, SendTarget};
use crate::session::SessionHandle;

/// What one version made of one message.
#[derive(Debug)]
pub enum Outcome {
    /// It returned: its decision (`None` passes) and what else it asked
    /// for, suppressed.
    Decided {
        decision: Option<Decision>,
        actions: Vec<String>,
    },
    /// It trapped or ran past a limit.
    Failed(ScriptError),
}

impl Outcome {
    /// A deadline or wall-clock limit ended the call.
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            Outcome::Failed(ScriptError::Deadline { .. } | ScriptError::WallClock { .. })
        )
    }

    /// A trap (or a memory or resource cap) ended the call.
    pub fn is_trap(&self) -> bool {
        matches!(self, Outcome::Failed(_)) && !self.is_timeout()
    }

    /// The same decision and the same suppressed actions; two failures
    /// are the same when the same kind of limit ended them.
    pub fn same_as(&self, other: &Outcome) -> bool {
        match (self, other) {
            (
                Outcome::Decided {
                    decision: a,
                    actions: x,
                },
                Outcome::Decided {
                    decision: b,
                    actions: y,
                },
            ) => a == b && x == y,
            (Outcome::Failed(a), Outcome::Failed(b)) => a.limit() == b.limit(),
            _ => false,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Failed(ScriptError::Trap { reason, .. }) => {
                write!(f, "trap: {}", snippet(reason, 160))
            }
            Outcome::Failed(e) => {
                let what = if self.is_timeout() { "timeout" } else { "trap" };
                // The error begins with the script's name; the line has it.
                let text = e.to_string();
                let text = text.split_once(": ").map_or(text.as_str(), |(_, r)| r);
                write!(f, "{what}: {}", snippet(text, 160))
            }
            Outcome::Decided { decision, actions } => {
                let mut parts = Vec::new();
                match decision {
                    None => parts.push("pass".to_string()),
                    Some(d) => {
                        if let Some(r) = &d.reply {
                            parts.push(format!("reply {:?}", snippet(r, 80)));
                        }
                        if let Some(s) = d.shutup {
                            parts.push(format!("mute {s} s"));
                        }
                        if parts.is_empty() {
                            parts.push("empty decision".to_string());
                        }
                    }
                }
                for a in actions {
                    parts.push(format!("[{a}]"));
                }
                f.write_str(&parts.join(" + "))
            }
        }
    }
}

/// The first `max` characters of `text` on one line, `…` when cut.
pub fn snippet(text: &str, max: usize) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match one_line.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}

/// A copy of `version` that runs apart from the world (see the module
/// doc): its own in-memory KV and timers, no HTTP, its own log budget.
///
/// # Errors
/// When the in-memory database cannot be made.
pub fn scratch_copy(version: &LoadedScript) -> anyhow::Result<Arc<LoadedScript>> {
    let storage = crate::storage::Storage::in_memory()?;
    // Its own clock at the real time: nothing moves or reads it but the bot.
    let timers = crate::timers::Timers::new(
        storage,
        crate::timers::Clock::new(false),
        version.timers.zone(),
    )?;
    let mut grants = version.granted.grants.clone();
    grants.http.clear();
    Ok(Arc::new(LoadedScript {
        name: version.name.clone(),
        path: version.path.clone(),
        prepared: version.prepared.clone(),
        config: version.config.clone(),
        deadline: version.deadline,
        wall: version.wall,
        memory_mb: version.memory_mb,
        instances: 1,
        sandbox: version.sandbox,
        granted: Arc::new(Granted::new(grants)),
        log: Arc::new(super::state::LogBudget::new(&version.sandbox)),
        timers,
        refusals: crate::throttle::Throttle::new(super::limits::WARN_INTERVAL),
        loaded_at: std::time::SystemTime::now(),
        traced: version.traced.clone(),
    }))
}

/// Whether `version` hears `msg` (its `chats` grant).
pub fn listens(version: &LoadedScript, msg: &InboundMessage) -> bool {
    version.granted.listens(Chat::of_message(msg))
}

/// Runs a scratch copy (`scratch_copy`) on each message in order, in one
/// instance, as the gateway would: a call that fails drops the instance
/// and the next message gets a fresh one (without the gateway's failure
/// pauses: every message is tried). What `init` asked to send is dropped.
///
/// # Errors
/// When an instance cannot be built (instantiation or `init` fails).
pub async fn run(
    version: &Arc<LoadedScript>,
    session: &SessionHandle,
    messages: &[InboundMessage],
) -> Result<Vec<Outcome>, ScriptError> {
    let mut out = Vec::with_capacity(messages.len());
    let mut live: Option<Instance> = None;
    for msg in messages {
        let instance = match &mut live {
            Some(i) => i,
            None => {
                let mut i = version.instantiate(session.clone()).await?;
                drop(i.take_queued());
                live.insert(i)
            }
        };
        let result = instance.on_message(msg).await;
        let actions = instance.take_queued().iter().map(describe).collect();
        out.push(match result {
            Ok(decision) => Outcome::Decided { decision, actions },
            Err(e) => {
                live = None;
                Outcome::Failed(e)
            }
        });
    }
    Ok(out)
}

/// A suppressed action, for the replay's line.
fn describe(q: &super::actions::Queued) -> String {
    use super::actions::Queued;
    match q {
        Queued::Send(s) => {
            let to = match &s.target {
                SendTarget::Friend { qq, .. } => format!("friend {qq}"),
                SendTarget::Group { gnumber, .. } => format!("group {gnumber}"),
                SendTarget::Discuss { key, .. } => format!("discuss {key}"),
                SendTarget::GroupSess { qq, gnumber, .. } => {
                    format!("sess {qq} via group {gnumber}")
                }
                SendTarget::DiscussSess { qq, key, .. } => format!("sess {qq} via discuss {key}"),
            };
            format!("send to {to} {:?}", snippet(&s.content, 60))
        }
        Queued::Mute(m, 0) => format!("unmute {} in {}", m.qq, m.gnumber),
        Queued::Mute(m, secs) => format!("mute {} in {} for {secs} s", m.qq, m.gnumber),
        Queued::Kick(m) => format!("kick {} from {}", m.qq, m.gnumber),
    }
}

/// Where a message was said, for a replay's line: `friend:10001`,
/// `group:552603` (the chat as grants name it).
pub fn chat_label(msg: &InboundMessage) -> String {
    Chat::of_message(msg).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_are_one_line_and_cut() {
        assert_eq!(snippet("a\nb", 10), "a b");
        assert_eq!(snippet("你好世界", 2), "你好…");
        assert_eq!(snippet("abc", 3), "abc");
    }

    #[test]
    fn outcomes_print_and_compare() {
        let reply = |r: &str| Outcome::Decided {
            decision: Some(Decision {
                reply: Some(r.into()),
                shutup: None,
            }),
            actions: vec![],
        };
        assert_eq!(reply("hi").to_string(), "reply \"hi\"");
        assert!(reply("a").same_as(&reply("a")));
        assert!(!reply("a").same_as(&reply("b")));
        let pass = Outcome::Decided {
            decision: None,
            actions: vec!["send to friend 1 \"x\"".into()],
        };
        assert_eq!(pass.to_string(), "pass + [send to friend 1 \"x\"]");
        let trap = Outcome::Failed(ScriptError::Trap {
            script: "b".into(),
            reason: "boom".into(),
        });
        assert_eq!(trap.to_string(), "trap: boom");
        assert!(trap.is_trap() && !trap.is_timeout());
        let slow = Outcome::Failed(ScriptError::Deadline {
            script: "b".into(),
            deadline_ms: 5,
        });
        assert!(slow.is_timeout() && !slow.is_trap());
        assert!(!slow.same_as(&trap));
    }
}
