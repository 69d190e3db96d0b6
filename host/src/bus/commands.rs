//! Openqq API calls over the bus: `<prefix>.<account>.api`, request/reply.
//!
//! ```json
//! {"path": "/openqq/send_group_message", "params": {"gnumber": 552603, "content": "hi"}}
//! ```
//!
//! The call goes through the gateway's own `/openqq/*` router (handlers,
//! look-up rules, v2's JSONP, everything), as a POST with `params` as its
//! JSON body: the answer is the body HTTP would have, byte for byte, with
//! the HTTP status in the `Openqq-Status` header (200, or 403 for an
//! unknown path). `path` may carry a query string. The bus is trusted as
//! the HTTP API's loopback is: NATS's own credentials guard it, so the
//! gateway's `access_token` is presented for the caller, and the
//! cross-site guard (a browser's concern) does not apply.

use std::sync::Arc;

use async_nats::{Client, HeaderMap, Subscriber};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, header};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tower::ServiceExt;

use super::Shared;
use super::stats::BusStats;
use super::subject::STATUS;

/// Calls under way at once; more wait in the subscription.
const AT_ONCE: usize = 64;
/// The largest answer body read back from the router (a big group's
/// member list is a few MiB).
const MAX_ANSWER: usize = 64 << 20;

#[derive(Deserialize)]
struct Call {
    path: String,
    #[serde(default)]
    params: serde_json::Map<String, serde_json::Value>,
}

pub(super) async fn run(
    shared: Arc<Shared>,
    client: Client,
    router: Router,
    token: Option<Arc<str>>,
    mut sub: Subscriber,
) {
    let slots = Arc::new(Semaphore::new(AT_ONCE));
    let mut tasks = JoinSet::new();
    while let Some(m) = sub.next().await {
        while tasks.try_join_next().is_some() {}
        let Some(reply) = m.reply else {
            continue; // a publish, not a request: nobody to answer
        };
        let Ok(slot) = slots.clone().acquire_owned().await else {
            break;
        };
        BusStats::add(&shared.stats.api_calls);
        let (client, router, token) = (client.clone(), router.clone(), token.clone());
        tasks.spawn(async move {
            let (status, body) = call(router, token.as_deref(), &m.payload).await;
            let mut headers = HeaderMap::new();
            headers.insert(STATUS, status.to_string().as_str());
            if let Err(e) = client
                .publish_with_headers(reply, headers, body.into())
                .await
            {
                tracing::debug!(error = %e, "bus: cannot reply to an API call");
            }
            drop(slot);
        });
    }
}

/// The `/openqq/*` routes alone, unknown paths answered as HTTP answers
/// them (403 `request error`).
pub(super) fn router(state: crate::api::AppState) -> Router {
    crate::api::openqq::router(state.clone())
        .fallback(crate::api::error::unknown_path)
        .with_state(state)
}

/// One call through the router: (HTTP status, body).
async fn call(router: Router, token: Option<&str>, payload: &[u8]) -> (u16, Vec<u8>) {
    let bad = |why: String| {
        let body = json!({"code": 400, "status": why});
        (400, serde_json::to_vec(&body).unwrap_or_default())
    };
    let c: Call = match serde_json::from_slice(payload) {
        Ok(c) => c,
        Err(e) => {
            return bad(format!(
                "a bus API call is {{\"path\":…,\"params\":{{…}}}}: {e}"
            ));
        }
    };
    let mut req = Request::post(&c.path).header(header::CONTENT_TYPE, "application/json");
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let body = serde_json::to_vec(&c.params).unwrap_or_default();
    let req = match req.body(Body::from(body)) {
        Ok(r) => r,
        Err(e) => return bad(format!("path {:?}: {e}", c.path)),
    };
    let Ok(res) = router.oneshot(req).await;
    let status = res.status().as_u16();
    match axum::body::to_bytes(res.into_body(), MAX_ANSWER).await {
        Ok(b) => (status, b.to_vec()),
        Err(e) => bad(format!("the answer could not be read: {e}")),
    }
}
