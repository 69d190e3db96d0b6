//! Property tests of reading a `post_api` answer: any status, content type
//! and body is read without a panic, and the decision follows the rules in
//! `reply.rs`'s header (spec §5), checked against an oracle written from
//! those rules over generated answers.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::*;
use crate::props::{config, json_value};

/// A member of the answer, as generated, and its JSON. Floats are ones that
/// serde_json reads back exactly (it reads some of its own output one unit
/// in the last place off: a reply of 1.8611688098125073e-41 would come back
/// as 1.861168809812507e-41, which is not this code's doing).
#[derive(Debug, Clone)]
enum Member {
    Absent,
    Null,
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Other(Value),
}

impl Member {
    fn json(&self) -> Option<Value> {
        Some(match self {
            Member::Absent => return None,
            Member::Null => Value::Null,
            Member::Str(s) => json!(s),
            Member::Int(n) => json!(n),
            Member::Float(f) => json!(f),
            Member::Bool(b) => json!(b),
            Member::Other(v) => v.clone(),
        })
    }
}

fn member(strings: &'static [&'static str]) -> impl Strategy<Value = Member> {
    prop_oneof![
        2 => Just(Member::Absent),
        1 => Just(Member::Null),
        3 => prop_oneof![prop::sample::select(strings).prop_map(String::from), "(?s).{0,6}"].prop_map(Member::Str),
        2 => prop_oneof![-2i64..3, any::<i64>()].prop_map(Member::Int),
        1 => prop_oneof![Just(1.0), Just(0.5), any::<i32>().prop_map(|m| f64::from(m) / 1000.0)].prop_map(Member::Float),
        1 => any::<bool>().prop_map(Member::Bool),
        1 => json_value().prop_filter("nested", |v| v.is_array() || v.is_object()).prop_map(Member::Other),
    ]
}

#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    content_type: Option<String>,
    reply: Member,
    format: Member,
    shutup: Member,
    shutup_time: Member,
    extra: Map<String, Value>,
}

fn content_type() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        prop::sample::select(vec![
            "application/json",
            "Application/JSON; charset=utf-8",
            "text/json",
            "TEXT/JSON",
            "application/json;charset=UTF-8",
            "text/plain",
            "text/html",
            "application/x-json",
            "application/jsonp",
            "",
            "multipart/form-data",
        ])
        .prop_map(String::from),
        "(?s).{0,20}",
    ])
}

fn answer() -> impl Strategy<Value = Answer> {
    (
        prop_oneof![4 => 200u16..300, 1 => 100u16..600, 1 => any::<u16>()],
        content_type(),
        member(&["hi", "", "0", "[CQ:at,qq=all]"]),
        member(&["text", "media", "Text", ""]),
        member(&["1", "0", "true", "yes", " 1"]),
        member(&["120", "0", "-5", "60s", "18446744073709551615", "2592000"]),
        prop::collection::vec(("x_[a-z]{1,4}", json_value()), 0..3),
    )
        .prop_map(
            |(status, content_type, reply, format, shutup, shutup_time, extra)| Answer {
                status,
                content_type,
                reply,
                format,
                shutup,
                shutup_time,
                extra: extra.into_iter().collect(),
            },
        )
}

impl Answer {
    fn body(&self) -> Vec<u8> {
        let mut obj = self.extra.clone();
        for (k, m) in [
            ("reply", &self.reply),
            ("format", &self.format),
            ("shutup", &self.shutup),
            ("shutup_time", &self.shutup_time),
        ] {
            if let Some(v) = m.json() {
                obj.insert(k.into(), v);
            }
        }
        Value::Object(obj).to_string().into_bytes()
    }

    /// The rules, read off the generated members.
    fn oracle(&self, dialect: Dialect) -> Result<Option<Decision>, Ignored> {
        if !(200..300).contains(&self.status) {
            return Err(Ignored::Status(self.status));
        }
        let ct = self
            .content_type
            .clone()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if !ct.contains("application/json") && !ct.contains("text/json") {
            return Err(Ignored::ContentType(ct));
        }
        // v1 replies only when `format` is absent, null or "text".
        let text_format = match &self.format {
            Member::Absent | Member::Null => true,
            Member::Str(s) => dialect == Dialect::V2 || s == "text",
            _ => dialect == Dialect::V2,
        };
        let reply = match &self.reply {
            Member::Str(s) if !s.is_empty() => Some(s.clone()),
            Member::Int(n) => Some(n.to_string()),
            Member::Float(f) => Some(json!(f).to_string()),
            _ => None,
        }
        .filter(|_| text_format);
        let truthy = match &self.shutup {
            Member::Bool(b) => *b,
            Member::Int(n) => *n == 1,
            Member::Float(f) => *f == 1.0,
            Member::Str(s) => s == "1",
            _ => false,
        };
        // A positive whole number of seconds, as a number or a string;
        // anything else is the default minute.
        let time = match &self.shutup_time {
            Member::Int(n) if *n > 0 => *n as u64,
            Member::Str(s) => s.parse::<u64>().ok().filter(|&t| t > 0).unwrap_or(60),
            _ => 60,
        };
        let shutup = truthy.then_some(time);
        Ok((reply.is_some() || shutup.is_some()).then_some(Decision { reply, shutup }))
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn any_answer_is_read_without_a_panic(
        status in any::<u16>(),
        ct in content_type(),
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..80),
            json_value().prop_map(|v| v.to_string().into_bytes()),
        ],
        v2 in any::<bool>(),
    ) {
        let dialect = if v2 { Dialect::V2 } else { Dialect::V1 };
        if let Ok(Some(d)) = parse(status, ct.as_deref(), &body, dialect) {
            // A decision always asks for something, and a reply is never empty.
            prop_assert!(d.reply.is_some() || d.shutup.is_some());
            prop_assert!(d.reply.as_deref() != Some(""));
            prop_assert!(d.shutup != Some(0));
        }
    }

    #[test]
    fn the_decision_follows_the_rules(a in answer(), v2 in any::<bool>()) {
        let dialect = if v2 { Dialect::V2 } else { Dialect::V1 };
        prop_assert_eq!(parse(a.status, a.content_type.as_deref(), &a.body(), dialect), a.oracle(dialect));
    }
}
