//! `OpenqqParams`: the request's parameters, from the query string and the
//! body, however the client sent them (spec §1).
//!
//! Query and body are merged and the body wins; a repeated parameter keeps its
//! last value (as Mojolicious did). Bodies may be url-encoded forms, multipart
//! forms or JSON objects. `+` is a space. Values that are not UTF-8 after
//! percent-decoding are remembered, so `content` can be refused with code 400
//! instead of being sent garbled.

use std::collections::{HashMap, HashSet};

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header::CONTENT_TYPE;

use super::error::ApiError;

/// Parameters of one Openqq request.
#[derive(Debug, Default, Clone)]
pub struct OpenqqParams {
    values: HashMap<String, String>,
    /// Keys whose value was not valid UTF-8 (kept lossily in `values`).
    not_utf8: HashSet<String>,
    /// Keys in the order first seen, for searches that use every parameter.
    order: Vec<String>,
}

/// The parameter that carries the gateway's access token.
pub const ACCESS_TOKEN: &str = "access_token";

/// Why a value could not be used as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextError {
    Missing,
    NotUtf8,
}

impl OpenqqParams {
    fn insert(&mut self, key: String, value: Result<String, String>) {
        // The access token is the gateway's, never a look-up attribute.
        if key == ACCESS_TOKEN {
            return;
        }
        if !self.values.contains_key(&key) {
            self.order.push(key.clone());
        }
        match value {
            Ok(v) => {
                self.not_utf8.remove(&key);
                self.values.insert(key, v);
            }
            Err(lossy) => {
                self.not_utf8.insert(key.clone());
                self.values.insert(key, lossy);
            }
        }
    }

    /// Parses `a=1&b=%E4%BD%A0` bytes into the map.
    pub fn merge_urlencoded(&mut self, input: &[u8]) {
        for pair in input.split(|&b| b == b'&') {
            if pair.is_empty() {
                continue;
            }
            let (k, v) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &b""[..]),
            };
            let key = match decode(k) {
                Ok(k) | Err(k) => k,
            };
            self.insert(key, decode(v));
        }
    }

    fn merge_json(&mut self, body: &[u8]) -> Result<(), ApiError> {
        let value: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("request body is not valid JSON: {e}")))?;
        let serde_json::Value::Object(map) = value else {
            return Err(ApiError::bad_request("request body must be a JSON object"));
        };
        for (k, v) in map {
            let text = match v {
                serde_json::Value::String(s) => s,
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => if b { "1" } else { "0" }.to_string(),
                // Arrays become the comma lists Openqq uses for member lists.
                serde_json::Value::Array(items) => items
                    .iter()
                    .map(|i| match i {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(","),
                serde_json::Value::Null | serde_json::Value::Object(_) => continue,
            };
            self.insert(k, Ok(text));
        }
        Ok(())
    }

    /// A parameter's value; `None` when absent. Empty strings are values.
    pub fn raw(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// A parameter's value when present and non-empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.raw(key).filter(|v| !v.is_empty())
    }

    /// A text parameter that must be present, non-empty and UTF-8.
    pub fn text(&self, key: &str) -> Result<&str, TextError> {
        if self.not_utf8.contains(key) {
            return Err(TextError::NotUtf8);
        }
        self.get(key).ok_or(TextError::Missing)
    }

    /// Every parameter, in first-seen order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.order
            .iter()
            .filter_map(|k| self.values.get(k).map(|v| (k.as_str(), v.as_str())))
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// Percent-decodes one component (`+` is a space); `Err` holds a lossy
/// version when the bytes are not UTF-8.
fn decode(raw: &[u8]) -> Result<String, String> {
    let spaced: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    let bytes: Vec<u8> = percent_encoding::percent_decode(&spaced).collect();
    String::from_utf8(bytes).map_err(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

impl<S: Send + Sync> FromRequest<S> for OpenqqParams {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let mut params = OpenqqParams::default();
        if let Some(q) = req.uri().query() {
            params.merge_urlencoded(q.as_bytes());
        }
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        // The whole body is read before it is parsed, whatever its type: a
        // parser that gave up half-way would leave bytes unread, the server
        // would then close the connection after its answer, and a client
        // reusing that keep-alive connection would see its next request fail.
        let (parts, body) = req.into_parts();
        let body = axum::body::Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(|e| ApiError::bad_request(format!("cannot read request body: {e}")))?;
        if content_type.starts_with("multipart/form-data") {
            let req = Request::from_parts(parts, axum::body::Body::from(body));
            let mut form = Multipart::from_request(req, state)
                .await
                .map_err(|e| ApiError::bad_request(format!("bad multipart body: {e}")))?;
            while let Some(field) = form
                .next_field()
                .await
                .map_err(|e| ApiError::bad_request(format!("bad multipart body: {e}")))?
            {
                let Some(name) = field.name().map(str::to_string) else {
                    continue;
                };
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|e| ApiError::bad_request(format!("bad multipart body: {e}")))?;
                let value = String::from_utf8(bytes.to_vec())
                    .map_err(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
                params.insert(name, value);
            }
            return Ok(params);
        }
        if body.is_empty() {
            return Ok(params);
        }
        if content_type.contains("json") {
            params.merge_json(&body)?;
        } else {
            // Forms, and bodies sent without a type by simple clients.
            params.merge_urlencoded(&body);
        }
        Ok(params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &[u8]) -> OpenqqParams {
        let mut p = OpenqqParams::default();
        p.merge_urlencoded(s);
        p
    }

    #[test]
    fn decodes_plus_percent_and_keeps_trailing_newline() {
        let p = parse(b"content=%E4%BD%A0%E5%A5%BD+world%0a&qq=1");
        assert_eq!(p.text("content"), Ok("你好 world\n"));
        assert_eq!(p.get("qq"), Some("1"));
    }

    #[test]
    fn invalid_utf8_is_flagged_and_last_value_wins() {
        let p = parse(b"content=%FF%FE&id=1&id=2");
        assert_eq!(p.text("content"), Err(TextError::NotUtf8));
        assert_eq!(p.get("id"), Some("2"));
        let p = parse(b"content=%FF&content=ok");
        assert_eq!(p.text("content"), Ok("ok"));
    }

    #[test]
    fn empty_and_malformed_pairs_are_harmless() {
        let p = parse(b"&&content=&=x&%zz=%G1&flag");
        assert_eq!(p.text("content"), Err(TextError::Missing));
        assert_eq!(p.raw("%zz"), Some("%G1"));
        assert_eq!(p.raw("flag"), Some(""));
    }

    #[test]
    fn json_values_are_stringified() {
        let mut p = OpenqqParams::default();
        p.merge_json(br#"{"qq": 123, "content": "hi", "member_qq": [1, "2"], "x": null}"#)
            .unwrap();
        assert_eq!(p.get("qq"), Some("123"));
        assert_eq!(p.get("member_qq"), Some("1,2"));
        assert_eq!(p.raw("x"), None);
        assert!(p.merge_json(b"[1]").is_err());
    }
}

#[cfg(test)]
#[path = "extract_props.rs"]
mod props;
