//! Fetcher: a 0.2.0 bot built straight from `wit/0.2.0` (no SDK) that makes
//! outbound HTTP requests through `wasi:http/outgoing-handler` on command,
//! so the end-to-end tests can show the gateway's HTTP grants and limits.
//!
//! Commands (the whole text of a message):
//!
//! | text | does |
//! |---|---|
//! | `/get URL` | GET; replies `STATUS BODYLEN BODY-PREFIX` (the first 64 bytes) or `error: <why>` |
//! | `/get-patient URL` | the same, asking for hour-long timeouts (`request-options`) |
//! | `/head URL` | HEAD; replies as `/get` |
//! | `/keep URL` | GET; keeps the response, its body unread, for as long as the instance lives; replies `STATUS kept` or `error: <why>` |
//! | `/get-many N URL` | N GETs one after the other; replies each outcome, `, `-separated (`200` or `error: …`) |
//! | `/post URL BYTES` | POSTs BYTES bytes, streamed (no `Content-Length`); replies as `/get` |
//! | `/post-declared URL BYTES` | the same with `Content-Length: BYTES` |
//!
//! `error: <why>` is the `error-code` (its Rust debug form, e.g.
//! `ErrorCode::HttpRequestDenied`) or, for a body cut while read, `body:`
//! and the stream error's text. Anything else passes.

// Generated code: the event variant's export glue takes many flat arguments.
#![allow(clippy::too_many_arguments)]

wit_bindgen::generate!({
    world: "bot",
    path: "../../../wit/0.2.0",
    generate_all,
});

use wasi::http::outgoing_handler;
use wasi::http::types::{
    ErrorCode, Fields, IncomingBody, IncomingResponse, Method, OutgoingBody, OutgoingRequest,
    RequestOptions, Scheme,
};
use wasi::io::streams::StreamError;

struct Fetcher;

thread_local! {
    /// What `/keep` keeps: responses never read nor dropped, as a careless
    /// (or hostile) bot would.
    static KEPT: std::cell::RefCell<Vec<IncomingResponse>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A request the bot makes.
struct Ask<'a> {
    method: Method,
    url: &'a str,
    /// A body of this many bytes, and whether `Content-Length` declares it.
    body: Option<(usize, bool)>,
    patient: bool,
}

/// The response's head, or why not.
fn send(ask: Ask<'_>) -> Result<IncomingResponse, String> {
    let (scheme, rest) = ask
        .url
        .split_once("://")
        .ok_or_else(|| format!("not a URL: {}", ask.url))?;
    let scheme = match scheme {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => Scheme::Other(other.to_string()),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let headers = Fields::new();
    if let Some((len, true)) = ask.body {
        headers
            .append("content-length", len.to_string().as_bytes())
            .map_err(|e| format!("header: {e:?}"))?;
    }
    let request = OutgoingRequest::new(headers);
    let set = |ok: Result<(), ()>, what: &str| ok.map_err(|()| format!("cannot set {what}"));
    set(request.set_method(&ask.method), "method")?;
    set(request.set_scheme(Some(&scheme)), "scheme")?;
    set(request.set_authority(Some(authority)), "authority")?;
    set(request.set_path_with_query(Some(path)), "path")?;
    let out_body = match ask.body {
        Some(_) => Some(request.body().map_err(|()| "no body".to_string())?),
        None => None,
    };
    let options = ask.patient.then(|| {
        let o = RequestOptions::new();
        let hour = 3_600_000_000_000;
        let _ = o.set_connect_timeout(Some(hour));
        let _ = o.set_first_byte_timeout(Some(hour));
        let _ = o.set_between_bytes_timeout(Some(hour));
        o
    });
    let future = outgoing_handler::handle(request, options).map_err(|e| error(&e))?;
    // The body goes after `handle`: until then nothing reads it.
    if let (Some(body), Some((len, _))) = (out_body, ask.body) {
        write_body(body, len);
    }
    loop {
        match future.get() {
            Some(Ok(Ok(r))) => return Ok(r),
            Some(Ok(Err(e))) => return Err(error(&e)),
            Some(Err(())) => return Err("response taken twice".into()),
            None => future.subscribe().block(),
        }
    }
}

/// What came back: the status and the body, or why not.
fn fetch(ask: Ask<'_>) -> Result<(u16, Vec<u8>), String> {
    let response = send(ask)?;
    let status = response.status();
    let body = response
        .consume()
        .map_err(|()| "no response body".to_string())?;
    let read = read_body(&body);
    IncomingBody::finish(body);
    read.map(|bytes| (status, bytes))
}

/// Writes `len` bytes; a write the gateway refuses ends it (the response
/// then says why).
fn write_body(body: OutgoingBody, len: usize) {
    {
        let Ok(stream) = body.write() else { return };
        let chunk = [b'p'; 4096];
        let mut left = len;
        while left > 0 {
            let n = left.min(chunk.len());
            if stream.blocking_write_and_flush(&chunk[..n]).is_err() {
                break;
            }
            left -= n;
        }
    }
    let _ = OutgoingBody::finish(body, None);
}

fn read_body(body: &IncomingBody) -> Result<Vec<u8>, String> {
    let stream = body.stream().map_err(|()| "no body stream".to_string())?;
    let mut bytes = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => bytes.extend_from_slice(&chunk),
            Err(StreamError::Closed) => return Ok(bytes),
            Err(StreamError::LastOperationFailed(e)) => {
                return Err(format!("body: {}", e.to_debug_string()));
            }
        }
    }
}

fn error(e: &ErrorCode) -> String {
    format!("{e:?}")
}

fn outcome(r: Result<(u16, Vec<u8>), String>) -> String {
    match r {
        Ok((status, body)) => {
            let prefix = String::from_utf8_lossy(&body[..body.len().min(64)]).into_owned();
            format!("{status} {} {prefix}", body.len())
        }
        Err(why) => format!("error: {why}"),
    }
}

impl Guest for Fetcher {
    fn init(_config: Vec<(String, String)>) -> Result<(), String> {
        Ok(())
    }

    fn on_message(msg: Message) -> Option<Decision> {
        let words: Vec<&str> = msg.content.split_whitespace().collect();
        let get = |url| Ask {
            method: Method::Get,
            url,
            body: None,
            patient: false,
        };
        let post = |url, len: &str, declared| Ask {
            method: Method::Post,
            url,
            body: Some((len.parse().unwrap_or(0), declared)),
            patient: false,
        };
        let reply = match words.as_slice() {
            ["/get", url] => outcome(fetch(get(url))),
            ["/get-patient", url] => outcome(fetch(Ask {
                patient: true,
                ..get(url)
            })),
            ["/head", url] => outcome(fetch(Ask {
                method: Method::Head,
                ..get(url)
            })),
            ["/keep", url] => match send(get(url)) {
                Ok(response) => {
                    let status = response.status();
                    KEPT.with(|kept| kept.borrow_mut().push(response));
                    format!("{status} kept")
                }
                Err(why) => format!("error: {why}"),
            },
            ["/get-many", n, url] => (0..n.parse::<u32>().unwrap_or(0))
                .map(|_| match fetch(get(url)) {
                    Ok((status, _)) => status.to_string(),
                    Err(why) => format!("error: {why}"),
                })
                .collect::<Vec<_>>()
                .join(", "),
            ["/post", url, len] => outcome(fetch(post(url, len, false))),
            ["/post-declared", url, len] => outcome(fetch(post(url, len, true))),
            _ => return None,
        };
        Some(Decision {
            reply: Some(reply),
            shutup: None,
        })
    }

    fn on_event(_event: Event) {}

    fn on_timer(_name: String, _payload: String) {}
}

export!(Fetcher);
