//! A trace's verdict: what became of the message in one word, and why in
//! one line — computed from the steps whenever the trace is shown.

use serde::Serialize;

use super::header::{Field, Header, Kind};
use super::step::{BotOutcome, Done, Stamped, Step};

/// Details longer than this are cut in the one-line `why`.
const DETAIL_CHARS: usize = 120;

/// What became of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A bot (or a native handler) decided: a reply or a mute.
    Replied,
    /// Nobody acted on it: the bots passed, the webhook asked for nothing,
    /// failed, or there is none.
    Passed,
    /// The webhook's answer was carried out.
    Webhook,
    /// It was lost: the webhook's backlog was full.
    Dropped,
    /// Still being handled.
    Pending,
}

/// What the steps say, gathered in one pass.
#[derive(Default)]
struct Seen<'a> {
    /// "keyword-reply passed", one per bot step.
    bots: Vec<String>,
    /// The bot whose decision was taken.
    decider: Option<&'a str>,
    /// (status, acted, detail) of the webhook's post.
    webhook: Option<(Option<u16>, bool, Option<&'a str>)>,
    /// What the sends, mutes and kicks did, in order.
    effects: Vec<String>,
    /// Who sent the first send (a native handler has no bot step).
    first_sender: Option<&'a str>,
    any_ok: bool,
    notes: Vec<&'a str>,
    dropped: bool,
}

fn cut(text: &str) -> String {
    match text.char_indices().nth(DETAIL_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

fn with_detail(what: String, detail: Option<&str>) -> String {
    match detail {
        Some(d) if !d.is_empty() => format!("{what} ({})", cut(d)),
        _ => what,
    }
}

impl<'a> Seen<'a> {
    fn gather(steps: &'a [Stamped]) -> Seen<'a> {
        let mut s = Seen::default();
        for st in steps {
            match &st.step {
                Step::Bot {
                    id,
                    outcome,
                    detail,
                    ..
                } => {
                    let bot = &*id.bot;
                    let failed = !matches!(
                        outcome,
                        BotOutcome::Reply | BotOutcome::Mute | BotOutcome::Pass
                    );
                    let what = format!("{bot} {}", outcome.verb());
                    s.bots.push(if failed {
                        with_detail(what, detail.as_deref())
                    } else {
                        what
                    });
                    if matches!(outcome, BotOutcome::Reply | BotOutcome::Mute) {
                        s.decider.get_or_insert(bot);
                    }
                }
                Step::Webhook {
                    status,
                    acted,
                    detail,
                    ..
                } => s.webhook = Some((*status, *acted, detail.as_deref())),
                Step::Send {
                    msg_id,
                    outcome,
                    detail,
                    by,
                    ..
                } => {
                    s.first_sender.get_or_insert(by.as_str());
                    s.effects.push(match (outcome, msg_id) {
                        (Done::Ok, Some(id)) => {
                            s.any_ok = true;
                            format!("sent as {id}")
                        }
                        (Done::Ok, None) => {
                            s.any_ok = true;
                            "sent".into()
                        }
                        (Done::Failed, _) => {
                            with_detail("the send failed".into(), detail.as_deref())
                        }
                    });
                }
                Step::Mute {
                    qq,
                    outcome,
                    detail,
                }
                | Step::Kick {
                    qq,
                    outcome,
                    detail,
                } => {
                    let verb = if matches!(st.step, Step::Mute { .. }) {
                        "mute"
                    } else {
                        "kick"
                    };
                    s.effects.push(match outcome {
                        Done::Ok => {
                            s.any_ok = true;
                            format!("{verb} of {qq} done")
                        }
                        Done::Failed => {
                            with_detail(format!("{verb} of {qq} failed"), detail.as_deref())
                        }
                    });
                }
                Step::Fallback { detail, dropped } => {
                    s.notes.push(detail.as_ref());
                    s.dropped |= *dropped;
                }
            }
        }
        s
    }

    fn asked(&self) -> String {
        if self.bots.is_empty() {
            "no bot took it".into()
        } else {
            self.bots.join(", ")
        }
    }

    fn effects(&self) -> Option<String> {
        (!self.effects.is_empty()).then(|| self.effects.join(", "))
    }
}

/// The outcome and the one-line why of a trace with these steps.
pub(super) fn judge(head: &Header, steps: &[Stamped], done: bool) -> (Outcome, String) {
    let seen = Seen::gather(steps);
    let (outcome, mut why) = match head.kind {
        Kind::Message => message(&seen),
        Kind::Event | Kind::Timer => call(head, &seen),
    };
    if head.dry_run {
        why = format!("dry run, nothing sent: {why}");
    }
    if done {
        (outcome, why)
    } else {
        (Outcome::Pending, format!("pending: {why}"))
    }
}

fn message(s: &Seen<'_>) -> (Outcome, String) {
    let mut parts = vec![s.asked()];
    parts.extend(s.notes.iter().map(|n| n.to_string()));
    let outcome = if s.dropped {
        Outcome::Dropped
    } else if s.decider.is_some() {
        parts.extend(s.effects());
        Outcome::Replied
    } else if let Some((status, acted, detail)) = s.webhook {
        let answered = match status {
            Some(code) => format!("webhook answered {code}"),
            None => "webhook post failed".into(),
        };
        if acted {
            let did = s.effects().unwrap_or_else(|| "nothing was done".into());
            parts.push(format!("{answered}; {did}"));
            Outcome::Webhook
        } else {
            parts.push(match (status, detail) {
                (Some(_), None) => format!("{answered} without a reply"),
                (_, d) => with_detail(answered, d),
            });
            Outcome::Passed
        }
    } else if let (Some(by), true) = (s.first_sender, s.bots.is_empty()) {
        // A native handler decided (tests, benchmarks): no bot step.
        parts[0] = format!("{by} decided");
        parts.extend(s.effects());
        Outcome::Replied
    } else {
        Outcome::Passed
    };
    (outcome, parts.join("; "))
}

fn call(head: &Header, s: &Seen<'_>) -> (Outcome, String) {
    let what = match head.kind {
        Kind::Timer => "timer",
        _ => "event",
    };
    let name = head.get(Field::Content).unwrap_or("");
    let mut parts = vec![format!("{what} {name}: {}", s.asked())];
    parts.extend(s.effects());
    parts.extend(s.notes.iter().map(|n| n.to_string()));
    let outcome = if s.any_ok {
        Outcome::Replied
    } else {
        Outcome::Passed
    };
    (outcome, parts.join("; "))
}
