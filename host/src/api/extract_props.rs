//! Property tests of `OpenqqParams`: query strings, url-encoded and
//! multipart forms, JSON bodies. Whatever the bytes, parsing never panics;
//! what a client encodes comes back as it was (the last of a repeated key,
//! the body over the query); a body that cannot be read is code 400.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::FromRequest;
use axum::http::Request;
use axum::http::header::CONTENT_TYPE;
use proptest::prelude::*;
use serde_json::Value;

use super::*;
use crate::props::{config, json_value};

/// How a client percent-encodes a form.
#[derive(Debug, Clone, Copy)]
enum Style {
    /// `application/x-www-form-urlencoded` as browsers do it (`+` for space).
    Form,
    /// Every byte as `%XX`, in upper or lower case.
    AllEscaped { lower: bool },
    /// Only what must be: `&`, `=`, `%`, `+`; everything else raw, UTF-8
    /// and control characters included (bodies only: not a valid URI).
    Minimal,
}

fn style() -> impl Strategy<Value = Style> {
    prop_oneof![
        Just(Style::Form),
        any::<bool>().prop_map(|lower| Style::AllEscaped { lower }),
        Just(Style::Minimal),
    ]
}

/// A query's style: only those that make a valid URI.
fn query_style() -> impl Strategy<Value = Style> {
    prop_oneof![
        Just(Style::Form),
        any::<bool>().prop_map(|lower| Style::AllEscaped { lower }),
    ]
}

/// Appends `raw` percent-encoded in `style`.
fn push_escaped(out: &mut Vec<u8>, raw: &[u8], style: Style) {
    match style {
        Style::Form => out.extend(form_urlencoded::byte_serialize(raw).flat_map(str::bytes)),
        Style::AllEscaped { lower } => {
            for b in raw {
                let hex = if lower {
                    format!("%{b:02x}")
                } else {
                    format!("%{b:02X}")
                };
                out.extend(hex.bytes());
            }
        }
        Style::Minimal => {
            for &b in raw {
                match b {
                    b'&' | b'=' | b'%' | b'+' => out.extend(format!("%{b:02X}").bytes()),
                    b' ' => out.push(b'+'),
                    b => out.push(b),
                }
            }
        }
    }
}

/// `k=v&k=v…` as bytes.
fn encode_pairs(pairs: &[(Vec<u8>, Vec<u8>)], style: Style) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        push_escaped(&mut out, k, style);
        out.push(b'=');
        push_escaped(&mut out, v, style);
    }
    out
}

/// What the parameters must be: the last value of each key, in first-seen
/// order, `access_token` left out; `None` marks a value that is not UTF-8.
fn expected(pairs: &[(Vec<u8>, Vec<u8>)]) -> Vec<(String, Option<String>, String)> {
    let mut out: Vec<(String, Option<String>, String)> = Vec::new();
    for (k, v) in pairs {
        let key = String::from_utf8_lossy(k).into_owned();
        if key == ACCESS_TOKEN {
            continue;
        }
        let text = String::from_utf8(v.clone()).ok();
        let lossy = String::from_utf8_lossy(v).into_owned();
        match out.iter_mut().find(|(k, _, _)| *k == key) {
            Some(slot) => *slot = (key, text, lossy),
            None => out.push((key, text, lossy)),
        }
    }
    out
}

fn check_params(p: &OpenqqParams, want: &[(String, Option<String>, String)]) {
    let got: Vec<(&str, &str)> = p.iter().collect();
    let want_pairs: Vec<(&str, &str)> = want.iter().map(|(k, _, l)| (&**k, &**l)).collect();
    assert_eq!(got, want_pairs);
    for (k, text, lossy) in want {
        assert_eq!(p.raw(k), Some(lossy.as_str()));
        let t = p.text(k);
        match text {
            None => assert_eq!(t, Err(TextError::NotUtf8), "{k:?}"),
            Some(s) if s.is_empty() => assert_eq!(t, Err(TextError::Missing), "{k:?}"),
            Some(s) => assert_eq!(t, Ok(s.as_str()), "{k:?}"),
        }
    }
}

/// Keys: any text, sometimes one that repeats or is the access token.
fn key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => "(?s).{0,8}".prop_map(String::into_bytes),
        2 => prop::sample::select(vec!["content", "qq", "id", "a", ""]).prop_map(|s| s.as_bytes().to_vec()),
        1 => Just(ACCESS_TOKEN.as_bytes().to_vec()),
    ]
}

/// Values: any text, with `+`, `%`, `&`, `=` and spaces likely.
fn text_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "(?s).{0,16}".prop_map(String::into_bytes),
        "[ +%&=a-z你好\n]{0,12}".prop_map(String::into_bytes),
    ]
}

/// Values that may not be UTF-8.
fn byte_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![text_value(), prop::collection::vec(any::<u8>(), 0..12),]
}

fn pairs(value: impl Strategy<Value = Vec<u8>>) -> impl Strategy<Value = Vec<(Vec<u8>, Vec<u8>)>> {
    prop::collection::vec((key(), value), 0..8)
}

/// Runs `f` to completion on a fresh single-thread runtime.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime")
        .block_on(f)
}

fn from_request(
    uri: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Result<OpenqqParams, ApiError> {
    let mut req = Request::builder().method("POST").uri(uri);
    if let Some(ct) = content_type {
        req = req.header(CONTENT_TYPE, ct);
    }
    let req = req.body(Body::from(body)).expect("a valid request");
    block_on(OpenqqParams::from_request(req, &()))
}

fn assert_bad_request(r: Result<OpenqqParams, ApiError>) {
    match r {
        Err(ApiError::Status { code: 400, status }) => assert!(!status.is_empty()),
        other => panic!("want code 400, got {other:?}"),
    }
}

/// A multipart body of `pairs` (names from `[A-Za-z0-9_]`: quoting in the
/// header is multer's business, not ours).
fn multipart(pairs: &[(String, Vec<u8>)], boundary: &str) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in pairs {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n")
                .bytes(),
        );
        body.extend(value);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").bytes());
    body
}

/// A JSON scalar as the object member a client sends, with the text the
/// parameter must read as (`None`: skipped).
fn json_member() -> impl Strategy<Value = (Value, Option<String>)> {
    prop_oneof![
        "(?s).{0,12}".prop_map(|s| (Value::String(s.clone()), Some(s))),
        any::<i64>().prop_map(|n| (Value::from(n), Some(n.to_string()))),
        any::<u64>().prop_map(|n| (Value::from(n), Some(n.to_string()))),
        any::<bool>().prop_map(|b| (Value::Bool(b), Some(if b { "1" } else { "0" }.to_string()))),
        Just((Value::Null, None)),
        Just((serde_json::json!({"x": 1}), None)),
        prop::collection::vec(
            prop_oneof![
                "[a-z,]{0,4}".prop_map(Value::String),
                any::<i32>().prop_map(Value::from)
            ],
            0..4
        )
        .prop_map(|items| {
            let text = items
                .iter()
                .map(|i| match i {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(",");
            (Value::Array(items), Some(text))
        }),
    ]
}

/// A JSON object's text with every member in order, duplicates included.
fn json_text(members: &[(String, Value)]) -> String {
    let body: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), v))
        .collect();
    format!("{{{}}}", body.join(","))
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn urlencoded_never_panics_and_keys_are_unique(input in prop::collection::vec(
        prop_oneof![any::<u8>(), prop::sample::select(b"&=%+".to_vec())], 0..64)) {
        let mut p = OpenqqParams::default();
        p.merge_urlencoded(&input);
        let keys: Vec<&str> = p.iter().map(|(k, _)| k).collect();
        let unique: std::collections::HashSet<&str> = keys.iter().copied().collect();
        prop_assert_eq!(keys.len(), unique.len());
        prop_assert!(keys.len() <= input.split(|&b| b == b'&').count());
        prop_assert!(p.raw(ACCESS_TOKEN).is_none());
    }

    #[test]
    fn urlencoded_round_trips(pairs in pairs(byte_value()), style in style()) {
        let mut p = OpenqqParams::default();
        p.merge_urlencoded(&encode_pairs(&pairs, style));
        // Keys are read lossily: compare with the lossy key.
        check_params(&p, &expected(&pairs));
    }

    #[test]
    fn a_later_source_wins_key_by_key(first in pairs(text_value()), second in pairs(text_value())) {
        let mut p = OpenqqParams::default();
        p.merge_urlencoded(&encode_pairs(&first, Style::Form));
        p.merge_urlencoded(&encode_pairs(&second, Style::Form));
        let all: Vec<_> = first.iter().chain(&second).cloned().collect();
        check_params(&p, &expected(&all));
    }

    #[test]
    fn json_members_are_stringified_last_wins(
        members in prop::collection::vec((prop_oneof!["(?s).{0,6}", Just("qq".to_string())], json_member()), 0..8)
    ) {
        let text = json_text(&members.iter().map(|(k, (v, _))| (k.clone(), v.clone())).collect::<Vec<_>>());
        let mut p = OpenqqParams::default();
        p.merge_json(text.as_bytes()).expect("an object");
        let mut want: BTreeMap<String, Option<String>> = BTreeMap::new();
        for (k, (_, text)) in &members {
            want.insert(k.clone(), text.clone());
        }
        let want: BTreeMap<String, String> = want
            .into_iter()
            .filter(|(k, _)| k != ACCESS_TOKEN)
            .filter_map(|(k, v)| Some((k, v?)))
            .collect();
        let got: BTreeMap<String, String> = p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn any_json_body_is_params_or_code_400(value in json_value(), raw in prop::collection::vec(any::<u8>(), 0..40), use_raw in any::<bool>()) {
        let body = if use_raw { raw } else { value.to_string().into_bytes() };
        let is_object = matches!(serde_json::from_slice::<Value>(&body), Ok(Value::Object(_)));
        let mut p = OpenqqParams::default();
        match p.merge_json(&body) {
            Ok(()) => prop_assert!(is_object),
            Err(ApiError::Status { code: 400, status }) => {
                prop_assert!(!is_object);
                prop_assert!(!status.is_empty());
            }
            Err(other) => prop_assert!(false, "not a 400: {:?}", other),
        }
    }

    #[test]
    fn deep_json_is_an_answer_not_a_crash(depth in 0usize..5000, object in any::<bool>(), close in any::<bool>()) {
        let (open, end) = if object { ("{\"a\":", "}") } else { ("[", "]") };
        let mut body = format!("{{\"x\":{}1", open.repeat(depth));
        if close {
            body.push_str(&end.repeat(depth));
            body.push('}');
        }
        let r = from_request("/openqq/x", Some("application/json"), body.into_bytes());
        if depth > 200 || !close {
            assert_bad_request(r);
        }
    }

    #[test]
    fn the_body_wins_over_the_query(
        query in pairs(text_value()),
        body in pairs(text_value()),
        qstyle in query_style(),
        bstyle in style(),
        kind in 0u8..4,
    ) {
        let q = String::from_utf8(encode_pairs(&query, qstyle)).expect("ASCII");
        let uri = format!("/openqq/send_message?{q}");
        // Keys the body cannot carry as they are: JSON needs UTF-8 keys
        // (they are, by `text_value`), multipart names are simple.
        let (ct, bytes, carried) = match kind {
            0 => (Some("application/x-www-form-urlencoded"), encode_pairs(&body, bstyle), body.clone()),
            1 => (None, encode_pairs(&body, bstyle), body.clone()),
            2 => {
                let members: Vec<(String, Value)> = body
                    .iter()
                    .map(|(k, v)| (String::from_utf8_lossy(k).into_owned(), Value::String(String::from_utf8_lossy(v).into_owned())))
                    .collect();
                let carried = members.iter().map(|(k, v)| (k.clone().into_bytes(), v.as_str().unwrap_or_default().as_bytes().to_vec())).collect();
                (Some("Application/JSON; charset=utf-8"), json_text(&members).into_bytes(), carried)
            }
            _ => {
                // Names in hex: one simple name per key, repeats kept.
                let fields: Vec<(String, Vec<u8>)> = body
                    .iter()
                    .map(|(k, v)| (format!("k{}", hex::encode(k)), v.clone()))
                    .collect();
                let carried = fields.iter().map(|(k, v)| (k.clone().into_bytes(), v.clone())).collect();
                (Some("multipart/form-data; boundary=XyZ-7f3a"), multipart(&fields, "XyZ-7f3a"), carried)
            }
        };
        let p = from_request(&uri, ct, bytes).expect("a well-formed body");
        let all: Vec<_> = query.iter().chain(&carried).cloned().collect();
        let want: BTreeMap<String, String> = expected(&all).into_iter().map(|(k, _, l)| (k, l)).collect();
        // A JSON body with an empty object still counts (it is not empty).
        let got: BTreeMap<String, String> = p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn multipart_values_round_trip_and_bad_bytes_are_flagged(
        fields in prop::collection::vec(("[A-Za-z0-9_]{1,6}", byte_value()), 0..6),
    ) {
        let p = from_request(
            "/openqq/x",
            Some("multipart/form-data; boundary=b0undary"),
            multipart(&fields, "b0undary"),
        )
        .expect("a well-formed multipart body");
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = fields.iter().map(|(k, v)| (k.clone().into_bytes(), v.clone())).collect();
        check_params(&p, &expected(&pairs));
    }

    #[test]
    fn any_body_of_any_type_is_params_or_code_400(
        body in prop::collection::vec(any::<u8>(), 0..200),
        ct in prop::sample::select(vec![
            "", "application/json", "text/json", "multipart/form-data", "multipart/form-data; boundary=",
            "multipart/form-data; boundary=x", "multipart/form-data; boundary=\"x y\"",
            "application/x-www-form-urlencoded", "text/plain", "application/octet-stream"
        ]),
        prefix_boundary in any::<bool>(),
    ) {
        let mut bytes = if prefix_boundary { b"--x\r\n".to_vec() } else { Vec::new() };
        bytes.extend(body);
        match from_request("/openqq/x?a=1", Some(ct).filter(|c| !c.is_empty()), bytes) {
            Ok(p) => prop_assert!(p.raw(ACCESS_TOKEN).is_none()),
            Err(e) => assert_bad_request(Err(e)),
        }
    }
}
