//! Bots' outbound HTTP: `wasi:http/outgoing-handler@0.2.12` (0.2.0 world),
//! served by wasmtime's client (hyper; rustls with the webpki roots for
//! https) inside the bot's grants.
//!
//! Checked in `handle`, before anything is sent or connected: the request's
//! scheme, host and port must be an origin of the bot's `http` grant, and the
//! call may start at most `http_requests_per_call` requests (refused ones
//! count). A refusal is `HTTP-request-denied`, counted and logged once per
//! reason (`BotState::deny`). Bounded in the client (`HttpHooks`): one
//! deadline per request, connect to last byte (`http_timeout`; the guest's
//! `request-options` may only shorten its phases), and both bodies capped
//! (`http_max_request_bytes`, `http_max_response_bytes`), by their
//! `Content-Length` up front and by counting as they stream.
//!
//! Redirects are never followed: the client is hyper's bare connection, so
//! a `3xx` reaches the guest as it is, and a request to where it points is a
//! new request, checked like any other. The waits are the guest's wasi:io
//! polls, in the host: off its CPU deadline (`state::CpuClock`), within its
//! call's wall-clock limit.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use tokio::time::{Instant, Sleep};
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi_http::p2::HttpResult;
use wasmtime_wasi_http::p2::bindings::LinkOptions;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::bindings::http::{outgoing_handler, types as http_types};
use wasmtime_wasi_http::p2::types::{HostFutureIncomingResponse, HostOutgoingRequest};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks, WasiHttpView};

use super::state::BotState;
use crate::grants::{Origin, Quotas};

/// The longest host (with port) a denial's reason quotes: reasons are
/// counted by their text and logged, and the guest writes the host.
const MAX_QUOTED_HOST: usize = 100;

/// Links `wasi:http`: `types` as wasmtime has it, `outgoing-handler`
/// behind the bot's grants (`BotState::handle_outgoing`). The handler is
/// linked by hand because wasmtime's trait for it requires the whole of
/// `types` from whoever implements it; the name's version matches every
/// 0.2.x import.
pub fn add_to_linker(linker: &mut Linker<BotState>) -> wasmtime::Result<()> {
    http_types::add_to_linker::<BotState, wasmtime_wasi_http::WasiHttp>(
        linker,
        &LinkOptions::default().into(),
        <BotState as WasiHttpView>::http,
    )?;
    let mut handler = linker.instance("wasi:http/outgoing-handler@0.2.12")?;
    handler.func_wrap(
        "handle",
        |mut store: StoreContextMut<'_, BotState>,
         (request, options): (
            Resource<HostOutgoingRequest>,
            Option<Resource<RequestOptions>>,
        )| {
            match store.data_mut().handle_outgoing(request, options) {
                Ok(future) => Ok((Ok(future),)),
                // An error code is the guest's to see; anything else traps.
                Err(e) => Ok((Err(e.downcast()?),)),
            }
        },
    )
}

impl BotState {
    /// `outgoing-handler.handle`: the request, if the grants allow it, to
    /// wasmtime's handler (which sends it through `HttpHooks`); else
    /// `HTTP-request-denied`, before anything is sent.
    fn handle_outgoing(
        &mut self,
        request: Resource<HostOutgoingRequest>,
        options: Option<Resource<RequestOptions>>,
    ) -> HttpResult<Resource<HostFutureIncomingResponse>> {
        self.http_requests = self.http_requests.saturating_add(1);
        // wasmtime's `handle` only reads the options, but the guest gave
        // them up with the call: they are removed from its table after.
        let options_rep = options.as_ref().map(Resource::rep);
        let (scheme, authority) = {
            let req = self.http().table.get(&request)?;
            (req.scheme.clone(), req.authority.clone())
        };
        let refused = check_origin(
            &self.host.granted.grants.http,
            scheme.as_ref(),
            authority.as_deref(),
        )
        .and_then(|()| self.check_request_count());
        let sent = match refused {
            Err(reason) => {
                self.deny(&reason);
                self.http().table.delete(request)?;
                Err(ErrorCode::HttpRequestDenied.into())
            }
            // wasmtime's `handle` builds the request from the same scheme
            // and authority.
            Ok(()) => outgoing_handler::Host::handle(&mut self.http(), request, options),
        };
        if let Some(rep) = options_rep {
            self.http()
                .table
                .delete(Resource::<RequestOptions>::new_own(rep))?;
        }
        sent
    }

    /// Whether the call may start one more request (this one counted).
    fn check_request_count(&self) -> Result<(), String> {
        let max = self.host.granted.grants.quotas.http_requests_per_call;
        if self.http_requests > max {
            return Err(format!(
                "http: more than {max} requests in one call (http_requests_per_call = {max})"
            ));
        }
        Ok(())
    }
}

/// Whether a request to `scheme://authority` is inside the grant; `Err` is
/// the reason it is not. A missing scheme is https, as wasmtime's default
/// (`WasiHttpHooks::default_scheme`) makes it.
fn check_origin(
    granted: &[Origin],
    scheme: Option<&Scheme>,
    authority: Option<&str>,
) -> Result<(), String> {
    let authority = authority.unwrap_or("");
    let quoted: String = authority.chars().take(MAX_QUOTED_HOST).collect();
    let (https, name) = match scheme {
        None | Some(Scheme::Https) => (true, "https"),
        Some(Scheme::Http) => (false, "http"),
        Some(Scheme::Other(s)) => {
            let s: String = s.chars().take(16).collect();
            return Err(format!("http to {s}://{quoted}: only http and https"));
        }
    };
    let denied = || format!("http to {name}://{quoted}: not in http");
    // The same parse wasmtime's `handle` gives the authority (`Uri`'s), so
    // what is checked is what the client connects to. User info is never
    // part of an origin, nor is an empty port (which the client would not
    // read as the default one).
    let parsed = authority
        .parse::<http::uri::Authority>()
        .map_err(|_| denied())?;
    if authority.contains('@') || authority.ends_with(':') || parsed.host().is_empty() {
        return Err(denied());
    }
    let (host, port) = (parsed.host(), parsed.port_u16());
    if granted.iter().any(|o| o.allows(https, host, port)) {
        Ok(())
    } else {
        Err(denied())
    }
}

/// How wasmtime's client sends a bot's requests: within the bot's quotas.
pub struct HttpHooks {
    limits: Limits,
}

/// One request's bounds.
#[derive(Debug, Clone, Copy)]
struct Limits {
    timeout: Duration,
    max_request: u64,
    max_response: u64,
}

impl HttpHooks {
    pub fn new(q: &Quotas) -> HttpHooks {
        HttpHooks {
            limits: Limits {
                timeout: q.http_timeout,
                max_request: q.http_max_request_bytes,
                max_response: q.http_max_response_bytes,
            },
        }
    }
}

type Sent = wasmtime_wasi_http::Result<(
    http::Response<WasiBody>,
    Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
)>;

impl WasiHttpHooks for HttpHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _request_done: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<dyn Future<Output = Sent> + Send> {
        Box::new(send(request, options, self.limits))
    }

    fn p2_error_from_hyper(&mut self, err: &hyper::Error) -> ErrorCode {
        // A request body cut at its cap fails hyper's send: say so.
        let mut cause = std::error::Error::source(err);
        while let Some(c) = cause {
            match c.downcast_ref::<Error>() {
                Some(Error::HttpRequestBodySize(n)) => return ErrorCode::HttpRequestBodySize(*n),
                _ => cause = c.source(),
            }
        }
        tracing::debug!("a bot's HTTP request failed: {err:?}");
        ErrorCode::HttpProtocolError
    }

    // What a bot's request meets is the bot's to see, not the gateway's to
    // warn about (wasmtime's defaults warn once per failed request).
    fn p2_error_from_connect(&mut self, err: &std::io::Error) -> ErrorCode {
        tracing::debug!("a bot's HTTP request could not connect: {err}");
        ErrorCode::ConnectionRefused
    }

    fn p2_error_from_tls(&mut self, err: &std::io::Error) -> ErrorCode {
        tracing::debug!("a bot's HTTPS request failed in TLS: {err}");
        ErrorCode::TlsProtocolError
    }
}

/// Sends one request with wasmtime's client, within `limits`.
async fn send(
    request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
    limits: Limits,
) -> Sent {
    let deadline = Instant::now() + limits.timeout;
    if let Some(n) = content_length(request.headers())
        && n > limits.max_request
    {
        return Err(Error::HttpRequestBodySize(Some(n)));
    }
    let request = request.map(|body| {
        Capped::new(body, limits.max_request, None, Error::HttpRequestBodySize).boxed_unsync()
    });
    let options = clamp(options, limits.timeout);
    let sent = wasmtime_wasi_http::default_send_request(request, Some(options));
    let (response, io) = tokio::time::timeout_at(deadline, sent)
        .await
        .map_err(|_| Error::HttpResponseTimeout)??;
    if let Some(n) = content_length(response.headers())
        && n > limits.max_response
    {
        return Err(Error::HttpResponseBodySize(Some(n)));
    }
    let response = response.map(|body| {
        let body = body.boxed_unsync();
        Capped::new(
            body,
            limits.max_response,
            Some(deadline),
            Error::HttpResponseBodySize,
        )
        .boxed_unsync()
    });
    Ok((response, Box::new(io)))
}

/// The guest's timeouts that are shorter than the request's; the others
/// are left to the request's own deadline (wasmtime's client waits 600 s
/// for what is not set, and `http_timeout_ms` is at most that).
fn clamp(asked: Option<RequestOptions>, timeout: Duration) -> RequestOptions {
    let asked = asked.unwrap_or_default();
    let shorter = |t: Option<Duration>| t.filter(|t| *t < timeout);
    RequestOptions {
        connect_timeout: shorter(asked.connect_timeout),
        first_byte_timeout: shorter(asked.first_byte_timeout),
        between_bytes_timeout: shorter(asked.between_bytes_timeout),
    }
}

/// A `Content-Length` that is one number; others are left to hyper.
fn content_length(headers: &http::HeaderMap) -> Option<u64> {
    let mut values = headers.get_all(http::header::CONTENT_LENGTH).iter();
    let v = values.next()?;
    match values.next() {
        Some(_) => None,
        None => v.to_str().ok()?.parse().ok(),
    }
}

/// A body cut with an error once more than `max` bytes went through it, or
/// once `deadline` passes while it waits for more.
struct Capped {
    inner: WasiBody,
    seen: u64,
    max: u64,
    deadline: Option<Pin<Box<Sleep>>>,
    over: fn(Option<u64>) -> Error,
    failed: bool,
}

impl Capped {
    fn new(
        inner: WasiBody,
        max: u64,
        deadline: Option<Instant>,
        over: fn(Option<u64>) -> Error,
    ) -> Capped {
        Capped {
            inner,
            seen: 0,
            max,
            deadline: deadline.map(|d| Box::pin(tokio::time::sleep_until(d))),
            over,
            failed: false,
        }
    }
}

impl Body for Capped {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        if self.failed {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let len = frame.data_ref().map_or(0, |d| d.len() as u64);
                self.seen = self.seen.saturating_add(len);
                if self.seen > self.max {
                    self.failed = true;
                    return Poll::Ready(Some(Err((self.over)(Some(self.seen)))));
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                let late = match &mut self.deadline {
                    Some(d) => d.as_mut().poll(cx).is_ready(),
                    None => false,
                };
                if late {
                    self.failed = true;
                    return Poll::Ready(Some(Err(Error::HttpResponseTimeout)));
                }
                Poll::Pending
            }
            done => done,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{Full, StreamBody};

    fn origins(list: &[&str]) -> Vec<Origin> {
        list.iter().map(|o| Origin::parse(o).unwrap()).collect()
    }

    #[test]
    fn only_granted_origins_pass() {
        let granted = origins(&["http://127.0.0.1:8080", "https://api.example.com"]);
        let check = |scheme, authority| check_origin(&granted, scheme, authority);
        let ftp = Scheme::Other("ftp".into());
        assert!(check(Some(&Scheme::Http), Some("127.0.0.1:8080")).is_ok());
        assert!(check(Some(&Scheme::Https), Some("API.example.com")).is_ok());
        assert!(check(Some(&Scheme::Https), Some("api.example.com:443")).is_ok());
        // No scheme is https.
        assert!(check(None, Some("api.example.com")).is_ok());
        for (scheme, authority, reason) in [
            (
                Some(&Scheme::Http),
                Some("127.0.0.1:9999"),
                "http to http://127.0.0.1:9999: not in http",
            ),
            (
                Some(&Scheme::Https),
                Some("127.0.0.1:8080"),
                "http to https://127.0.0.1:8080: not in http",
            ),
            (
                Some(&Scheme::Http),
                Some("api.example.com"),
                "http to http://api.example.com: not in http",
            ),
            (
                Some(&Scheme::Https),
                Some("evil.example.com"),
                "not in http",
            ),
            (
                Some(&Scheme::Https),
                Some("api.example.com@evil.com"),
                "not in http",
            ),
            (
                Some(&Scheme::Https),
                Some("evil.com@api.example.com"),
                "not in http",
            ),
            (Some(&Scheme::Https), None, "http to https://: not in http"),
            (
                Some(&Scheme::Https),
                Some("api.example.com:"),
                "not in http",
            ),
            (Some(&ftp), Some("api.example.com"), "only http and https"),
        ] {
            let e = check(scheme, authority).expect_err(&format!("{authority:?}"));
            assert!(e.contains(reason), "{authority:?}: {e}");
        }
        let long = "a".repeat(5000);
        let e = check(Some(&Scheme::Https), Some(&long)).unwrap_err();
        assert!(e.len() < 200, "{e}");
    }

    #[test]
    fn the_guests_timeouts_may_only_shorten_the_request_s() {
        let t = Duration::from_secs(5);
        assert_eq!(clamp(None, t), RequestOptions::default());
        let asked = RequestOptions {
            connect_timeout: Some(Duration::from_secs(1)),
            first_byte_timeout: Some(Duration::from_secs(3600)),
            between_bytes_timeout: None,
        };
        let c = clamp(Some(asked), t);
        assert_eq!(c.connect_timeout, Some(Duration::from_secs(1)));
        assert_eq!(c.first_byte_timeout, None);
        assert_eq!(c.between_bytes_timeout, None);
    }

    fn chunks(n: usize, size: usize) -> WasiBody {
        let frames =
            (0..n).map(move |_| Ok::<_, Error>(Frame::data(Bytes::from(vec![b'x'; size]))));
        StreamBody::new(futures_util::stream::iter(frames)).boxed_unsync()
    }

    async fn collect(body: Capped) -> Result<usize, Error> {
        body.collect().await.map(|c| c.to_bytes().len())
    }

    #[tokio::test]
    async fn a_body_is_cut_once_past_its_cap() {
        let capped = |body, max| Capped::new(body, max, None, Error::HttpResponseBodySize);
        assert_eq!(collect(capped(chunks(4, 10), 40)).await.unwrap(), 40);
        match collect(capped(chunks(4, 10), 39)).await {
            Err(Error::HttpResponseBodySize(Some(40))) => {}
            other => panic!("{other:?}"),
        }
        let full = Full::new(Bytes::from_static(b"hello"))
            .map_err(|e| match e {})
            .boxed_unsync();
        assert!(matches!(
            collect(Capped::new(full, 4, None, Error::HttpRequestBodySize)).await,
            Err(Error::HttpRequestBodySize(Some(5)))
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stalls_past_the_deadline_fails() {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Error>>(1);
        tx.send(Ok(Frame::data(Bytes::from_static(b"first"))))
            .await
            .unwrap();
        let stream = tokio_stream_of(rx);
        let body = StreamBody::new(stream).boxed_unsync();
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut capped = Capped::new(body, 1000, Some(deadline), Error::HttpResponseBodySize);
        let first = capped.frame().await.unwrap().unwrap();
        assert_eq!(first.into_data().unwrap(), "first");
        // The sender is kept: no more frames and no end, until the deadline.
        assert!(matches!(
            capped.frame().await,
            Some(Err(Error::HttpResponseTimeout))
        ));
        assert!(capped.frame().await.is_none());
        drop(tx);
    }

    fn tokio_stream_of<T: Send + 'static>(
        mut rx: tokio::sync::mpsc::Receiver<T>,
    ) -> impl futures_util::Stream<Item = T> + Send + 'static {
        futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
    }

    #[test]
    fn content_length_is_one_number() {
        let mut h = http::HeaderMap::new();
        assert_eq!(content_length(&h), None);
        h.insert(http::header::CONTENT_LENGTH, "12".parse().unwrap());
        assert_eq!(content_length(&h), Some(12));
        h.append(http::header::CONTENT_LENGTH, "12".parse().unwrap());
        assert_eq!(content_length(&h), None);
    }
}
