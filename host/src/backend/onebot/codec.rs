//! OneBot v11 frames as Rust values: action requests and responses, events,
//! and the `data` of the actions we call. Pure: no I/O, no clocks.
//!
//! Lenient by design (`spec/onebot.md` §6): four implementations disagree on
//! types, so ids are `i64` read from numbers *or* numeric strings, display
//! strings accept numbers and `null`, every field has a default, and an event
//! kind we do not know decodes to `Event::Other` instead of an error.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde_json::{Map, Value, json};

use crate::backend::BackendError;
use crate::model::{GroupNumber, Qq};

/// A frame we could not use at all (not JSON, not an object).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("undecodable OneBot frame: {0}")]
pub struct CodecError(pub String);

// ------------------------------------------------------------ lenient scalars

/// A QQ number, group number or message id: `i64` on the wire, but sent as a
/// number or a numeric string depending on the implementation (message ids can
/// exceed `i32` and be negative: go-cqhttp#18, Shiro#385).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Id(pub i64);

impl Id {
    /// As a QQ number; `None` for 0 and negatives (no such account).
    pub fn qq(self) -> Option<Qq> {
        u64::try_from(self.0).ok().filter(|&n| n > 0).map(Qq)
    }

    pub fn group(self) -> Option<GroupNumber> {
        self.qq().map(|q| GroupNumber(q.0))
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Id, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Id;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer or a numeric string")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Id, E> {
                Ok(Id(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Id, E> {
                i64::try_from(v)
                    .map(Id)
                    .map_err(|_| E::custom("id out of range"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Id, E> {
                // Some JavaScript implementations serialise big ids as floats.
                if v.fract() == 0.0 && v.abs() < 9.0e15 {
                    Ok(Id(v as i64))
                } else {
                    Err(E::custom("id is not an integer"))
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Id, E> {
                let t = v.trim();
                if t.is_empty() {
                    return Ok(Id(0));
                }
                t.parse()
                    .map(Id)
                    .map_err(|_| E::custom("id is not numeric"))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Id, E> {
                Ok(Id(0))
            }
        }
        d.deserialize_any(V)
    }
}

/// A display string that some implementation sends as a number, a bool or
/// `null` (`level`, `card`, `remark`…).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Text, D::Error> {
        Ok(Text(match Value::deserialize(d)? {
            Value::String(s) => s,
            Value::Null => String::new(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => other.to_string(),
        }))
    }
}

/// A boolean that may come as `true`, `1` or `"1"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flag(pub bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Flag, D::Error> {
        Ok(Flag(match Value::deserialize(d)? {
            Value::Bool(b) => b,
            Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
            Value::String(s) => matches!(s.trim(), "1" | "true" | "True"),
            _ => false,
        }))
    }
}

// ------------------------------------------------------------ actions

/// An action request frame. The echo is always a fresh string: NapCat and
/// nonebot only match string echoes, and responses come back out of order
/// (go-cqhttp answers each request in its own goroutine).
pub fn request(action: &str, params: Value, echo: &str) -> String {
    json!({"action": action, "params": params, "echo": echo}).to_string()
}

/// An action's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionResponse {
    pub status: String,
    pub retcode: i64,
    pub data: Value,
    pub echo: Value,
    /// The implementation's explanation: `message`, else `wording`, else
    /// go-cqhttp's `msg` code.
    pub message: String,
}

impl ActionResponse {
    /// The echo as we sent it; `None` when the implementation lost it
    /// (NapCat#950 answers `""`, LuckyLilliaBot#261 `null`).
    pub fn echo_key(&self) -> Option<String> {
        match &self.echo {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// Whether this frame says the access token was refused: NapCat and
    /// LLOneBot accept the upgrade, send this and close (`spec` §1.4).
    pub fn is_auth_failure(&self) -> bool {
        self.status != "ok" && matches!(self.retcode, 1401 | 1403)
    }

    /// `data` on success. Success is `status == "ok"` only: retcodes differ
    /// per implementation (go-cqhttp 100, NapCat 1200 or even 200, spec
    /// 1400/1404) and only serve the log.
    ///
    /// # Errors
    /// `Rejected` with the implementation's retcode and message.
    pub fn into_result(self) -> Result<Value, BackendError> {
        if self.status == "ok" {
            return Ok(self.data);
        }
        let reason = if self.message.is_empty() {
            format!("{} (retcode {})", self.status, self.retcode)
        } else {
            self.message
        };
        Err(BackendError::Rejected {
            retcode: self.retcode,
            reason,
        })
    }
}

/// The field names of a response we read.
#[derive(Deserialize, Default)]
#[serde(default)]
struct RawResponse {
    status: Text,
    retcode: Id,
    data: Value,
    echo: Value,
    message: Text,
    wording: Text,
    msg: Text,
}

// ------------------------------------------------------------ events

/// One decoded frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Response(ActionResponse),
    Event(Incoming),
}

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

/// How much of a frame a log line quotes.
pub const EXCERPT_CHARS: usize = 200;

/// The start of `text`, at most `EXCERPT_CHARS` characters, cut on a
/// character boundary, with `…` when cut.
pub fn excerpt(text: &str) -> String {
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
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

/// For a field that is only informative: anything undecodable reads as 0
/// rather than making the whole event undecodable (and dropped).
fn lenient_id<'de, D: Deserializer<'de>>(d: D) -> Result<Id, D::Error> {
    let v = Value::deserialize(d)?;
    Ok(Id::deserialize(v).unwrap_or_default())
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

/// Decodes one text frame. A frame with `post_type` is an event, anything
/// else a response (how nonebot and koishi tell them apart, `spec` §1.1).
///
/// # Errors
/// Not JSON, or not a JSON object.
pub fn decode(text: &str) -> Result<Frame, CodecError> {
    let value: Value = serde_json::from_str(text).map_err(|e| CodecError(e.to_string()))?;
    let Value::Object(obj) = value else {
        return Err(CodecError("not a JSON object".into()));
    };
    match obj.get("post_type") {
        Some(pt) => {
            let post_type = pt.as_str().unwrap_or_default().to_string();
            Ok(Frame::Event(decode_event(post_type, obj)))
        }
        None => {
            let r: RawResponse = serde_json::from_value(Value::Object(obj))
                .map_err(|e| CodecError(e.to_string()))?;
            let message = [r.message.0, r.wording.0, r.msg.0]
                .into_iter()
                .find(|m| !m.is_empty())
                .unwrap_or_default();
            Ok(Frame::Response(ActionResponse {
                status: r.status.0,
                retcode: r.retcode.0,
                data: r.data,
                echo: r.echo,
                message,
            }))
        }
    }
}

fn decode_event(post_type: String, obj: Map<String, Value>) -> Incoming {
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

// ------------------------------------------------------------ action data

/// `get_login_info`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct LoginInfo {
    pub user_id: Id,
    pub nickname: Text,
}

/// `get_stranger_info`: the standard fields plus the extensions we map
/// (NapCat `long_nick`, go-cqhttp `sign`, NapCat birthday parts).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct StrangerInfo {
    pub user_id: Id,
    pub nickname: Text,
    pub sex: Text,
    pub long_nick: Text,
    pub sign: Text,
    pub birthday_year: Id,
    pub birthday_month: Id,
    pub birthday_day: Id,
}

/// One entry of `get_friend_list`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct FriendEntry {
    pub user_id: Id,
    pub nickname: Text,
    pub remark: Text,
}

/// One entry of `get_group_list` (or `get_group_info`).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct GroupEntry {
    pub group_id: Id,
    pub group_name: Text,
    /// NapCat's own remark for the group.
    pub group_remark: Text,
    pub group_create_time: Text,
    pub group_level: Text,
}

/// One entry of `get_group_member_list` (or `get_group_member_info`).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct MemberEntry {
    pub user_id: Id,
    pub nickname: Text,
    pub card: Text,
    pub sex: Text,
    pub role: Text,
    pub join_time: Text,
    pub last_sent_time: Text,
    pub level: Text,
    pub unfriendly: Flag,
    pub area: Text,
}

/// `get_status`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Status {
    pub online: Option<Flag>,
}

/// `send_private_msg` / `send_group_msg`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct SendResult {
    pub message_id: Id,
}

/// A single object from `data` (`null` reads as all defaults).
///
/// # Errors
/// `Protocol` when `data` has the wrong shape.
pub fn object<T: DeserializeOwned + Default>(data: Value) -> Result<T, BackendError> {
    if data.is_null() {
        return Ok(T::default());
    }
    serde_json::from_value(data).map_err(|e| BackendError::Protocol(e.to_string()))
}

/// A list from `data`, keeping every entry that decodes: one odd entry must
/// not hide a whole friend list. Returns the entries and how many were
/// skipped.
///
/// # Errors
/// `Protocol` when `data` is not an array (`null` is an empty list).
pub fn list<T: DeserializeOwned>(data: Value) -> Result<(Vec<T>, usize), BackendError> {
    let items = match data {
        Value::Array(items) => items,
        Value::Null => Vec::new(),
        other => {
            return Err(BackendError::Protocol(format!(
                "expected a list, got {}",
                kind_of(&other)
            )));
        }
    };
    let total = items.len();
    let ok: Vec<T> = items
        .into_iter()
        .filter_map(|v| serde_json::from_value(v).ok())
        .collect();
    let skipped = total - ok.len();
    Ok((ok, skipped))
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(text: &str) -> ActionResponse {
        match decode(text).unwrap() {
            Frame::Response(r) => r,
            other => panic!("not a response: {other:?}"),
        }
    }

    fn event(text: &str) -> Incoming {
        match decode(text).unwrap() {
            Frame::Event(e) => e,
            other => panic!("not an event: {other:?}"),
        }
    }

    #[test]
    fn ids_accept_numbers_and_numeric_strings() {
        #[derive(Deserialize)]
        struct T {
            a: Id,
            b: Id,
            c: Id,
            d: Option<Id>,
            e: Id,
        }
        let t: T = serde_json::from_str(
            r#"{"a": 1482675043933618437, "b": "-2147483649", "c": 12.0, "d": null, "e": " 42 "}"#,
        )
        .unwrap();
        assert_eq!(t.a, Id(1482675043933618437));
        assert_eq!(t.b, Id(-2147483649));
        assert_eq!(t.c, Id(12));
        assert_eq!(t.d, None);
        assert_eq!(t.e, Id(42));
        assert!(serde_json::from_str::<Id>(r#""abc""#).is_err());
        assert_eq!(Id(-5).qq(), None);
        assert_eq!(Id(0).qq(), None);
        assert_eq!(Id(10001).qq(), Some(Qq(10001)));
    }

    #[test]
    fn text_and_flag_are_lenient() {
        assert_eq!(serde_json::from_str::<Text>("5").unwrap().0, "5");
        assert_eq!(serde_json::from_str::<Text>("null").unwrap().0, "");
        assert!(serde_json::from_str::<Flag>("1").unwrap().0);
        assert!(serde_json::from_str::<Flag>(r#""true""#).unwrap().0);
        assert!(!serde_json::from_str::<Flag>("false").unwrap().0);
    }

    #[test]
    fn requests_carry_a_string_echo() {
        let r: Value = serde_json::from_str(&request("get_status", json!({}), "openqq-7")).unwrap();
        assert_eq!(
            r,
            json!({"action": "get_status", "params": {}, "echo": "openqq-7"})
        );
    }

    #[test]
    fn responses_succeed_on_status_ok_only() {
        let ok = response(r#"{"status":"ok","retcode":0,"data":{"message_id":-12},"echo":"e1"}"#);
        assert_eq!(ok.echo_key().as_deref(), Some("e1"));
        assert_eq!(ok.into_result().unwrap(), json!({"message_id": -12}));

        // NapCat: retcode 1200 with a message.
        let napcat = response(
            r#"{"status":"failed","retcode":1200,"data":null,"message":"Timeout: NTEvent","wording":"x","echo":"e2"}"#,
        );
        assert_eq!(
            napcat.into_result(),
            Err(BackendError::Rejected {
                retcode: 1200,
                reason: "Timeout: NTEvent".into()
            })
        );
        // go-cqhttp: retcode 100, `msg` code and `wording`.
        let gocq = response(
            r#"{"status":"failed","retcode":100,"data":null,"msg":"SEND_MSG_API_ERROR","wording":"消息发送失败","echo":"e3"}"#,
        );
        assert_eq!(
            gocq.into_result(),
            Err(BackendError::Rejected {
                retcode: 100,
                reason: "消息发送失败".into()
            })
        );
        // NapCat over HTTP: retcode 200 is still a failure.
        assert!(
            response(r#"{"status":"failed","retcode":200,"data":null}"#)
                .into_result()
                .is_err()
        );
        // `async` is not success either.
        assert!(
            response(r#"{"status":"async","retcode":1,"data":null}"#)
                .into_result()
                .is_err()
        );
    }

    #[test]
    fn lost_echoes_and_auth_frames_are_recognised() {
        assert_eq!(response(r#"{"status":"ok","echo":""}"#).echo_key(), None);
        assert_eq!(response(r#"{"status":"ok","echo":null}"#).echo_key(), None);
        assert_eq!(response(r#"{"status":"ok"}"#).echo_key(), None);
        assert_eq!(
            response(r#"{"status":"ok","echo":17}"#)
                .echo_key()
                .as_deref(),
            Some("17")
        );
        let denied =
            response(r#"{"status":"failed","retcode":1403,"data":null,"message":"token验证失败"}"#);
        assert!(denied.is_auth_failure());
        assert!(!response(r#"{"status":"failed","retcode":1200}"#).is_auth_failure());
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
    fn excerpts_are_short_and_cut_between_characters() {
        assert_eq!(excerpt("abc"), "abc");
        let long = "群".repeat(EXCERPT_CHARS + 5);
        let e = excerpt(&long);
        assert_eq!(e.chars().count(), EXCERPT_CHARS + 1);
        assert!(e.ends_with('…'));
    }

    #[test]
    fn duplicate_notices_share_a_key_and_different_ones_do_not() {
        let a = r#"{"post_type":"notice","notice_type":"group_increase","group_id":1,"user_id":2,"time":5}"#;
        let b = r#"{"time":5,"post_type":"notice","notice_type":"group_increase","group_id":1,"user_id":2}"#;
        let c = r#"{"post_type":"notice","notice_type":"group_increase","group_id":1,"user_id":3,"time":5}"#;
        assert_eq!(event(a).dedup_key, event(b).dedup_key);
        assert_ne!(event(a).dedup_key, event(c).dedup_key);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode("not json").is_err());
        assert!(decode("[1,2]").is_err());
        assert!(decode(r#"{"status": {"x": 1}}"#).is_ok());
    }

    #[test]
    fn lists_keep_the_entries_that_decode() {
        let (friends, skipped): (Vec<FriendEntry>, usize) = list(json!([
            {"user_id": 1, "nickname": "a", "remark": null},
            {"user_id": "2", "nickname": 5},
            {"user_id": "two"}
        ]))
        .unwrap();
        assert_eq!(friends.len(), 2);
        assert_eq!(skipped, 1);
        assert_eq!(friends[1].nickname.0, "5");
        assert!(list::<FriendEntry>(json!({"x": 1})).is_err());
        assert_eq!(list::<FriendEntry>(Value::Null).unwrap().0.len(), 0);
        let m: MemberEntry =
            object(json!({"user_id": 1, "level": 3, "unfriendly": false, "role": "admin"}))
                .unwrap();
        assert_eq!(m.level.0, "3");
        assert_eq!(m.role.0, "admin");
    }
}

#[cfg(test)]
#[path = "codec_props.rs"]
mod props;
