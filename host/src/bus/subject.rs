//! The bus's names: subjects, report ids and headers. Pure; no I/O.
//!
//! ```text
//! <prefix>.<account>.message.<friend|group|discuss|sess>   received messages (JetStream)
//! <prefix>.<account>.event.<name>                          v2 events (JetStream)
//! <prefix>.<account>.sent.<kind>                           v2 own sends (JetStream)
//! <prefix>.<account>.answer                                workers' answers (request/reply)
//! <prefix>.<account>.api                                   Openqq API calls (request/reply)
//! ```
//!
//! `<account>` is the QQ number the gateway is logged in as, so one stream
//! holds a whole fleet and a worker finds the gateway to answer from the
//! subject (or the `Openqq-Answer` header).

use crate::model::ChatKind;

/// The report's id, also its `Nats-Msg-Id` (JetStream drops a second
/// publish of one id within the stream's duplicate window).
pub const REPORT: &str = "Openqq-Report";
/// The subject to send an answer to; only on reports that take one.
pub const ANSWER: &str = "Openqq-Answer";
/// The account (QQ number) the report is from.
pub const ACCOUNT: &str = "Openqq-Account";
/// On an `api` reply: the HTTP status the same call would have had.
pub const STATUS: &str = "Openqq-Status";

/// One gateway's subjects and ids.
#[derive(Debug, Clone)]
pub struct Subjects {
    prefix: String,
    account: String,
    /// The gateway's start (Unix ms): message ids restart at every start,
    /// report ids must not, or JetStream would drop a restarted gateway's
    /// reports as duplicates.
    boot: u64,
}

impl Subjects {
    pub fn new(prefix: &str, account: u64, boot: u64) -> Subjects {
        Subjects {
            prefix: prefix.to_string(),
            account: account.to_string(),
            boot,
        }
    }

    pub fn account(&self) -> &str {
        &self.account
    }

    fn own(&self, rest: &str) -> String {
        format!("{}.{}.{rest}", self.prefix, self.account)
    }

    pub fn message(&self, kind: ChatKind) -> String {
        self.own(&format!("message.{}", kind_token(kind)))
    }

    pub fn event(&self, name: &str) -> String {
        self.own(&format!("event.{name}"))
    }

    pub fn sent(&self, kind: ChatKind) -> String {
        self.own(&format!("sent.{}", kind_token(kind)))
    }

    pub fn answer(&self) -> String {
        self.own("answer")
    }

    pub fn api(&self) -> String {
        self.own("api")
    }

    /// A received message's report id: stable for the message (a
    /// re-publish after an outage reuses it), unique across restarts.
    pub fn message_id(&self, msg_id: &str) -> String {
        format!("{}-{}-m{msg_id}", self.account, self.boot)
    }

    /// A send report's id.
    pub fn sent_id(&self, msg_id: u64) -> String {
        format!("{}-{}-s{msg_id}", self.account, self.boot)
    }

    /// An event report's id, by the gateway's count of events.
    pub fn event_id(&self, seq: u64) -> String {
        format!("{}-{}-e{seq}", self.account, self.boot)
    }
}

/// The subjects a fleet's stream holds, for every account.
pub fn stream_subjects(prefix: &str) -> Vec<String> {
    ["message", "event", "sent"]
        .iter()
        .map(|k| format!("{prefix}.*.{k}.>"))
        .collect()
}

fn kind_token(kind: ChatKind) -> &'static str {
    match kind {
        ChatKind::Friend => "friend",
        ChatKind::Group => "group",
        ChatKind::Discuss => "discuss",
        ChatKind::Sess => "sess",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_name_the_account_and_the_kind() {
        let s = Subjects::new("openqq", 1234567, 99);
        assert_eq!(s.message(ChatKind::Group), "openqq.1234567.message.group");
        assert_eq!(s.event("new_friend"), "openqq.1234567.event.new_friend");
        assert_eq!(s.sent(ChatKind::Sess), "openqq.1234567.sent.sess");
        assert_eq!(s.answer(), "openqq.1234567.answer");
        assert_eq!(s.api(), "openqq.1234567.api");
        assert_eq!(s.message_id("10001"), "1234567-99-m10001");
        assert_ne!(
            s.message_id("10001"),
            Subjects::new("openqq", 1234567, 100).message_id("10001"),
            "a restarted gateway's ids differ"
        );
        assert_eq!(
            stream_subjects("fleet.eu"),
            [
                "fleet.eu.*.message.>",
                "fleet.eu.*.event.>",
                "fleet.eu.*.sent.>"
            ]
        );
    }
}
