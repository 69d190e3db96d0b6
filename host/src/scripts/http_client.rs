//! The client that sends a bot's request: wasmtime's `default_send_request`
//! (hyper's HTTP/1 connection; rustls with the webpki roots for https),
//! reshaped for bots.
//!
//! - It connects to the addresses `http_addr` resolved and checked, never
//!   resolving the name again; TLS and the `Host` header keep the name.
//! - One deadline per request (`http_timeout`) bounds all of it, the
//!   connection included. wasmtime runs the connection in a task that
//!   lives as long as the response's body, which the guest may neither
//!   read nor drop: cut at the deadline, its socket closes regardless, so
//!   a bot cannot pile up open connections across calls. The guest's
//!   `request-options` may only shorten the phases.
//! - Both bodies are capped (`http_max_request_bytes`,
//!   `http_max_response_bytes`), by `Content-Length` up front and by
//!   counting as they stream (`Capped`).
//!
//! Redirects are never followed: the connection is hyper's bare one.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout, timeout_at};
use tokio_rustls::rustls;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

use super::http_addr::{self, Unreachable};
use super::http_body::Capped;

/// The most of a response the client reads ahead, and so the largest
/// response head it takes (hyper's default is about 400 KiB).
const MAX_READ_BUFFER: usize = 64 * 1024;

/// One request's bounds.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub timeout: Duration,
    pub max_request: u64,
    pub max_response: u64,
}

/// A response and the connection's work, as wasmtime's hooks return them.
pub type Sent = wasmtime_wasi_http::Result<(
    Response<WasiBody>,
    Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
)>;

/// A connection's work: sending the request's body, reading the response's.
type Connection = Pin<Box<dyn Future<Output = hyper::Result<()>> + Send>>;

trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// Sends one request within `limits`. `deny` is told why, when the host's
/// address is refused (the bot then gets `HTTP-request-denied`).
pub async fn send(
    request: Request<WasiBody>,
    options: Option<RequestOptions>,
    limits: Limits,
    deny: impl FnOnce(&str) + Send + 'static,
) -> Sent {
    let deadline = Instant::now() + limits.timeout;
    if let Some(n) = content_length(request.headers())
        && n > limits.max_request
    {
        return Err(Error::HttpRequestBodySize(Some(n)));
    }
    let head = request.method() == Method::HEAD;
    let request = request.map(|body| {
        Capped::new(body, limits.max_request, Error::HttpRequestBodySize).boxed_unsync()
    });
    let options = clamp(options, limits.timeout);
    let (response, connection) = timeout_at(deadline, exchange(request, options, deny))
        .await
        .map_err(|_| Error::HttpResponseTimeout)??;
    // A response with no body may say how long the body would have been.
    if has_body(head, response.status())
        && let Some(n) = content_length(response.headers())
        && n > limits.max_response
    {
        return Err(Error::HttpResponseBodySize(Some(n)));
    }
    let response = response.map(|body| {
        let body = body.map_err(Error::from).boxed_unsync();
        Capped::new(body, limits.max_response, Error::HttpResponseBodySize)
            .timed(deadline, options.between_bytes_timeout)
            .boxed_unsync()
    });
    Ok((response, Box::new(until_deadline(connection, deadline))))
}

/// Connects, and sends the request; the response's head and, unless it is
/// done, the connection that brings the rest.
async fn exchange(
    mut request: Request<WasiBody>,
    options: RequestOptions,
    deny: impl FnOnce(&str),
) -> Result<(Response<Incoming>, Option<Connection>), Error> {
    let uri = request.uri();
    let authority = uri.authority().ok_or(Error::HttpRequestUriInvalid)?;
    let tls = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
    let host = authority.host().to_string();
    let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let addrs = match http_addr::resolve(&host, port).await {
        Ok(addrs) => addrs,
        Err(Unreachable::Lookup(e)) => return Err(e),
        Err(Unreachable::Refused(why)) => {
            let scheme = if tls { "https" } else { "http" };
            let quoted = super::http::quoted(authority.as_str());
            deny(&format!("http to {scheme}://{quoted}: {why}"));
            return Err(Error::HttpRequestDenied);
        }
    };
    // On the wire the request names its path only (the authority goes in
    // `Host`, which wasmtime's `handle` set).
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    *request.uri_mut() = path.parse().map_err(|_| Error::HttpRequestUriInvalid)?;

    // A phase the guest set no timeout for waits as long as the request's
    // deadline (`send`) lets it.
    let or_deadline = |t: Option<Duration>| t.unwrap_or(Duration::MAX);
    let (mut sender, connection) = timeout(
        or_deadline(options.connect_timeout),
        connect(&addrs, &host, tls),
    )
    .await
    .map_err(|_| Error::ConnectionTimeout)??;
    let mut connection: Connection = Box::pin(connection);
    let response = timeout(
        or_deadline(options.first_byte_timeout),
        sender.send_request(request),
    );
    tokio::pin!(response);
    let first_byte = |r: Result<hyper::Result<_>, _>| {
        r.map_err(|_| Error::ConnectionReadTimeout)?
            .map_err(Error::from)
    };
    // The connection does the sending: it runs while the response is
    // awaited.
    tokio::select! {
        biased;
        r = &mut response => Ok((first_byte(r)?, Some(connection))),
        done = &mut connection => {
            done.map_err(Error::from)?;
            // Done, with the whole response read.
            Ok((first_byte(response.await)?, None))
        }
    }
}

/// A connection to the first of `addrs` that answers, over TLS for `host`
/// if `tls`.
async fn connect(
    addrs: &[std::net::SocketAddr],
    host: &str,
    tls: bool,
) -> Result<
    (
        hyper::client::conn::http1::SendRequest<WasiBody>,
        impl Future<Output = hyper::Result<()>> + Send + 'static,
    ),
    Error,
> {
    let tcp = TcpStream::connect(addrs).await.map_err(Error::Connect)?;
    let stream: Box<dyn Stream> = if tls {
        let connector = tokio_rustls::TlsConnector::from(tls_config()?);
        let name = match http_addr::ip_literal(host) {
            Some(ip) => rustls::pki_types::ServerName::from(ip),
            None => rustls::pki_types::ServerName::try_from(host.to_string())?,
        };
        Box::new(connector.connect(name, tcp).await.map_err(Error::Tls)?)
    } else {
        Box::new(tcp)
    };
    let (sender, connection) = hyper::client::conn::http1::Builder::new()
        .max_buf_size(MAX_READ_BUFFER)
        .handshake(TokioIo::new(stream))
        .await?;
    Ok((sender, connection))
}

/// The TLS client's settings, made once: the webpki roots, ring's crypto.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, Error> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.into(),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map(|b| Arc::new(b.with_root_certificates(roots).with_no_client_auth()))
            .map_err(|e| e.to_string())
    });
    config.clone().map_err(|e| {
        tracing::error!("the TLS client for bots' HTTP cannot be set up: {e}");
        Error::ConfigurationError
    })
}

/// The connection's work, cut at the deadline: its socket closes then,
/// whether or not the guest has read, or dropped, the response.
async fn until_deadline(
    connection: Option<Connection>,
    deadline: Instant,
) -> wasmtime_wasi_http::Result<()> {
    let Some(connection) = connection else {
        return Ok(());
    };
    // Failures are the bot's to see, on the body; wasmtime would warn of
    // each one returned here.
    match timeout_at(deadline, connection).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!("a bot's HTTP connection failed: {e}"),
        Err(_) => tracing::debug!("a bot's HTTP connection was closed at its deadline"),
    }
    Ok(())
}

/// The guest's timeouts that are shorter than the request's; the others
/// are left to the request's own deadline.
fn clamp(asked: Option<RequestOptions>, timeout: Duration) -> RequestOptions {
    let asked = asked.unwrap_or_default();
    let shorter = |t: Option<Duration>| t.filter(|t| *t < timeout);
    RequestOptions {
        connect_timeout: shorter(asked.connect_timeout),
        first_byte_timeout: shorter(asked.first_byte_timeout),
        between_bytes_timeout: shorter(asked.between_bytes_timeout),
    }
}

/// Whether a response may have a body (RFC 9110 §6.4.1): none answers a
/// `HEAD`, nor comes with a 1xx, 204 or 304, whatever `Content-Length`
/// says.
fn has_body(head: bool, status: StatusCode) -> bool {
    !(head
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED)
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

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Empty;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio::sync::mpsc;

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

    #[test]
    fn content_length_is_one_number() {
        let mut h = http::HeaderMap::new();
        assert_eq!(content_length(&h), None);
        h.insert(http::header::CONTENT_LENGTH, "12".parse().unwrap());
        assert_eq!(content_length(&h), Some(12));
        h.append(http::header::CONTENT_LENGTH, "12".parse().unwrap());
        assert_eq!(content_length(&h), None);
    }

    #[test]
    fn head_1xx_204_and_304_have_no_body() {
        assert!(has_body(false, StatusCode::OK));
        assert!(has_body(false, StatusCode::NOT_FOUND));
        assert!(!has_body(true, StatusCode::OK));
        assert!(!has_body(false, StatusCode::CONTINUE));
        assert!(!has_body(false, StatusCode::NO_CONTENT));
        assert!(!has_body(false, StatusCode::NOT_MODIFIED));
    }

    /// A server on 127.0.0.1 that answers each request with `answer` of its
    /// request line; a chunked answer is then trickled, a byte a chunk,
    /// and never ended. Each connection the client closes is reported.
    async fn serve(answer: fn(&str) -> &'static str) -> (u16, mpsc::UnboundedReceiver<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (closed, closes) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let closed = closed.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let text = String::from_utf8_lossy(&head);
                    let reply = answer(text.lines().next().unwrap_or(""));
                    let trickle = reply.contains("chunked");
                    if socket.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                    loop {
                        tokio::select! {
                            read = socket.read(&mut buf) => {
                                if matches!(read, Ok(0) | Err(_)) {
                                    break;
                                }
                            }
                            () = tokio::time::sleep(Duration::from_millis(50)), if trickle => {
                                if socket.write_all(b"1\r\nx\r\n").await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                    let _ = closed.send(());
                });
            }
        });
        (port, closes)
    }

    fn request(method: Method, port: u16) -> Request<WasiBody> {
        let body = Empty::new().map_err(|e| match e {}).boxed_unsync();
        Request::builder()
            .method(method)
            .uri(format!("http://127.0.0.1:{port}/"))
            .body(body)
            .unwrap()
    }

    fn limits(timeout: Duration) -> Limits {
        Limits {
            timeout,
            max_request: 1000,
            max_response: 1000,
        }
    }

    fn no_denial(reason: &str) {
        panic!("denied: {reason}");
    }

    /// wasmtime runs the connection's work in a task the response's body
    /// keeps: it ends at the deadline though the body is never read nor
    /// dropped, and the server sees its socket closed.
    #[tokio::test]
    async fn a_connection_is_closed_at_the_deadline_though_its_body_is_never_read() {
        let (port, mut closes) =
            serve(|_| "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n").await;
        let timeout = Duration::from_millis(300);
        let (response, io) = send(request(Method::GET, port), None, limits(timeout), no_denial)
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let io = tokio::spawn(Pin::from(io));
        let closed = tokio::time::timeout(Duration::from_secs(20), closes.recv()).await;
        assert!(matches!(closed, Ok(Some(()))), "the connection stayed open");
        assert!(io.await.unwrap().is_ok());
        // The body, read now, says why it ended.
        let read = response.into_body().collect().await;
        assert!(matches!(read, Err(Error::HttpResponseTimeout)), "{read:?}");
    }

    #[tokio::test]
    async fn a_response_with_no_body_may_declare_any_length() {
        let (port, _closes) = serve(|line| {
            if line.starts_with("HEAD") {
                "HTTP/1.1 200 OK\r\ncontent-length: 5000\r\n\r\n"
            } else if line.starts_with("PUT") {
                "HTTP/1.1 304 Not Modified\r\ncontent-length: 5000\r\n\r\n"
            } else {
                "HTTP/1.1 200 OK\r\ncontent-length: 5000\r\n\r\n"
            }
        })
        .await;
        let limits = limits(Duration::from_secs(10));
        for method in [Method::HEAD, Method::PUT] {
            let (response, _io) = send(request(method.clone(), port), None, limits, no_denial)
                .await
                .unwrap_or_else(|e| panic!("{method}: {e}"));
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert!(body.is_empty(), "{method}");
        }
        match send(request(Method::GET, port), None, limits, no_denial).await {
            Err(Error::HttpResponseBodySize(Some(5000))) => {}
            other => panic!("{:?}", other.map(|(r, _)| r.status())),
        }
    }
}
