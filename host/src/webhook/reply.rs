//! Reading the `post_api` answer into a decision (spec §5).
//!
//! Acted on only when the status is 2xx, the Content-Type contains
//! `application/json` or `text/json`, and the body is a JSON object. `reply`
//! must be non-empty (numbers are stringified) and, in v1, `format` absent or
//! `"text"`; `shutup` 1/true mutes for
//! `shutup_time` seconds (default 60).

use serde_json::Value;

use crate::model::Decision;
use crate::render::Dialect;

/// Why an answer was ignored (for the log line).
#[derive(Debug, PartialEq, Eq)]
pub enum Ignored {
    Status(u16),
    ContentType(String),
    NotJsonObject,
}

impl std::fmt::Display for Ignored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ignored::Status(code) => write!(f, "status {code} is not 2xx"),
            Ignored::ContentType(ct) => write!(f, "content type {ct:?} is not JSON"),
            Ignored::NotJsonObject => f.write_str("the body is not a JSON object"),
        }
    }
}

/// The decision in a webhook answer; `Ok(None)` when it asks for nothing.
/// `dialect` picks the original's reply rule: v1 replies only when `format`
/// is absent (or `null`) or `"text"`; v2 dropped that check. `shutup` never
/// depends on `format`.
pub fn parse(
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
    dialect: Dialect,
) -> Result<Option<Decision>, Ignored> {
    if !(200..300).contains(&status) {
        return Err(Ignored::Status(status));
    }
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    if !(ct.contains("application/json") || ct.contains("text/json")) {
        return Err(Ignored::ContentType(ct));
    }
    let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(body) else {
        return Err(Ignored::NotJsonObject);
    };
    let plain_text = match obj.get("format") {
        None | Some(Value::Null) => true,
        Some(f) => dialect == Dialect::V2 || f.as_str() == Some("text"),
    };
    let reply = match obj.get("reply").filter(|_| plain_text) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let truthy = |v: &Value| match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f == 1.0),
        Value::String(s) => s == "1",
        _ => false,
    };
    let shutup = obj
        .get("shutup")
        .is_some_and(truthy)
        .then(|| match obj.get("shutup_time") {
            Some(Value::Number(n)) => n.as_u64().filter(|&t| t > 0).unwrap_or(60),
            Some(Value::String(s)) => s.parse::<u64>().ok().filter(|&t| t > 0).unwrap_or(60),
            _ => 60,
        });
    if reply.is_none() && shutup.is_none() {
        return Ok(None);
    }
    Ok(Some(Decision { reply, shutup }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Dialect::V1;

    const JSON: Option<&str> = Some("application/json;charset=UTF-8");

    #[test]
    fn reply_and_shutup() {
        let d = parse(
            200,
            JSON,
            br#"{"reply":"hi","shutup":1,"shutup_time":120}"#,
            V1,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            d,
            Decision {
                reply: Some("hi".into()),
                shutup: Some(120)
            }
        );
        let d = parse(200, Some("text/json"), br#"{"reply":5,"shutup":true}"#, V1)
            .unwrap()
            .unwrap();
        assert_eq!(
            d,
            Decision {
                reply: Some("5".into()),
                shutup: Some(60)
            }
        );
        let d = parse(
            200,
            JSON,
            br#"{"reply":"x","shutup":1,"shutup_time":30}"#,
            V1,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            d.shutup,
            Some(30),
            "kept so the pipeline refuses and logs it"
        );
    }

    #[test]
    fn ignored_answers() {
        assert_eq!(
            parse(500, JSON, br#"{"reply":"x"}"#, V1),
            Err(Ignored::Status(500))
        );
        assert!(matches!(
            parse(200, Some("text/plain"), br#"{"reply":"x"}"#, V1),
            Err(Ignored::ContentType(_))
        ));
        assert_eq!(parse(200, JSON, b"[1]", V1), Err(Ignored::NotJsonObject));
        assert_eq!(parse(200, JSON, b"", V1), Err(Ignored::NotJsonObject));
        assert_eq!(parse(200, JSON, b"{bad", V1), Err(Ignored::NotJsonObject));
        assert_eq!(parse(200, JSON, br#"{"reply":""}"#, V1), Ok(None));
        assert_eq!(parse(200, JSON, br#"{"code":0}"#, V1), Ok(None));
        assert_eq!(
            parse(200, JSON, br#"{"reply":"x","format":"media"}"#, V1),
            Ok(None)
        );
    }

    #[test]
    fn format_gates_only_the_reply() {
        let body = br#"{"reply":"hi","shutup":1,"format":"image"}"#;
        assert_eq!(
            parse(200, JSON, body, V1),
            Ok(Some(Decision {
                reply: None,
                shutup: Some(60)
            })),
            "v1: shutup is independent of format"
        );
        assert_eq!(
            parse(200, JSON, body, Dialect::V2),
            Ok(Some(Decision {
                reply: Some("hi".into()),
                shutup: Some(60)
            })),
            "v2 dropped the format check"
        );
        assert_eq!(
            parse(200, JSON, br#"{"reply":"hi","format":null}"#, V1),
            Ok(Some(Decision {
                reply: Some("hi".into()),
                shutup: None
            })),
            "a JSON null is an absent format"
        );
        assert_eq!(
            parse(200, JSON, br#"{"format":"html","shutup":1}"#, V1),
            Ok(Some(Decision {
                reply: None,
                shutup: Some(60)
            }))
        );
    }
}

#[cfg(test)]
#[path = "reply_props.rs"]
mod props;
