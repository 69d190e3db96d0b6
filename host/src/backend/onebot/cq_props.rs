//! Property tests of the CQ codec beyond those in `cq.rs`'s own tests (which
//! keep to simple kinds, keys and values): any text decodes without a panic
//! into well-formed segments, and segments of any kind, keys and values
//! survive encode → decode.

use proptest::prelude::*;
use serde_json::{Map, Value};

use super::*;
use crate::props::{config, json_value};

/// Text that is likely to contain CQ codes, entities and multi-byte
/// characters next to the brackets (where a byte index would panic).
fn cq_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("[CQ:".to_string()),
        Just("]".to_string()),
        Just("[".to_string()),
        Just(",".to_string()),
        Just("=".to_string()),
        Just("&".to_string()),
        prop::sample::select(vec![
            "&amp;", "&#91;", "&#93;", "&#44;", "&#", "&amp", "&#9"
        ])
        .prop_map(String::from),
        "[a-z]{1,4}",
        "[群é😀\u{0}\n]{1,2}",
        "(?s).{1,3}",
    ];
    prop::collection::vec(piece, 0..24).prop_map(|p| p.concat())
}

/// A segment of any kind but `text`, with any keys (no `=`: a CQ code has no
/// escape for it) and any string values.
fn code() -> impl Strategy<Value = Segment> {
    (
        "(?s).{0,8}".prop_filter("not text", |k| k != "text"),
        prop::collection::btree_map("(?s)[^=]{0,6}", "(?s).{0,10}", 0..4),
    )
        .prop_map(|(kind, data)| Segment {
            kind,
            data: data
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        })
}

fn segment() -> impl Strategy<Value = Segment> {
    prop_oneof!["(?s).{0,16}".prop_map(Segment::text), code(),]
}

/// What `parse` makes of a list: adjacent texts joined, empty ones gone.
fn normalised(segs: &[Segment]) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::new();
    for s in segs {
        if s.kind == "text" {
            let t = s.get("text").unwrap_or_default();
            if t.is_empty() {
                continue;
            }
            if let Some(last) = out.last_mut().filter(|l| l.kind == "text") {
                *last = Segment::text(last.get("text").unwrap_or_default() + &t);
                continue;
            }
        }
        out.push(s.clone());
    }
    out
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn any_text_parses_to_well_formed_segments(s in prop_oneof![cq_text(), any::<String>()]) {
        let segs = parse(&s);
        for pair in segs.windows(2) {
            prop_assert!(!(pair[0].kind == "text" && pair[1].kind == "text"), "adjacent texts in {:?}", segs);
        }
        for seg in &segs {
            if seg.kind == "text" {
                prop_assert!(!seg.get("text").unwrap_or_default().is_empty());
            }
        }
        // Whatever was parsed renders and encodes without a panic.
        let _ = render(&segs, |_| None);
        let _ = encode(&segs);
        // Text without a CQ code comes back unescaped and whole.
        if !s.contains("[CQ:") {
            let text = unescape(&s);
            let want = if text.is_empty() { vec![] } else { vec![Segment::text(text)] };
            prop_assert_eq!(segs, want);
        }
    }

    #[test]
    fn any_segments_survive_encode_then_parse(segs in prop::collection::vec(segment(), 0..6)) {
        let encoded = encode(&segs);
        prop_assert_eq!(parse(&encoded), normalised(&segs), "encoded as {:?}", encoded);
    }

    #[test]
    fn encoding_is_a_fixed_point(segs in prop::collection::vec(segment(), 0..6)) {
        let once = encode(&segs);
        prop_assert_eq!(encode(&parse(&once)), once);
    }

    #[test]
    fn escaping_round_trips_for_any_text(s in prop_oneof![cq_text(), any::<String>()], in_param in any::<bool>()) {
        let e = escape(&s, in_param);
        prop_assert_eq!(unescape(&e), s);
        prop_assert!(!e.contains('[') && !e.contains(']'));
        if in_param {
            prop_assert!(!e.contains(','));
        }
    }

    #[test]
    fn any_json_message_decodes_without_a_panic(v in json_value()) {
        let segs = segments(&v);
        let _ = render(&segs, |qq| Some(qq.to_string()));
        let _ = encode(&segs);
    }

    #[test]
    fn non_string_data_reads_as_its_text(kind in "[a-z]{1,6}", n in any::<i64>(), b in any::<bool>()) {
        let mut data = Map::new();
        data.insert("n".into(), Value::from(n));
        data.insert("b".into(), Value::Bool(b));
        data.insert("z".into(), Value::Null);
        let seg = Segment { kind: kind.clone(), data };
        let back = parse(&encode(std::slice::from_ref(&seg)));
        prop_assert_eq!(back.len(), 1);
        prop_assert_eq!(back[0].get("n"), Some(n.to_string()));
        prop_assert_eq!(back[0].get("b"), Some(b.to_string()));
        prop_assert_eq!(back[0].get("z"), Some(String::new()));
    }

    #[test]
    fn content_without_face_names_is_one_text_segment(s in "(?s)[^\\[]{1,40}") {
        let msg = text_message(&s);
        prop_assert_eq!(segments(&msg), vec![Segment::text(s.clone())]);
        prop_assert_eq!(render(&segments(&msg), |_| None), s);
    }
}

/// Regression (found by `any_segments_survive_encode_then_parse`): a kind
/// was written raw, so `,` or `]` in it made another code.
#[test]
fn a_kind_with_a_comma_or_a_bracket_round_trips() {
    for kind in [",", "a]b", "x,y=z", "&#44;"] {
        let seg = Segment {
            kind: kind.into(),
            data: Map::new(),
        };
        assert_eq!(
            parse(&encode(std::slice::from_ref(&seg))),
            vec![seg],
            "{kind}"
        );
    }
}
