//! Reverse mode: openqq listens and the implementation dials in
//! (`spec/onebot.md` §1.5, §1.6).
//!
//! Each upgrade is checked before it is accepted — the path, the access
//! token (the one constant-time rule in `crate::auth`, by header or query),
//! an `X-Self-ID`, the Universal role — and refused with the HTTP status
//! that says why. Handshakes run side by side (at most `MAX_HANDSHAKES`),
//! so a slow or silent client cannot hold the door. One connection is
//! served at a time; a newer one replaces it, because an implementation
//! only redials when it believes the old one dead, and we may not have
//! noticed yet.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;

use super::{ConnEnd, EventQueue, HANDSHAKE_TIMEOUT, Link, LinkEvent, Timing};
use crate::auth::{Presented, TokenCheck};

/// Handshakes in progress at once on the reverse listener; more are dropped.
const MAX_HANDSHAKES: usize = 16;

/// OneBot's `access_token`, by header or query parameter.
const TOKEN: TokenCheck = TokenCheck::new("access_token");

/// What a dialing implementation must present.
#[derive(Debug, Clone)]
pub struct AcceptRules {
    /// The path to accept; `/` accepts any.
    pub path: String,
    /// Empty: no token required.
    pub token: String,
}

/// Checks a reverse-WS upgrade: the token as `Authorization: Bearer|Token
/// <t>` or `?access_token=`, an `X-Self-ID`, and the Universal role (a
/// missing role counts as Universal).
///
/// # Errors
/// The HTTP status and a short reason to answer with.
fn check_upgrade(req: &Request, rules: &AcceptRules) -> Result<u64, (StatusCode, &'static str)> {
    let path = req.uri().path().trim_end_matches('/');
    let want = rules.path.trim_end_matches('/');
    if !want.is_empty() && path != want {
        return Err((StatusCode::NOT_FOUND, "unknown path"));
    }
    if !rules.token.is_empty() {
        match TOKEN.check(req.headers(), req.uri(), &rules.token) {
            Presented::Missing => return Err((StatusCode::UNAUTHORIZED, "access token missing")),
            Presented::Wrong => return Err((StatusCode::FORBIDDEN, "access token refused")),
            Presented::Right => {}
        }
    }
    let self_id = req
        .headers()
        .get("x-self-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .ok_or((StatusCode::BAD_REQUEST, "X-Self-ID missing"))?;
    if let Some(role) = req
        .headers()
        .get("x-client-role")
        .and_then(|v| v.to_str().ok())
        && !role.eq_ignore_ascii_case("universal")
    {
        return Err((StatusCode::BAD_REQUEST, "openqq needs the Universal role"));
    }
    Ok(self_id)
}

type ServerWs = WebSocketStream<TcpStream>;

// The callback's `Result<Response, ErrorResponse>` is tungstenite's signature.
#[allow(clippy::result_large_err)]
async fn handshake(tcp: TcpStream, rules: Arc<AcceptRules>) -> Option<ServerWs> {
    let peer = tcp.peer_addr().ok();
    let check = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        match check_upgrade(req, &rules) {
            Ok(self_id) => {
                tracing::info!(
                    backend = "onebot",
                    ?peer,
                    self_id,
                    "a OneBot implementation dialed in"
                );
                Ok(resp)
            }
            Err((status, why)) => {
                tracing::warn!(backend = "onebot", ?peer, %status, why, "refused a OneBot connection");
                let mut e = ErrorResponse::new(Some(why.to_string()));
                *e.status_mut() = status;
                Err(e)
            }
        }
    };
    match tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        tokio_tungstenite::accept_hdr_async(tcp, check),
    )
    .await
    {
        Ok(Ok(ws)) => Some(ws),
        Ok(Err(e)) => {
            tracing::debug!(backend = "onebot", ?peer, error = %e, "handshake failed");
            None
        }
        Err(_) => None,
    }
}

/// Accepts TCP connections and hands on those whose upgrade succeeded.
async fn accept_loop(
    listener: TcpListener,
    rules: Arc<AcceptRules>,
    conns: mpsc::Sender<ServerWs>,
) {
    let mut handshakes = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) if handshakes.len() < MAX_HANDSHAKES => {
                    handshakes.spawn(handshake(tcp, rules.clone()));
                }
                Ok(_) => tracing::warn!(backend = "onebot", "too many handshakes at once; dropped one"),
                Err(e) => {
                    // Out of file descriptors and the like: pause, don't spin.
                    tracing::warn!(backend = "onebot", error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            },
            Some(done) = handshakes.join_next() => {
                if let Ok(Some(ws)) = done
                    && conns.send(ws).await.is_err()
                {
                    return;
                }
            }
        }
    }
}

/// Accepts the implementation's connections on `listener` and serves the
/// newest, until the gateway stops (the queue's converter is gone).
pub async fn run_reverse(
    link: Link,
    listener: TcpListener,
    rules: AcceptRules,
    queue: EventQueue,
    timing: Timing,
) {
    let (conns_tx, mut conns_rx) = mpsc::channel(1);
    let accepting = accept_loop(listener, Arc::new(rules), conns_tx);
    tokio::pin!(accepting);
    let mut next: Option<ServerWs> = None;
    loop {
        let ws = match next.take() {
            Some(ws) => ws,
            None => tokio::select! {
                Some(ws) = conns_rx.recv() => ws,
                () = &mut accepting => return,
                () = queue.closed() => return,
            },
        };
        let (sink, stream) = ws.split();
        tokio::select! {
            end = link.serve(sink, stream, &queue, &timing) => {
                if end == ConnEnd::Stopped {
                    return;
                }
                tracing::warn!(backend = "onebot", ?end, "the implementation's connection ended; waiting for it to dial again");
            }
            Some(newer) = conns_rx.recv() => {
                tracing::info!(backend = "onebot", "a new connection replaces the current one");
                next = Some(newer);
                if link.teardown(false) {
                    queue.push(LinkEvent::Down);
                }
            }
            () = &mut accepting => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upgrade(path: &str, headers: &[(&str, &str)]) -> Request {
        let mut b = Request::builder().uri(path);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn reverse_upgrades_need_token_self_id_and_universal_role() {
        let rules = AcceptRules {
            path: "/onebot/v11/ws".into(),
            token: "s3cret".into(),
        };
        let ok = [("x-self-id", "10001"), ("x-client-role", "Universal")];
        let with = |auth: &'static str| {
            let mut h = ok.to_vec();
            h.push(("authorization", auth));
            h
        };
        assert_eq!(
            check_upgrade(&upgrade("/onebot/v11/ws", &with("Bearer s3cret")), &rules),
            Ok(10001)
        );
        assert_eq!(
            check_upgrade(&upgrade("/onebot/v11/ws/", &with("Token s3cret")), &rules),
            Ok(10001)
        );
        assert_eq!(
            check_upgrade(&upgrade("/onebot/v11/ws?access_token=s3cret", &ok), &rules),
            Ok(10001)
        );
        assert_eq!(
            check_upgrade(&upgrade("/onebot/v11/ws", &ok), &rules).map_err(|e| e.0),
            Err(StatusCode::UNAUTHORIZED)
        );
        assert_eq!(
            check_upgrade(&upgrade("/onebot/v11/ws", &with("Bearer nope")), &rules)
                .map_err(|e| e.0),
            Err(StatusCode::FORBIDDEN)
        );
        assert_eq!(
            check_upgrade(&upgrade("/elsewhere", &with("Bearer s3cret")), &rules).map_err(|e| e.0),
            Err(StatusCode::NOT_FOUND)
        );
        assert_eq!(
            check_upgrade(
                &upgrade("/onebot/v11/ws", &[("authorization", "Bearer s3cret")]),
                &rules
            )
            .map_err(|e| e.0),
            Err(StatusCode::BAD_REQUEST)
        );
        let api_role = [
            ("x-self-id", "1"),
            ("x-client-role", "API"),
            ("authorization", "Bearer s3cret"),
        ];
        assert_eq!(
            check_upgrade(&upgrade("/onebot/v11/ws", &api_role), &rules).map_err(|e| e.0),
            Err(StatusCode::BAD_REQUEST)
        );
        // No token configured, no role header, any path under `/`.
        let open = AcceptRules {
            path: "/".into(),
            token: String::new(),
        };
        assert_eq!(
            check_upgrade(&upgrade("/anything", &[("x-self-id", "7")]), &open),
            Ok(7)
        );
    }
}
