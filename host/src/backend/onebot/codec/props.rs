//! Property tests of the OneBot frame decoder: any text, any bytes (as the
//! link reads a binary frame) and any JSON never panic it; events and
//! answers generated in every form the implementations use (ids as numbers,
//! numeric strings or floats, texts as numbers or `null`, unknown fields)
//! decode to what was generated.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::*;
use crate::props::{config, json_exact, json_value};

/// An id and the forms it travels in.
fn id() -> impl Strategy<Value = (i64, Value)> {
    // As floats only ids a float carries exactly through serde_json's
    // parser (QQ and group numbers are far below 2^40).
    let small = -(1i64 << 40)..(1i64 << 40);
    prop_oneof![
        any::<i64>().prop_map(|n| (n, json!(n))),
        any::<i64>().prop_map(|n| (n, json!(n.to_string()))),
        any::<i64>().prop_map(|n| (n, json!(format!(" {n} ")))),
        small.prop_map(|n| (n, json!(n as f64))),
        Just((0, Value::Null)),
        Just((0, json!(""))),
    ]
}

/// A display text and its forms: a string, a number, `null`.
fn text() -> impl Strategy<Value = (String, Value)> {
    prop_oneof![
        3 => "(?s).{0,10}".prop_map(|s| (s.clone(), Value::String(s))),
        1 => any::<i64>().prop_map(|n| (n.to_string(), json!(n))),
        1 => any::<bool>().prop_map(|b| (b.to_string(), json!(b))),
        1 => Just((String::new(), Value::Null)),
    ]
}

/// Unknown fields an implementation adds (never one the decoder reads).
fn extras() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::vec(("x_[a-z]{1,6}", json_value()), 0..3)
        .prop_map(|kv| kv.into_iter().collect())
}

/// `key` in `obj` unless the field is to be left out.
fn put(obj: &mut Map<String, Value>, key: &str, v: Option<Value>) {
    if let Some(v) = v {
        obj.insert(key.into(), v);
    }
}

fn message_event() -> impl Strategy<Value = (MessageEvent, Value)> {
    (
        (id(), id(), text(), text(), id(), id()),
        (prop::option::of(id()), json_exact(), text()),
        (id(), text(), text(), prop::option::of(id())),
        extras(),
    )
        .prop_map(
            |(
                (time, self_id, mtype, sub, mid, uid),
                (gid, message, raw),
                (s_uid, nick, card, s_gid),
                extra,
            )| {
                let mut obj = extra;
                obj.insert("post_type".into(), json!("message"));
                obj.insert("time".into(), time.1);
                obj.insert("self_id".into(), self_id.1);
                obj.insert("message_type".into(), mtype.1);
                obj.insert("sub_type".into(), sub.1);
                obj.insert("message_id".into(), mid.1);
                obj.insert("user_id".into(), uid.1);
                put(&mut obj, "group_id", gid.clone().map(|g| g.1));
                obj.insert("message".into(), message.clone());
                obj.insert("raw_message".into(), raw.1);
                let mut sender = Map::new();
                sender.insert("user_id".into(), s_uid.1);
                sender.insert("nickname".into(), nick.1);
                sender.insert("card".into(), card.1);
                put(&mut sender, "group_id", s_gid.clone().map(|g| g.1));
                obj.insert("sender".into(), Value::Object(sender));
                // `null` for an optional id is no id.
                let opt =
                    |g: Option<(i64, Value)>| g.filter(|(_, v)| !v.is_null()).map(|(n, _)| Id(n));
                let want = MessageEvent {
                    time: Id(time.0),
                    self_id: Id(self_id.0),
                    message_type: Text(mtype.0),
                    sub_type: Text(sub.0),
                    message_id: Id(mid.0),
                    user_id: Id(uid.0),
                    group_id: opt(gid),
                    message,
                    raw_message: Text(raw.0),
                    sender: MessageSender {
                        user_id: Id(s_uid.0),
                        nickname: Text(nick.0),
                        card: Text(card.0),
                        group_id: opt(s_gid),
                        ..Default::default()
                    },
                };
                (want, Value::Object(obj))
            },
        )
}

/// A notice and what it must decode to.
fn notice() -> impl Strategy<Value = (Notice, Value)> {
    (
        prop::sample::select(vec![
            "group_increase",
            "group_decrease",
            "friend_add",
            "bot_offline",
            "poke",
            "",
        ]),
        id(),
        id(),
        id(),
        text(),
        text(),
        text(),
        extras(),
    )
        .prop_map(|(kind, gid, uid, time, sub, message, tag, extra)| {
            let mut obj = extra;
            obj.insert("post_type".into(), json!("notice"));
            obj.insert("notice_type".into(), json!(kind));
            obj.insert("group_id".into(), gid.1);
            obj.insert("user_id".into(), uid.1);
            obj.insert("time".into(), time.1);
            obj.insert("sub_type".into(), sub.1);
            obj.insert("message".into(), message.1);
            obj.insert("tag".into(), tag.1);
            let want = match kind {
                "group_increase" => Notice::GroupIncrease {
                    group_id: Id(gid.0),
                    user_id: Id(uid.0),
                    time: Id(time.0),
                },
                "group_decrease" => Notice::GroupDecrease {
                    group_id: Id(gid.0),
                    user_id: Id(uid.0),
                    sub_type: sub.0,
                },
                "friend_add" => Notice::FriendAdd { user_id: Id(uid.0) },
                "bot_offline" => Notice::BotOffline {
                    message: if message.0.is_empty() {
                        tag.0
                    } else {
                        message.0
                    },
                },
                other => Notice::Other {
                    notice_type: other.to_string(),
                },
            };
            (want, Value::Object(obj))
        })
}

/// A response, and what it must decode to.
fn response() -> impl Strategy<Value = (ActionResponse, Value)> {
    (
        text(),
        id(),
        json_exact(),
        json_exact(),
        prop::option::of(text()),
        prop::option::of(text()),
        prop::option::of(text()),
    )
        .prop_map(|(status, retcode, data, echo, message, wording, msg)| {
            let mut obj = Map::new();
            obj.insert("status".into(), status.1);
            obj.insert("retcode".into(), retcode.1);
            obj.insert("data".into(), data.clone());
            obj.insert("echo".into(), echo.clone());
            put(&mut obj, "message", message.clone().map(|m| m.1));
            put(&mut obj, "wording", wording.clone().map(|m| m.1));
            put(&mut obj, "msg", msg.clone().map(|m| m.1));
            let explanation = [message, wording, msg]
                .into_iter()
                .flatten()
                .map(|m| m.0)
                .find(|m| !m.is_empty())
                .unwrap_or_default();
            let want = ActionResponse {
                status: status.0,
                retcode: retcode.0,
                data,
                echo,
                message: explanation,
            };
            (want, Value::Object(obj))
        })
}

fn event_of(frame: &Value) -> Incoming {
    match decode(&frame.to_string()) {
        Ok(Frame::Event(e)) => e,
        other => panic!("not an event: {other:?} from {frame}"),
    }
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn any_text_or_bytes_decode_without_a_panic(
        text in prop_oneof![any::<String>(), "[{}\\[\\]\":,0-9a-z_ ]{0,40}"],
        bytes in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let _ = decode(&text);
        // The link reads a binary frame as lossy UTF-8.
        let _ = decode(&String::from_utf8_lossy(&bytes));
        prop_assert!(excerpt(&text).chars().count() <= EXCERPT_CHARS + 1);
    }

    #[test]
    fn any_json_decodes_by_its_shape(v in json_value(), post_type in prop::option::of(prop_oneof![
        prop::sample::select(vec!["message", "notice", "meta_event", "request", "message_sent"]).prop_map(Value::from),
        json_value(),
    ])) {
        let mut v = v;
        if let (Some(pt), Value::Object(obj)) = (post_type, &mut v) {
            obj.insert("post_type".into(), pt);
        }
        let decoded = decode(&v.to_string());
        match &v {
            Value::Object(obj) if obj.contains_key("post_type") => {
                let Ok(Frame::Event(e)) = decoded else {
                    return Err(TestCaseError::fail(format!("not an event: {decoded:?}")));
                };
                let pt = obj["post_type"].as_str().unwrap_or_default();
                let ok = match (&e.event, pt) {
                    (Event::Message(_) | Event::Undecodable { .. }, "message") => true,
                    (Event::Notice(_) | Event::Undecodable { .. }, "notice") => true,
                    (Event::Meta(_), "meta_event") => true,
                    (Event::Other { post_type, .. }, pt) => post_type == pt && !["message", "notice", "meta_event"].contains(&pt),
                    _ => false,
                };
                prop_assert!(ok, "{:?} for post_type {:?}", e, pt);
            }
            Value::Object(_) => prop_assert!(!matches!(decoded, Ok(Frame::Event(_)))),
            _ => prop_assert!(decoded.is_err()),
        }
    }

    #[test]
    fn generated_messages_decode_as_generated((want, frame) in message_event()) {
        let got = event_of(&frame);
        let key = (want.message_id.0 != 0).then(|| {
            let chat = want.group_id.map_or(want.user_id.0, |g| g.0);
            format!("m:{}:{}:{}", want.message_type.0, chat, want.message_id.0)
        });
        prop_assert_eq!(got.event, Event::Message(want));
        prop_assert_eq!(got.dedup_key, key);
    }

    #[test]
    fn generated_notices_decode_as_generated((want, frame) in notice()) {
        let got = event_of(&frame);
        prop_assert_eq!(got.event, Event::Notice(want));
        prop_assert!(got.dedup_key.is_some());
    }

    #[test]
    fn generated_meta_events_decode_as_generated(
        beat in any::<bool>(),
        interval in prop::option::of(id()),
        online in prop::option::of(prop_oneof![
            any::<bool>().prop_map(|b| (b, json!(b))),
            Just((true, json!(1))), Just((false, json!(0))), Just((true, json!("1"))), Just((false, json!("no"))),
        ]),
        sub in text(),
    ) {
        let mut obj = Map::new();
        obj.insert("post_type".into(), json!("meta_event"));
        let want = if beat {
            obj.insert("meta_event_type".into(), json!("heartbeat"));
            put(&mut obj, "interval", interval.clone().map(|i| i.1));
            if let Some((_, v)) = &online {
                obj.insert("status".into(), json!({"online": v, "good": true}));
            }
            Meta::Heartbeat {
                interval: interval.filter(|(_, v)| !v.is_null()).map(|(n, _)| n),
                online: online.map(|(b, _)| b),
            }
        } else {
            obj.insert("meta_event_type".into(), json!("lifecycle"));
            obj.insert("sub_type".into(), sub.1);
            Meta::Lifecycle { sub_type: sub.0 }
        };
        let got = event_of(&Value::Object(obj));
        prop_assert_eq!(got.event, Event::Meta(want));
        prop_assert_eq!(got.dedup_key, None);
    }

    #[test]
    fn generated_responses_decode_as_generated((want, frame) in response()) {
        match decode(&frame.to_string()) {
            Ok(Frame::Response(got)) => {
                prop_assert_eq!(got.clone().into_result().is_ok(), want.status == "ok");
                prop_assert_eq!(got, want);
            }
            other => prop_assert!(false, "not a response: {:?}", other),
        }
    }

    #[test]
    fn action_data_of_any_shape_is_read_or_refused(v in json_value()) {
        let total = match &v { Value::Array(items) => items.len(), _ => 0 };
        match list::<MemberEntry>(v.clone()) {
            Ok((entries, skipped)) => prop_assert_eq!(entries.len() + skipped, total),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
        let _ = list::<FriendEntry>(v.clone());
        let _ = list::<GroupEntry>(v.clone());
        let _ = object::<StrangerInfo>(v.clone());
        let _ = object::<LoginInfo>(v.clone());
        let _ = object::<Status>(v.clone());
        let _ = object::<SendResult>(v);
    }
}
