//! Grants: what a bot may do beyond replying, per bot in the config
//! (`[[scripts]]` entries), least privilege by default.
//!
//! With no grants a bot may do what a `post_api` answer may: reply in the
//! chat of the message (or event) it is handling and mute that message's
//! sender there. Everything else is granted:
//! - `chats`: where it listens and acts (default every chat): messages and
//!   events from other chats never reach it;
//! - `send_to`: where `host.send` may go beyond the chat being handled
//!   (default none; a timer call handles no chat, so it needs this);
//! - `moderate`: groups where it may mute, unmute or kick anyone;
//! - `http`: origins its outbound HTTP requests may reach (default none).
//!
//! Each refusal is an error the bot sees (never a trap), counted and logged
//! once per reason (`Denials`). Quotas bound what is granted (`Quotas`).

mod chats;
mod denials;
mod origin;
mod rate;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

pub use chats::{Chat, ChatPattern, ChatSet};
pub use denials::Denials;
pub use origin::Origin;
pub use rate::SendRate;

use crate::config::{LimitsSection, ScriptEntry};

/// One bot's grants and quotas, parsed from its config entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grants {
    pub chats: ChatSet,
    pub send_to: ChatSet,
    /// Groups only (`group:N` or `group:*`).
    pub moderate: ChatSet,
    pub http: Vec<Origin>,
    pub quotas: Quotas,
}

/// The bounds on what is granted; defaults in `[limits]`, each settable
/// per bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    /// `host.send`s one call may make (refused ones count).
    pub sends_per_call: u32,
    /// `host.send`s and moderation calls per minute, all chats together.
    pub sends_per_minute: NonZeroU32,
    /// The same, per chat sent to.
    pub sends_per_minute_per_chat: NonZeroU32,
    /// Outbound HTTP requests one call may start.
    pub http_requests_per_call: u32,
    /// One HTTP request, connect to last byte.
    pub http_timeout: Duration,
    pub http_max_request_bytes: u64,
    pub http_max_response_bytes: u64,
}

impl Grants {
    /// Least privilege: every chat, nothing else (a bot found in
    /// `scripts_dir`, which has no entry to grant it more).
    pub fn least(limits: &LimitsSection) -> Grants {
        Grants {
            chats: ChatSet::Every,
            send_to: ChatSet::none(),
            moderate: ChatSet::none(),
            http: Vec::new(),
            quotas: Quotas::from_limits(limits, None),
        }
    }

    /// No chat and nothing else: what a bot whose grants cannot be read
    /// gets.
    pub fn nothing(limits: &LimitsSection) -> Grants {
        Grants {
            chats: ChatSet::none(),
            ..Grants::least(limits)
        }
    }

    /// The grants of a `[[scripts]]` entry.
    ///
    /// # Errors
    /// An entry that does not parse, named with its key.
    pub fn from_entry(e: &ScriptEntry, limits: &LimitsSection) -> Result<Grants, String> {
        let chats = match &e.chats {
            Some(list) => ChatSet::parse(list).map_err(|m| format!("chats: {m}"))?,
            None => ChatSet::Every,
        };
        let send_to = ChatSet::parse(&e.send_to).map_err(|m| format!("send_to: {m}"))?;
        let moderate = ChatSet::parse(&e.moderate).map_err(|m| format!("moderate: {m}"))?;
        if let ChatSet::Only(list) = &moderate
            && let Some(p) = list
                .iter()
                .find(|p| p.kind != crate::model::ChatKind::Group)
        {
            return Err(format!("moderate: `{p}`: only groups are moderated"));
        }
        if moderate == ChatSet::Every {
            return Err("moderate: `*`: name the groups (`group:N`, or `group:*`)".into());
        }
        let http = e
            .http
            .iter()
            .map(|o| Origin::parse(o))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|m| format!("http: {m}"))?;
        Ok(Grants {
            chats,
            send_to,
            moderate,
            http,
            quotas: Quotas::from_limits(limits, Some(e)),
        })
    }

    /// The default wall-clock limit of a bot's calls: a bot that may wait
    /// on HTTP gets one request's timeout on top of the usual.
    pub fn default_wall_ms(&self, usual: u64) -> u64 {
        if self.http.is_empty() {
            usual
        } else {
            usual.saturating_add(self.quotas.http_timeout.as_millis() as u64)
        }
    }

    /// The grants as `/admin/scripts` and `openqq check` show them.
    pub fn to_json(&self) -> serde_json::Value {
        let q = &self.quotas;
        serde_json::json!({
            "chats": self.chats.entries(),
            "send_to": self.send_to.entries(),
            "moderate": self.moderate.entries(),
            "http": self.http.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "quotas": {
                "sends_per_call": q.sends_per_call,
                "sends_per_minute": q.sends_per_minute.get(),
                "sends_per_minute_per_chat": q.sends_per_minute_per_chat.get(),
                "http_requests_per_call": q.http_requests_per_call,
                "http_timeout_ms": q.http_timeout.as_millis() as u64,
                "http_max_request_bytes": q.http_max_request_bytes,
                "http_max_response_bytes": q.http_max_response_bytes,
            },
        })
    }
}

/// The range of each quota: (key, min, max, `[limits]` value, the
/// entry's own).
type QuotaRange = (
    &'static str,
    u64,
    u64,
    fn(&LimitsSection) -> u64,
    fn(&ScriptEntry) -> Option<u64>,
);

const RANGES: [QuotaRange; 7] = [
    (
        "sends_per_call",
        0,
        1000,
        |l| l.sends_per_call,
        |e| e.sends_per_call,
    ),
    (
        "sends_per_minute",
        1,
        1_000_000,
        |l| l.sends_per_minute,
        |e| e.sends_per_minute,
    ),
    (
        "sends_per_minute_per_chat",
        1,
        1_000_000,
        |l| l.sends_per_minute_per_chat,
        |e| e.sends_per_minute_per_chat,
    ),
    (
        "http_requests_per_call",
        0,
        1000,
        |l| l.http_requests_per_call,
        |e| e.http_requests_per_call,
    ),
    (
        "http_timeout_ms",
        1,
        600_000,
        |l| l.http_timeout_ms,
        |e| e.http_timeout_ms,
    ),
    (
        "http_max_request_bytes",
        0,
        1 << 30,
        |l| l.http_max_request_bytes,
        |e| e.http_max_request_bytes,
    ),
    (
        "http_max_response_bytes",
        0,
        1 << 30,
        |l| l.http_max_response_bytes,
        |e| e.http_max_response_bytes,
    ),
];

impl Quotas {
    /// Checks the quotas `[limits]` sets (`entry` = `None`) or an entry
    /// sets for itself.
    ///
    /// # Errors
    /// The first quota out of its range, named.
    pub fn check(l: &LimitsSection, entry: Option<&ScriptEntry>) -> Result<(), String> {
        for (key, min, max, default, own) in RANGES {
            let (v, section) = match entry {
                None => (default(l), "[limits] "),
                Some(e) => match own(e) {
                    Some(v) => (v, ""),
                    None => continue,
                },
            };
            if !(min..=max).contains(&v) {
                return Err(format!(
                    "{section}{key} = {v}, but it must be {min} to {max}"
                ));
            }
        }
        Ok(())
    }

    /// `[limits]`, with what `entry` sets instead.
    pub fn from_limits(l: &LimitsSection, entry: Option<&ScriptEntry>) -> Quotas {
        let pick = |own: Option<u64>, default: u64| own.unwrap_or(default);
        let e = |f: fn(&ScriptEntry) -> Option<u64>| entry.and_then(f);
        let nonzero = |v: u64| {
            NonZeroU32::new(u32::try_from(v).unwrap_or(u32::MAX)).unwrap_or(NonZeroU32::MIN)
        };
        Quotas {
            sends_per_call: pick(e(|e| e.sends_per_call), l.sends_per_call) as u32,
            sends_per_minute: nonzero(pick(e(|e| e.sends_per_minute), l.sends_per_minute)),
            sends_per_minute_per_chat: nonzero(pick(
                e(|e| e.sends_per_minute_per_chat),
                l.sends_per_minute_per_chat,
            )),
            http_requests_per_call: pick(e(|e| e.http_requests_per_call), l.http_requests_per_call)
                as u32,
            http_timeout: Duration::from_millis(pick(e(|e| e.http_timeout_ms), l.http_timeout_ms)),
            http_max_request_bytes: pick(e(|e| e.http_max_request_bytes), l.http_max_request_bytes),
            http_max_response_bytes: pick(
                e(|e| e.http_max_response_bytes),
                l.http_max_response_bytes,
            ),
        }
    }
}

/// What a call is handling: the chat of its message or event (a timer
/// call and `init` handle none) and the message's sender.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Handling {
    pub chat: Option<Chat>,
    pub sender: Option<u64>,
}

impl Handling {
    /// A message's: its chat and sender.
    pub fn of_message(msg: &crate::model::InboundMessage) -> Handling {
        Handling {
            chat: Some(Chat::of_message(msg)),
            sender: msg.sender.qq.map(|q| q.0),
        }
    }

    /// An event's: the chat it is about, no sender.
    pub fn of_event(event: &crate::model::Event) -> Handling {
        Handling {
            chat: Chat::of_event(event),
            sender: None,
        }
    }
}

/// A bot's grants at work: shared by its instances. The denials and the
/// send rate belong to the bot, not the version: a swap keeps them.
#[derive(Debug)]
pub struct Granted {
    pub grants: Grants,
    pub denials: Arc<Denials>,
    pub rate: Arc<SendRate>,
}

/// What a moderation call asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moderation {
    Mute,
    Unmute,
    Kick,
}

impl Granted {
    /// Grants used for the first time: nothing denied yet.
    pub fn new(grants: Grants) -> Granted {
        let q = &grants.quotas;
        let rate = Arc::new(SendRate::new(
            q.sends_per_minute,
            q.sends_per_minute_per_chat,
        ));
        Granted {
            grants,
            denials: Arc::default(),
            rate,
        }
    }

    /// A new version's grants, keeping what `old` counted (and its rate,
    /// while the quotas are the same).
    pub fn succeeding(grants: Grants, old: &Granted) -> Granted {
        let mut next = Granted::new(grants);
        next.denials = old.denials.clone();
        if next.grants.quotas == old.grants.quotas {
            next.rate = old.rate.clone();
        }
        next
    }

    /// Whether the bot may make outbound HTTP requests (and so wait
    /// seconds in a call).
    pub fn waits_on_http(&self) -> bool {
        !self.grants.http.is_empty()
    }

    /// Whether messages and events of `chat` reach the bot.
    pub fn listens(&self, chat: Chat) -> bool {
        self.grants.chats.allows(chat)
    }

    /// Whether a send to `to` is allowed while handling `h`, taking it
    /// from the send rate when it is. `Err` is the reason, not yet counted.
    pub fn may_send(&self, h: Handling, to: Chat) -> Result<(), String> {
        self.may_send_to(h, to)?;
        self.rate.admit(to)
    }

    /// The grant half of `may_send`, without taking from the rate: checked
    /// before a destination is even looked up, so a refused bot cannot tell
    /// "not granted" from "not a friend".
    pub fn may_send_to(&self, h: Handling, to: Chat) -> Result<(), String> {
        let here = h.chat == Some(to) && self.grants.chats.allows(to);
        if !here && !self.grants.send_to.allows(to) {
            return Err(match h.chat {
                Some(_) => format!("send to {to}: not the chat being handled, and not in send_to"),
                None => format!("send to {to}: not in send_to (a timer call handles no chat)"),
            });
        }
        Ok(())
    }

    /// Whether the bot may look `chat` up (`host.friend`, `host.group`,
    /// `host.group-member`): a chat it listens to, sends to or moderates.
    /// A confined bot learns nothing of the account's other contacts.
    pub fn may_look_up(&self, chat: Chat) -> bool {
        let g = &self.grants;
        g.chats.allows(chat) || g.send_to.allows(chat) || g.moderate.allows(chat)
    }

    /// Whether `what` on `member` of `group` is allowed while handling `h`:
    /// muting the sender of the message in its group needs no grant (a
    /// decision may do it), anything else needs `moderate`. The caller
    /// takes it from the send rate once the API's rules pass too.
    pub fn may_moderate(
        &self,
        h: Handling,
        what: Moderation,
        group: u64,
        member: u64,
    ) -> Result<(), String> {
        let chat = Chat::group(group);
        let own_sender =
            what == Moderation::Mute && h.chat == Some(chat) && h.sender == Some(member);
        if !own_sender && !self.grants.moderate.allows(chat) {
            let verb = match what {
                Moderation::Mute => "mute",
                Moderation::Unmute => "unmute",
                Moderation::Kick => "kick",
            };
            return Err(format!("{verb} in {chat}: not in moderate"));
        }
        Ok(())
    }

    /// Counts and (once per reason) logs a refusal; the text the bot sees.
    pub fn deny(&self, script: &str, msg_id: &str, reason: &str) -> String {
        self.denials.deny(script, msg_id, reason);
        format!("denied: {reason}")
    }
}
