//! What the simulated account did, numbered, for `/sim/sent`.

use serde_json::{Value, json};

use crate::model::{MemberRef, MsgId, SendTarget};

/// One action the account took on the simulated QQ.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Send {
        target: SendTarget,
        content: String,
        msg_id: MsgId,
    },
    Shutup {
        target: MemberRef,
        seconds: u32,
    },
    Kick {
        target: MemberRef,
    },
}

/// An action with its sequence number (1, 2, …).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub seq: u64,
    pub action: Action,
    /// When the simulated QQ accepted it (benchmarks measure latency to here).
    pub at: std::time::Instant,
}

/// The list of actions, oldest first. It is bounded: past `CAPACITY` the
/// oldest records are forgotten (clients page with `after=SEQ`).
#[derive(Debug, Default)]
pub struct Recorder {
    records: std::collections::VecDeque<Record>,
    last_seq: u64,
}

/// Enough for any test or demo session; a long benchmark forgets the oldest.
const CAPACITY: usize = 100_000;

impl Recorder {
    pub fn push(&mut self, action: Action) {
        self.last_seq += 1;
        if self.records.len() == CAPACITY {
            self.records.pop_front();
        }
        self.records.push_back(Record {
            seq: self.last_seq,
            action,
            at: std::time::Instant::now(),
        });
    }

    /// The sequence number of the newest record (0 before the first).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    pub fn after(&self, after: u64) -> Vec<Record> {
        self.since(after).cloned().collect()
    }

    /// The records after sequence number `after`, oldest first, borrowed.
    pub fn since(&self, after: u64) -> impl Iterator<Item = &Record> {
        // Sequence numbers are dense, so the start index is arithmetic.
        let first = self.records.front().map_or(0, |r| r.seq);
        let skip = after.saturating_sub(first.saturating_sub(1)) as usize;
        self.records.iter().skip(skip)
    }
}

impl Record {
    /// The `/sim/sent` JSON shape: the target's Openqq parameters as strings.
    pub fn to_json(&self) -> Value {
        let mut v = match &self.action {
            Action::Send {
                target,
                content,
                msg_id,
            } => {
                let mut v =
                    json!({"action": target.action(), "content": content, "msg_id": msg_id.0});
                let obj = v.as_object_mut().expect("literal object");
                match target {
                    SendTarget::Friend { id, qq } => {
                        obj.insert("id".into(), json!(id));
                        obj.insert("qq".into(), json!(qq.to_string()));
                    }
                    SendTarget::Group { gid, gnumber } => {
                        obj.insert("gid".into(), json!(gid));
                        obj.insert("gnumber".into(), json!(gnumber.to_string()));
                    }
                    SendTarget::Discuss { did, .. } => {
                        obj.insert("did".into(), json!(did));
                    }
                    SendTarget::GroupSess {
                        gid,
                        gnumber,
                        id,
                        qq,
                    } => {
                        obj.insert("gid".into(), json!(gid));
                        obj.insert("gnumber".into(), json!(gnumber.to_string()));
                        obj.insert("id".into(), json!(id));
                        obj.insert("qq".into(), json!(qq.to_string()));
                    }
                    SendTarget::DiscussSess { did, id, qq, .. } => {
                        obj.insert("did".into(), json!(did));
                        obj.insert("id".into(), json!(id));
                        obj.insert("qq".into(), json!(qq.to_string()));
                    }
                }
                v
            }
            Action::Shutup { target, seconds } => {
                let mut v = member_json("shutup", target);
                v["time"] = json!(seconds);
                v
            }
            Action::Kick { target } => member_json("kick", target),
        };
        v["seq"] = json!(self.seq);
        v
    }
}

fn member_json(action: &str, t: &MemberRef) -> Value {
    json!({
        "action": action,
        "gid": t.gid,
        "gnumber": t.gnumber.to_string(),
        "id": t.id,
        "qq": t.qq.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Qq;

    #[test]
    fn after_pages_by_sequence() {
        let mut r = Recorder::default();
        for i in 0..5 {
            r.push(Action::Send {
                target: SendTarget::Friend {
                    id: "1".into(),
                    qq: Qq(2),
                },
                content: i.to_string(),
                msg_id: MsgId(i),
            });
        }
        assert_eq!(r.after(0).len(), 5);
        assert_eq!(
            r.after(3).iter().map(|r| r.seq).collect::<Vec<_>>(),
            vec![4, 5]
        );
        assert!(r.after(9).is_empty());
        let j = r.after(4)[0].to_json();
        assert_eq!(j["action"], "send_message");
        assert_eq!(j["qq"], "2");
        assert_eq!(j["seq"], 5);
    }
}
