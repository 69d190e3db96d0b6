//! Forward mode: openqq dials the implementation's WebSocket server
//! (`spec/onebot.md` §1.4) and, when the connection ends, dials again.
//!
//! Reconnects back off exponentially with jitter, so many gateways
//! restarting together do not dial in lockstep; a connection that lasted
//! (`Timing::stable_after`) starts the backoff over. A refused token (HTTP
//! 401/403 at the upgrade, or a `1403` frame after it) waits the longest
//! delay and says so, instead of hammering the implementation.

use std::time::Duration;

use futures_util::StreamExt;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, header};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{ConnEnd, EventQueue, HANDSHAKE_TIMEOUT, Link, Timing};

/// Exponential reconnect delays with "equal jitter": each delay is between
/// half and all of the current step.
#[derive(Debug)]
struct Backoff {
    min: Duration,
    max: Duration,
    step: Duration,
}

impl Backoff {
    fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            min,
            max,
            step: min,
        }
    }

    fn next_delay(&mut self) -> Duration {
        let step = self.step;
        self.step = (step * 2).min(self.max);
        let half = step / 2;
        half + half.mul_f64(rand::random::<f64>())
    }

    fn reset(&mut self) {
        self.step = self.min;
    }
}

/// Why dialing failed.
#[derive(Debug)]
enum DialError {
    /// HTTP 401/403 at the upgrade (go-cqhttp's way of refusing a token).
    Auth(u16),
    Other(String),
}

type ClientWs = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn dial(url: &str, token: &str) -> Result<ClientWs, DialError> {
    let mut req = url
        .into_client_request()
        .map_err(|e| DialError::Other(e.to_string()))?;
    if !token.is_empty() {
        let v = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| DialError::Other("the access token is not a valid header value".into()))?;
        req.headers_mut().insert(header::AUTHORIZATION, v);
    }
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, tokio_tungstenite::connect_async(req)).await {
        Err(_) => Err(DialError::Other("the handshake timed out".into())),
        Ok(Err(tungstenite::Error::Http(resp))) if matches!(resp.status().as_u16(), 401 | 403) => {
            Err(DialError::Auth(resp.status().as_u16()))
        }
        Ok(Err(e)) => Err(DialError::Other(e.to_string())),
        Ok(Ok((ws, _))) => Ok(ws),
    }
}

/// Dials `url` until the gateway stops (the queue's converter is gone),
/// reconnecting with backoff.
pub async fn run_forward(
    link: Link,
    url: String,
    token: String,
    queue: EventQueue,
    timing: Timing,
) {
    let mut backoff = Backoff::new(timing.backoff_min, timing.backoff_max);
    loop {
        let started = Instant::now();
        let delay = match dial(&url, &token).await {
            Ok(ws) => {
                let (sink, stream) = ws.split();
                let end = link.serve(sink, stream, &queue, &timing).await;
                if started.elapsed() >= timing.stable_after {
                    backoff.reset();
                }
                match end {
                    ConnEnd::Stopped => return,
                    ConnEnd::AuthRefused(reason) => {
                        auth_refused_log(
                            &url,
                            &format!("a 1403 frame: {reason}"),
                            timing.backoff_max,
                        );
                        timing.backoff_max
                    }
                    other => {
                        let delay = backoff.next_delay();
                        tracing::warn!(backend = "onebot", %url, end = ?other, ?delay, "connection lost; reconnecting");
                        delay
                    }
                }
            }
            Err(DialError::Auth(status)) => {
                link.refused();
                auth_refused_log(&url, &format!("HTTP {status}"), timing.backoff_max);
                timing.backoff_max
            }
            Err(DialError::Other(e)) => {
                link.teardown(false);
                let delay = backoff.next_delay();
                tracing::warn!(backend = "onebot", %url, error = %e, ?delay, "cannot connect; retrying");
                delay
            }
        };
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = queue.closed() => return,
        }
    }
}

fn auth_refused_log(url: &str, how: &str, retry: Duration) {
    tracing::error!(
        backend = "onebot",
        %url,
        "access token refused by the OneBot implementation ({how}); \
         check [backend] access_token; next attempt in {retry:?}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_to_the_cap() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let mut steps = Vec::new();
        for _ in 0..10 {
            steps.push(b.next_delay());
        }
        assert!(steps[0] >= Duration::from_millis(500) && steps[0] <= Duration::from_secs(1));
        assert!(steps[3] >= Duration::from_secs(4) && steps[3] <= Duration::from_secs(8));
        assert!(steps.iter().all(|d| *d <= Duration::from_secs(60)));
        assert!(steps[9] >= Duration::from_secs(30));
        b.reset();
        assert!(b.next_delay() <= Duration::from_secs(1));
    }
}
