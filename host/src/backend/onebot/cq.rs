//! Message segments, the CQ-code text form, and the plain text Openqq shows.
//!
//! A OneBot message is either a CQ string (`hi [CQ:at,qq=1] &#91;x&#93;`) or
//! an array of segments (`spec/onebot.md` §3.3); both decode to `Segment`s
//! here. Outbound we never build CQ strings from user text: `text_message`
//! wraps content in text segments (face names aside), so `[CQ:...]` typed by
//! a user stays text (§2, plain-text safety). Pure functions only.

use serde_json::{Map, Value, json};

/// One message segment: `{"type": ..., "data": {...}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub kind: String,
    /// v11 values are strings (even ids); kept as JSON so nothing is lost.
    pub data: Map<String, Value>,
}

impl Segment {
    pub fn text(text: impl Into<String>) -> Segment {
        let mut data = Map::new();
        data.insert("text".into(), Value::String(text.into()));
        Segment {
            kind: "text".into(),
            data,
        }
    }

    /// A data value as text: strings as they are, numbers and bools printed.
    pub fn get(&self, key: &str) -> Option<String> {
        match self.data.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            other => Some(other.to_string()),
        }
    }

    fn from_json(v: &Value) -> Option<Segment> {
        let kind = v.get("type")?.as_str()?.to_string();
        let data = match v.get("data") {
            Some(Value::Object(m)) => m.clone(),
            _ => Map::new(),
        };
        Some(Segment { kind, data })
    }
}

/// The segments of a message in any of its three forms: a CQ string, an
/// array of segments, or a single segment object. Anything else is empty.
pub fn segments(message: &Value) -> Vec<Segment> {
    match message {
        Value::String(s) => parse(s),
        Value::Array(items) => items.iter().filter_map(Segment::from_json).collect(),
        Value::Object(_) => Segment::from_json(message).into_iter().collect(),
        _ => Vec::new(),
    }
}

/// The `message` param for what a client or bot sent: text segments, never
/// a CQ string, with `[微笑]`-style face names as face segments (as
/// Mojo-Webqq sent them; `faces.rs`).
pub fn text_message(content: &str) -> Value {
    let segments: Vec<Value> = super::faces::split(content)
        .into_iter()
        .map(|piece| match piece {
            super::faces::Piece::Text(t) => json!({"type": "text", "data": {"text": t}}),
            super::faces::Piece::Face(id) => {
                json!({"type": "face", "data": {"id": id.to_string()}})
            }
        })
        .collect();
    if segments.is_empty() {
        // Empty content never reaches a backend; keep the shape anyway.
        return json!([{"type": "text", "data": {"text": content}}]);
    }
    Value::Array(segments)
}

/// Escapes text for a CQ string: `&`, `[`, `]`, and inside a CQ code's
/// parameter values also `,`.
pub fn escape(s: &str, in_param: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '[' => out.push_str("&#91;"),
            ']' => out.push_str("&#93;"),
            ',' if in_param => out.push_str("&#44;"),
            c => out.push(c),
        }
    }
    out
}

/// Reverses `escape` in one pass, so `&amp;#91;` becomes `&#91;` and not
/// `[` (the spec's "`&amp;` last" rule, without its ordering trap).
/// Unknown entities stay as they are.
pub fn unescape(s: &str) -> String {
    const ENTITIES: [(&str, char); 4] = [
        ("&amp;", '&'),
        ("&#91;", '['),
        ("&#93;", ']'),
        ("&#44;", ','),
    ];
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        match ENTITIES.iter().find(|(e, _)| tail.starts_with(e)) {
            Some((e, c)) => {
                out.push(*c);
                rest = &tail[e.len()..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Parses a CQ string. The code's name runs to the first `,` or `]` and is
/// unescaped like a value (it is never escaped in practice); each
/// parameter splits on its first `=` (values may contain `=`). An unclosed
/// `[CQ:` is text. Adjacent text is merged and empty text dropped.
pub fn parse(s: &str) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::new();
    let mut text = String::new();
    let mut rest = s;
    while let Some(at) = rest.find("[CQ:") {
        let Some(len) = rest[at..].find(']') else {
            break;
        };
        text.push_str(&unescape(&rest[..at]));
        let body = &rest[at + 4..at + len];
        rest = &rest[at + len + 1..];
        let mut parts = body.split(',');
        let kind = unescape(parts.next().unwrap_or_default());
        let mut data = Map::new();
        for p in parts {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            data.insert(unescape(k), Value::String(unescape(v)));
        }
        if !text.is_empty() {
            out.push(Segment::text(std::mem::take(&mut text)));
        }
        out.push(Segment { kind, data });
    }
    text.push_str(&unescape(rest));
    if !text.is_empty() {
        out.push(Segment::text(text));
    }
    out
}

/// Encodes segments as a CQ string (for logs and the peer in tests; openqq
/// sends arrays).
pub fn encode(segments: &[Segment]) -> String {
    let mut out = String::new();
    for seg in segments {
        if seg.kind == "text" {
            out.push_str(&escape(&seg.get("text").unwrap_or_default(), false));
            continue;
        }
        out.push_str("[CQ:");
        // Escaped like a value: a kind with `,` or `]` would end the name.
        out.push_str(&escape(&seg.kind, true));
        for k in seg.data.keys() {
            out.push(',');
            out.push_str(&escape(k, true));
            out.push('=');
            out.push_str(&escape(&seg.get(k).unwrap_or_default(), true));
        }
        out.push(']');
    }
    out
}

/// Renders segments as the plain text Openqq clients got from Mojo-Webqq:
/// text as is, pictures `[图片]`, faces `[表情]`, mentions `@name`, and any
/// other kind `[kind]`. `at_name` names a mentioned QQ number (the member's
/// card or nick); the segment's own `name`, then the number, stand in.
pub fn render(segments: &[Segment], at_name: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    for seg in segments {
        match seg.kind.as_str() {
            "text" => out.push_str(&seg.get("text").unwrap_or_default()),
            "at" => {
                let qq = seg.get("qq").unwrap_or_default();
                let name = if qq == "all" {
                    "全体成员".to_string()
                } else {
                    at_name(&qq)
                        .or_else(|| seg.get("name").filter(|n| !n.is_empty()))
                        .unwrap_or(qq)
                };
                out.push('@');
                out.push_str(&name);
            }
            // The quoted message is not part of what was said.
            "reply" => {}
            kind => match placeholder(kind) {
                Some(p) => out.push_str(p),
                None => {
                    out.push('[');
                    out.push_str(kind);
                    out.push(']');
                }
            },
        }
    }
    out
}

/// The Chinese stand-in for a non-text kind, where Mojo-Webqq had one.
fn placeholder(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "image" => "[图片]",
        "face" | "mface" | "sface" | "bface" => "[表情]",
        "record" => "[语音]",
        "video" => "[视频]",
        "file" => "[文件]",
        "forward" | "node" => "[聊天记录]",
        "json" | "xml" | "share" | "contact" | "music" | "location" => "[分享]",
        "poke" => "[戳一戳]",
        "dice" => "[骰子]",
        "rps" => "[猜拳]",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn seg(kind: &str, pairs: &[(&str, &str)]) -> Segment {
        Segment {
            kind: kind.into(),
            data: pairs
                .iter()
                .map(|(k, v)| ((*k).to_string(), Value::String((*v).to_string())))
                .collect(),
        }
    }

    #[test]
    fn escape_and_unescape_follow_the_spec() {
        assert_eq!(escape("a&b[c]d,e", false), "a&amp;b&#91;c&#93;d,e");
        assert_eq!(escape("a,b", true), "a&#44;b");
        assert_eq!(unescape("&amp;#91;"), "&#91;");
        assert_eq!(unescape("&#91;&#93;&#44;&amp;&lt;&"), "[],&&lt;&");
    }

    #[test]
    fn parses_the_cq_forms_implementations_send() {
        assert_eq!(
            parse(
                "hi [CQ:at,qq=10001] look[CQ:image,file=a.jpg,url=http://x/?a=1&amp;b=2]&#91;ok&#93;"
            ),
            vec![
                Segment::text("hi "),
                seg("at", &[("qq", "10001")]),
                Segment::text(" look"),
                seg("image", &[("file", "a.jpg"), ("url", "http://x/?a=1&b=2")]),
                Segment::text("[ok]"),
            ]
        );
        assert_eq!(
            parse("[CQ:face,id=178]"),
            vec![seg("face", &[("id", "178")])]
        );
        assert_eq!(parse("[CQ:shake]"), vec![seg("shake", &[])]);
        // Unclosed: text.
        assert_eq!(parse("a [CQ:at,qq=1"), vec![Segment::text("a [CQ:at,qq=1")]);
        assert_eq!(parse(""), vec![]);
    }

    #[test]
    fn every_message_form_decodes() {
        let arr = json!([{"type": "text", "data": {"text": "x"}}, {"type": "face", "data": null}, {"no": 1}]);
        assert_eq!(segments(&arr), vec![Segment::text("x"), seg("face", &[])]);
        let one = json!({"type": "at", "data": {"qq": 5}});
        assert_eq!(segments(&one)[0].get("qq").as_deref(), Some("5"));
        assert_eq!(segments(&json!("[CQ:dice]")), vec![seg("dice", &[])]);
        assert!(segments(&Value::Null).is_empty());
    }

    #[test]
    fn renders_like_mojo_webqq() {
        let segs = segments(&json!([
            {"type": "reply", "data": {"id": "1"}},
            {"type": "at", "data": {"qq": "888888"}},
            {"type": "text", "data": {"text": " 看 "}},
            {"type": "image", "data": {"file": "x"}},
            {"type": "face", "data": {"id": "1"}},
            {"type": "at", "data": {"qq": "all"}},
            {"type": "at", "data": {"qq": "42", "name": "某人"}},
            {"type": "at", "data": {"qq": "43"}},
            {"type": "markdown", "data": {}},
        ]));
        let name = |qq: &str| (qq == "888888").then(|| "路人甲".to_string());
        assert_eq!(
            render(&segs, name),
            "@路人甲 看 [图片][表情]@全体成员@某人@43[markdown]"
        );
    }

    #[test]
    fn text_messages_are_one_segment() {
        assert_eq!(
            text_message("[CQ:at,qq=all] hi"),
            json!([{"type": "text", "data": {"text": "[CQ:at,qq=all] hi"}}])
        );
    }

    fn kind() -> impl Strategy<Value = String> {
        "[a-z][a-z_]{0,7}".prop_filter("not text", |k| k != "text")
    }

    fn segment() -> impl Strategy<Value = Segment> {
        prop_oneof![
            ".{1,12}".prop_map(Segment::text),
            (
                kind(),
                prop::collection::btree_map("[a-z_]{1,6}", ".{0,8}", 0..3)
            )
                .prop_map(|(kind, data)| Segment {
                    kind,
                    data: data
                        .into_iter()
                        .map(|(k, v)| (k, Value::String(v)))
                        .collect(),
                }),
        ]
    }

    /// Merges adjacent text segments: `parse` always does.
    fn normalised(segs: Vec<Segment>) -> Vec<Segment> {
        let mut out: Vec<Segment> = Vec::new();
        for s in segs {
            match (out.last_mut(), s.kind.as_str()) {
                (Some(last), "text") if last.kind == "text" => {
                    let joined =
                        last.get("text").unwrap_or_default() + &s.get("text").unwrap_or_default();
                    *last = Segment::text(joined);
                }
                _ => out.push(s),
            }
        }
        out
    }

    proptest! {
        #![proptest_config(crate::props::config(200))]

        #[test]
        fn unescape_reverses_escape(s in ".{0,40}", in_param in any::<bool>()) {
            prop_assert_eq!(unescape(&escape(&s, in_param)), s);
        }

        #[test]
        fn escaped_text_parses_as_that_text(s in ".{1,40}") {
            prop_assert_eq!(parse(&escape(&s, false)), vec![Segment::text(s)]);
        }

        #[test]
        fn parse_reverses_encode(segs in prop::collection::vec(segment(), 0..6)) {
            let segs = normalised(segs);
            prop_assert_eq!(parse(&encode(&segs)), segs);
        }

        #[test]
        fn parse_never_panics(s in "(\\[CQ:|[a-z,=&#;\\]\\[]|.){0,40}") {
            let _ = parse(&s);
        }
    }
}

#[cfg(test)]
#[path = "cq_props.rs"]
mod props;
