//! v2's JSONP (openqq-original.md §1.1): with `datatype=jsonp` in the query,
//! the answer is wrapped as `CALLBACK(…)` for a `<script>` tag, the callback
//! named by `callback` or `jsoncallback<epoch>`. The Content-Type stays as
//! it was, as the original left it. v1 never had JSONP.
//!
//! Unlike the original, the callback must be a JavaScript name (letters,
//! digits, `_`, `$`, `.`): anything else would let a link inject script
//! into the answer.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::api::error::OpenqqJson;
use crate::api::state::AppState;
use crate::render::Dialect;

/// The query parameters that belong to JSONP, never to a search
/// (`_` is the cache-buster jQuery adds to JSONP requests).
pub const JSONP_PARAMS: &[&str] = &["datatype", "callback", "_"];

/// What a request asks of JSONP.
#[derive(Debug, PartialEq, Eq)]
enum Wrap {
    None,
    In(String),
    BadName,
}

fn wanted(query: Option<&str>) -> Wrap {
    let Some(q) = query else {
        return Wrap::None;
    };
    let mut jsonp = false;
    let mut callback = None;
    for (k, v) in form_urlencoded::parse(q.as_bytes()) {
        match &*k {
            "datatype" => jsonp = v == "jsonp",
            "callback" => callback = Some(v.into_owned()),
            _ => {}
        }
    }
    if !jsonp {
        return Wrap::None;
    }
    match callback.filter(|c| !c.is_empty()) {
        None => {
            let epoch = crate::clock::unix_now();
            Wrap::In(format!("jsoncallback{epoch}"))
        }
        Some(c) if is_js_name(&c) => Wrap::In(c),
        Some(_) => Wrap::BadName,
    }
}

fn is_js_name(s: &str) -> bool {
    s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$' | b'.'))
}

/// The middleware: wraps v2 answers when the query asks for JSONP.
pub async fn wrap(State(s): State<AppState>, req: Request, next: Next) -> Response {
    if s.dialect != Dialect::V2 {
        return next.run(req).await;
    }
    let callback = match wanted(req.uri().query()) {
        Wrap::None => return next.run(req).await,
        Wrap::BadName => {
            return OpenqqJson(json!({
                "code": 400,
                "status": "callback must be a JavaScript name (letters, digits, _ $ .)"
            }))
            .into_response();
        }
        Wrap::In(c) => c,
    };
    let (parts, body) = next.run(req).await.into_parts();
    // Our own answers, already in memory: no limit to guard.
    let inner = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read an answer to wrap it for JSONP");
            return Response::from_parts(parts, Body::empty());
        }
    };
    let mut wrapped = Vec::with_capacity(callback.len() + inner.len() + 2);
    wrapped.extend_from_slice(callback.as_bytes());
    wrapped.push(b'(');
    wrapped.extend_from_slice(&inner);
    wrapped.push(b')');
    let mut parts = parts;
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(wrapped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_query_asks() {
        assert_eq!(wanted(None), Wrap::None);
        assert_eq!(wanted(Some("callback=cb")), Wrap::None, "no datatype");
        assert_eq!(wanted(Some("datatype=json&callback=cb")), Wrap::None);
        assert_eq!(
            wanted(Some("datatype=jsonp&callback=jQuery123_456&_=1")),
            Wrap::In("jQuery123_456".into())
        );
        assert!(matches!(
            wanted(Some("datatype=jsonp")),
            Wrap::In(c) if c.starts_with("jsoncallback")
        ));
        assert_eq!(
            wanted(Some("datatype=jsonp&callback=alert(1)%3B")),
            Wrap::BadName
        );
    }
}
