//! The blocking client over `wasi:http/outgoing-handler` (wasm32 only).
//!
//! WASI HTTP is asynchronous: `handle` returns a future response, and
//! bodies are streams. A bot's call is synchronous, so each step blocks on
//! its pollable; the gateway runs other chats meanwhile.

use super::{Error, Headers, Request, Response, Target};
use crate::bindings::wasi::http::outgoing_handler;
use crate::bindings::wasi::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, IncomingBody, IncomingResponse, OutgoingBody,
    OutgoingRequest, RequestOptions, Scheme, http_error_code,
};
use crate::bindings::wasi::io::streams::StreamError;

/// `blocking-write-and-flush` takes at most 4096 bytes a call.
const WRITE_CHUNK: usize = 4096;
/// How much one read asks for; a read returns what is there, up to this.
const READ_CHUNK: u64 = 64 << 10;

pub(crate) fn send(req: &Request, target: &Target) -> Result<Response, Error> {
    let outgoing = outgoing_request(req, target)?;
    let body = outgoing
        .body()
        .map_err(|()| Error::Invalid("the request body was taken twice".into()))?;
    // Start the request, then write the body: the host sends the body as it
    // is written, so a body written first could fill the pipe and block.
    let pending = outgoing_handler::handle(outgoing, options(req)).map_err(Error::Http)?;
    write_body(body, &req.body)?;
    read_response(wait(&pending)?)
}

/// The request's head: method, URL parts and headers.
fn outgoing_request(req: &Request, target: &Target) -> Result<OutgoingRequest, Error> {
    let headers = Fields::new();
    for (name, value) in req.headers.iter() {
        headers
            .append(name, value.as_bytes())
            .map_err(|e| Error::Invalid(format!("header `{name}`: {e:?}")))?;
    }
    let outgoing = OutgoingRequest::new(headers);
    let invalid = |what: &str| Error::Invalid(format!("{what} of `{}`", req.url));
    let scheme = if target.https {
        Scheme::Https
    } else {
        Scheme::Http
    };
    outgoing
        .set_method(&req.method)
        .map_err(|()| invalid("the method"))?;
    outgoing
        .set_scheme(Some(&scheme))
        .map_err(|()| invalid("the scheme"))?;
    outgoing
        .set_authority(Some(&target.authority))
        .map_err(|()| invalid("the host"))?;
    outgoing
        .set_path_with_query(Some(&target.path_with_query))
        .map_err(|()| invalid("the path"))?;
    Ok(outgoing)
}

/// The request's own timeout, for each of connect, first byte and between
/// bytes (the gateway may only shorten its own with them).
fn options(req: &Request) -> Option<RequestOptions> {
    let nanos = u64::try_from(req.timeout?.as_nanos()).unwrap_or(u64::MAX);
    let options = RequestOptions::new();
    // An implementation that does not take one of them refuses it; the
    // gateway's own timeout still holds, so that is not an error.
    let _ = options.set_connect_timeout(Some(nanos));
    let _ = options.set_first_byte_timeout(Some(nanos));
    let _ = options.set_between_bytes_timeout(Some(nanos));
    Some(options)
}

fn write_body(body: OutgoingBody, bytes: &[u8]) -> Result<(), Error> {
    {
        // The stream is the body's child: it must go before `finish`.
        let stream = body
            .write()
            .map_err(|()| Error::Invalid("the request body was written twice".into()))?;
        for chunk in bytes.chunks(WRITE_CHUNK) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|e| stream_error(e, "the gateway closed the request body"))?;
        }
    }
    OutgoingBody::finish(body, None).map_err(Error::Http)
}

/// Blocks until the response head is in.
fn wait(pending: &FutureIncomingResponse) -> Result<IncomingResponse, Error> {
    pending.subscribe().block();
    match pending.get() {
        Some(Ok(Ok(response))) => Ok(response),
        Some(Ok(Err(code))) => Err(Error::Http(code)),
        // Taken already, or not ready after blocking: neither happens with
        // one `get` after `block`, but say so rather than trap.
        Some(Err(())) | None => Err(Error::Http(ErrorCode::InternalError(Some(
            "the response was not there after waiting for it".into(),
        )))),
    }
}

/// Status, headers, and the body read to its end.
fn read_response(response: IncomingResponse) -> Result<Response, Error> {
    let status = response.status();
    let mut headers = Headers::default();
    for (name, value) in response.headers().entries() {
        headers.append(name, String::from_utf8_lossy(&value));
    }
    let incoming = response
        .consume()
        .map_err(|()| Error::Invalid("the response body was taken twice".into()))?;
    let mut body = Vec::new();
    {
        // The stream is the body's child: it must go before the body.
        let stream = incoming
            .stream()
            .map_err(|()| Error::Invalid("the response body was read twice".into()))?;
        loop {
            match stream.blocking_read(READ_CHUNK) {
                Ok(chunk) => body.extend_from_slice(&chunk),
                Err(StreamError::Closed) => break,
                Err(e) => return Err(stream_error(e, "")),
            }
        }
    }
    // Trailers are not read; dropping their future is allowed.
    drop(IncomingBody::finish(incoming));
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// A failed body write or read, as the HTTP error code behind it (a body
/// over the size cap, a connection cut) when there is one; `closed` says
/// why a write found the stream closed (a read ends there).
fn stream_error(e: StreamError, closed: &str) -> Error {
    let code = match e {
        StreamError::LastOperationFailed(io) => http_error_code(&io)
            .unwrap_or_else(|| ErrorCode::InternalError(Some(io.to_debug_string()))),
        StreamError::Closed => ErrorCode::InternalError(Some(closed.to_owned())),
    };
    Error::Http(code)
}
