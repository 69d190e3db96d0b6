//! Events: what the implementation reports, tagged by `post_type`. Messages,
//! the notices that change contacts and meta events (lifecycle, heartbeat)
//! are decoded; any other kind is kept raw as `Event::Other`, and a message
//! or contact notice whose fields do not read becomes `Event::Undecodable`
//! rather than an error. Each event carries its de-duplication key
//! (`spec` §5 duplicates).

use serde::Deserialize;
use serde_json::{Map, Value};

use super::excerpt;
use super::scalars::{Flag, Id, Text, lenient_id};
use crate::model::GroupNumber;

/// An event plus what identifies it for de-duplication.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    pub event: Event,
    /// Equal keys mean the same event delivered twice (`spec` §5 duplicates);
    /// `None` for meta events, which are never de-duplicated.
    pub dedup_key: Option<String>,
}

/// Something the implementation reported, tagged by `post_type`.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Message(MessageEvent),
    Notice(Notice),
    Meta(Meta),
    /// `request`, `message_sent`, and kinds we do not know: kept raw.
    Other {
        post_type: String,
        raw: Value,
    },
    /// A message (or a contact notice) whose fields do not read as such: it
    /// is dropped, and the receiver says so at `warn` with why and what.
    Undecodable {
        post_type: String,
        /// serde's complaint.
        reason: String,
        /// The start of the frame (`excerpt`).
        excerpt: String,
    },
}

/// `post_type: "message"` (`spec` §3.1, §3.2).
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default)]
pub struct MessageEvent {
    pub time: Id,
    pub self_id: Id,
    pub message_type: Text,
    pub sub_type: Text,
    pub message_id: Id,
    pub user_id: Id,
    /// Group messages; NapCat also puts it on temp (group-session) messages.
    pub group_id: Option<Id>,
    /// A CQ string, a segment array or one segment (`spec` §3.3).
    pub message: Value,
    pub raw_message: Text,
    pub sender: MessageSender,
}

impl MessageEvent {
    /// The group a temp message came through: NapCat's top-level `group_id`,
    /// else go-cqhttp's `sender.group_id`.
    pub fn temp_group(&self) -> Option<GroupNumber> {
        self.group_id
            .and_then(Id::group)
            .or_else(|| self.sender.group_id.and_then(Id::group))
    }
}

/// A message's `sender`: best effort, may be missing or stale.
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default)]
pub struct MessageSender {
    pub user_id: Id,
    pub nickname: Text,
    pub card: Text,
    pub group_id: Option<Id>,
    /// `owner`, `admin` or `member` in group messages.
    pub role: Text,
}

/// `post_type: "notice"` (`spec` §3.4): the kinds that change contacts.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    GroupIncrease {
        group_id: Id,
        user_id: Id,
        /// When it happened (unix seconds; 0 when absent): the join time.
        time: Id,
    },
    GroupDecrease {
        group_id: Id,
        user_id: Id,
        sub_type: String,
    },
    FriendAdd {
        user_id: Id,
    },
    /// NapCat: the QQ session went offline while the socket stays up.
    BotOffline {
        message: String,
    },
    Other {
        notice_type: String,
    },
}

/// `post_type: "meta_event"` (`spec` §1.7).
#[derive(Debug, Clone, PartialEq)]
pub enum Meta {
    Lifecycle {
        sub_type: String,
    },
    Heartbeat {
        /// Milliseconds to the next beat, as sent (units vary; see `link`).
        interval: Option<i64>,
        /// `status.online`: whether the QQ session itself is online.
        online: Option<bool>,
    },
    Other,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawNotice {
    /// Only the join time of a new member: never worth losing a join over.
    #[serde(deserialize_with = "lenient_id")]
    time: Id,
    notice_type: Text,
    sub_type: Text,
    group_id: Id,
    user_id: Id,
    message: Text,
    tag: Text,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawMeta {
    meta_event_type: Text,
    sub_type: Text,
    interval: Option<Id>,
    status: Option<RawStatus>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawStatus {
    online: Option<Flag>,
}

pub(super) fn decode_event(post_type: String, obj: Map<String, Value>) -> Incoming {
    let raw = Value::Object(obj);
    match post_type.as_str() {
        "message" => match MessageEvent::deserialize(&raw) {
            Ok(m) => {
                // A message id is unique per chat, not globally (go-cqhttp's
                // are CRC32 of group and sequence), so the chat is in the key.
                // A missing id reads as 0 (so do `null` and `""`): such a
                // message is never de-duplicated, or every later one from
                // that chat would look like a repeat of the first.
                let dedup_key = (m.message_id.0 != 0).then(|| {
                    let chat = m.group_id.map_or(m.user_id.0, |g| g.0);
                    format!("m:{}:{}:{}", m.message_type.0, chat, m.message_id.0)
                });
                Incoming {
                    event: Event::Message(m),
                    dedup_key,
                }
            }
            Err(e) => undecodable(post_type, &e, &raw),
        },
        "notice" => {
            let key = Some(format!("n:{:016x}", hash_value(&raw)));
            let n = match RawNotice::deserialize(&raw) {
                Ok(n) => n,
                // Only the kinds that change contacts matter; any other
                // notice is ignored whatever its fields.
                Err(e) if is_contact_notice(&raw) => return undecodable(post_type, &e, &raw),
                Err(_) => RawNotice::default(),
            };
            let notice = match n.notice_type.0.as_str() {
                "group_increase" => Notice::GroupIncrease {
                    group_id: n.group_id,
                    user_id: n.user_id,
                    time: n.time,
                },
                "group_decrease" => Notice::GroupDecrease {
                    group_id: n.group_id,
                    user_id: n.user_id,
                    sub_type: n.sub_type.0,
                },
                "friend_add" => Notice::FriendAdd { user_id: n.user_id },
                "bot_offline" => Notice::BotOffline {
                    message: if n.message.0.is_empty() {
                        n.tag.0
                    } else {
                        n.message.0
                    },
                },
                _ => Notice::Other {
                    notice_type: n.notice_type.0,
                },
            };
            Incoming {
                event: Event::Notice(notice),
                dedup_key: key,
            }
        }
        "meta_event" => {
            let m = RawMeta::deserialize(&raw).unwrap_or_default();
            let meta = match m.meta_event_type.0.as_str() {
                "lifecycle" => Meta::Lifecycle {
                    sub_type: m.sub_type.0,
                },
                "heartbeat" => Meta::Heartbeat {
                    interval: m.interval.map(|i| i.0),
                    online: m.status.and_then(|s| s.online).map(|f| f.0),
                },
                _ => Meta::Other,
            };
            Incoming {
                event: Event::Meta(meta),
                dedup_key: None,
            }
        }
        _ => other(post_type, raw),
    }
}

/// Whether `raw` is a notice the backend turns into a contact change.
fn is_contact_notice(raw: &Value) -> bool {
    matches!(
        raw.get("notice_type").and_then(Value::as_str),
        Some("group_increase" | "group_decrease" | "friend_add")
    )
}

/// An event of a kind we read whose fields do not decode. Not
/// de-duplicated: it is dropped anyway, and each one is worth a log line.
fn undecodable(post_type: String, e: &serde_json::Error, raw: &Value) -> Incoming {
    Incoming {
        event: Event::Undecodable {
            post_type,
            reason: e.to_string(),
            excerpt: excerpt(&raw.to_string()),
        },
        dedup_key: None,
    }
}

fn other(post_type: String, raw: Value) -> Incoming {
    let key = Some(format!("o:{:016x}", hash_value(&raw)));
    Incoming {
        event: Event::Other { post_type, raw },
        dedup_key: key,
    }
}

/// A stable hash of a JSON value (its compact text), for de-duplication keys.
fn hash_value(v: &Value) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    v.to_string().hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::{Frame, decode};
    use super::*;

    fn event(text: &str) -> Incoming {
        match decode(text).unwrap() {
            Frame::Event(e) => e,
            other => panic!("not an event: {other:?}"),
        }
    }

    #[test]
    fn events_are_tagged_by_post_type() {
        let m = event(
            r#"{"time":1700000000,"self_id":10001,"post_type":"message","message_type":"group",
                "sub_type":"normal","message_id":"1482675043933618437","group_id":552603,"user_id":"888888",
                "anonymous":null,"message":[{"type":"text","data":{"text":"hi"}}],"raw_message":"hi",
                "font":14,"sender":{"user_id":888888,"nickname":"路人甲","card":null,"role":"member"}}"#,
        );
        let Event::Message(msg) = &m.event else {
            panic!("{m:?}")
        };
        assert_eq!(msg.message_id, Id(1482675043933618437));
        assert_eq!(msg.user_id, Id(888888));
        assert_eq!(msg.sender.card.0, "");
        assert_eq!(
            m.dedup_key.as_deref(),
            Some("m:group:552603:1482675043933618437")
        );

        let temp = event(
            r#"{"post_type":"message","message_type":"private","sub_type":"group","message_id":1,
                "user_id":5,"message":"x","sender":{"user_id":5,"group_id":"552603"}}"#,
        );
        let Event::Message(t) = temp.event else {
            panic!()
        };
        assert_eq!(t.temp_group(), Some(GroupNumber(552603)));

        let n = event(
            r#"{"post_type":"notice","notice_type":"group_decrease","sub_type":"kick","group_id":"1","user_id":2,"operator_id":3,"time":5}"#,
        );
        assert_eq!(
            n.event,
            Event::Notice(Notice::GroupDecrease {
                group_id: Id(1),
                user_id: Id(2),
                sub_type: "kick".into()
            })
        );
        assert!(n.dedup_key.is_some());

        let hb = event(
            r#"{"post_type":"meta_event","meta_event_type":"heartbeat","interval":30000,"status":{"online":true,"good":true}}"#,
        );
        assert_eq!(
            hb.event,
            Event::Meta(Meta::Heartbeat {
                interval: Some(30000),
                online: Some(true)
            })
        );
        assert_eq!(hb.dedup_key, None);

        let req = event(r#"{"post_type":"request","request_type":"friend","flag":"x"}"#);
        assert!(matches!(req.event, Event::Other { ref post_type, .. } if post_type == "request"));
        let weird = event(r#"{"post_type":"message","message_id":{"nested":1}}"#);
        let Event::Undecodable {
            post_type,
            reason,
            excerpt,
        } = &weird.event
        else {
            panic!("{weird:?}")
        };
        assert_eq!(post_type, "message");
        assert!(!reason.is_empty());
        assert!(
            excerpt.contains(r#""message_id":{"nested":1}"#),
            "{excerpt}"
        );
        let bad_join =
            event(r#"{"post_type":"notice","notice_type":"group_increase","user_id":"u_x"}"#);
        assert!(
            matches!(bad_join.event, Event::Undecodable { .. }),
            "{bad_join:?}"
        );
        // An odd time is not worth losing a join over.
        let odd_time = event(
            r#"{"post_type":"notice","notice_type":"group_increase","group_id":1,"user_id":2,"time":"soon"}"#,
        );
        assert!(
            matches!(odd_time.event, Event::Notice(Notice::GroupIncrease { .. })),
            "{odd_time:?}"
        );
        let odd_other = event(r#"{"post_type":"notice","notice_type":"notify","user_id":"u_x"}"#);
        assert!(matches!(
            odd_other.event,
            Event::Notice(Notice::Other { .. })
        ));
    }

    /// Regression: a message without an id read as id 0, so every later
    /// one from the same chat was dropped as its duplicate for 120 s.
    #[test]
    fn a_message_without_an_id_is_never_a_duplicate() {
        let base = json!({"post_type": "message", "message_type": "group", "group_id": 1,
            "user_id": 2, "message": "x"});
        for id in [None, Some(Value::Null), Some(json!("")), Some(json!(0))] {
            let mut frame = base.clone();
            if let Some(id) = id.clone() {
                frame["message_id"] = id;
            }
            let m = event(&frame.to_string());
            assert!(matches!(m.event, Event::Message(_)), "{m:?}");
            assert_eq!(m.dedup_key, None, "{id:?}");
        }
        let mut frame = base;
        frame["message_id"] = json!(-5);
        assert_eq!(
            event(&frame.to_string()).dedup_key.as_deref(),
            Some("m:group:1:-5"),
            "go-cqhttp's negative ids are ids"
        );
    }

    #[test]
    fn duplicate_notices_share_a_key_and_different_ones_do_not() {
        let a = r#"{"post_type":"notice","notice_type":"group_increase","group_id":1,"user_id":2,"time":5}"#;
        let b = r#"{"time":5,"post_type":"notice","notice_type":"group_increase","group_id":1,"user_id":2}"#;
        let c = r#"{"post_type":"notice","notice_type":"group_increase","group_id":1,"user_id":3,"time":5}"#;
        assert_eq!(event(a).dedup_key, event(b).dedup_key);
        assert_ne!(event(a).dedup_key, event(c).dedup_key);
    }
}
