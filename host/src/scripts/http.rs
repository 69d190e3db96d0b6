//! Bots' outbound HTTP: `wasi:http/outgoing-handler@0.2.12` (0.2.0 world),
//! wasmtime's `wasi:http/types` with the gateway's own client
//! (`http_client`) behind the bot's grants.
//!
//! Checked in `handle`, before anything is sent or connected: the request's
//! scheme, host and port must be an origin of the bot's `http` grant, and the
//! call may start at most `http_requests_per_call` requests (refused ones
//! count). Checked in the client, before connecting: what the host name
//! resolves to (`http_addr`). A refusal is `HTTP-request-denied`, counted
//! and logged once per reason (`Granted::deny`). Bounded in the client:
//! one deadline per request, connection included (`http_timeout`), and
//! both bodies capped. Bounded here: what a guest's request may hold in the
//! host before it is sent (`HttpHooks`; the fields' size, in
//! `BotState::new`).
//!
//! A `3xx` reaches the guest as it is, and a request to where it points is
//! a new request, checked like any other. The waits are the guest's wasi:io
//! polls, in the host: off its CPU deadline (`state::CpuClock`), within its
//! call's wall-clock limit.

use std::future::Future;
use std::sync::Arc;

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi_http::p2::HttpResult;
use wasmtime_wasi_http::p2::bindings::LinkOptions;
use wasmtime_wasi_http::p2::bindings::http::types::{DnsErrorPayload, ErrorCode, Scheme};
use wasmtime_wasi_http::p2::bindings::http::{outgoing_handler, types as http_types};
use wasmtime_wasi_http::p2::types::{HostFutureIncomingResponse, HostOutgoingRequest};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks, WasiHttpView};

use super::http_client::{self, Limits, Sent};
use super::state::{BotState, CurrentMsg, msg_id_of};
use crate::grants::{Granted, Origin};

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
    let quoted = quoted(authority);
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
    // Something after the host that is not a port (`:99999`) is no port
    // of a grant's (the client would connect to the default one).
    if authority.len() > parsed.host().len() && parsed.port_u16().is_none() {
        return Err(denied());
    }
    let (host, port) = (parsed.host(), parsed.port_u16());
    if granted.iter().any(|o| o.allows(https, host, port)) {
        Ok(())
    } else {
        Err(denied())
    }
}

/// How wasmtime's client sends a bot's requests: within the bot's quotas
/// (`http_client`), its refusals counted as the bot's denials.
pub struct HttpHooks {
    limits: Limits,
    /// The most of a request's body the guest writes at once; a chunk and
    /// one more may wait in the host for the connection
    /// (`p2_outgoing_body_buffer_chunks`), outside the bot's `memory_mb`.
    body_chunk: usize,
    script: Arc<str>,
    msg: CurrentMsg,
    granted: Arc<Granted>,
}

/// The most a guest's `fields` (headers, trailers) may hold, roughly in
/// bytes of the host's memory, outside the bot's `memory_mb` (wasmtime's
/// default is 128 KiB; each `fields` is a resource, up to
/// `max_resources`). Past it, wasmtime traps the guest.
pub const MAX_FIELDS_BYTES: usize = 16 * 1024;

/// The largest chunk of a request's body the guest hands the host at once
/// (wasmtime's default is 1 MiB).
const MAX_BODY_CHUNK: usize = 64 * 1024;

impl HttpHooks {
    pub fn new(script: Arc<str>, msg: CurrentMsg, granted: Arc<Granted>) -> HttpHooks {
        let q = &granted.grants.quotas;
        let max_request = usize::try_from(q.http_max_request_bytes).unwrap_or(usize::MAX);
        HttpHooks {
            limits: Limits {
                timeout: q.http_timeout,
                max_request: q.http_max_request_bytes,
                max_response: q.http_max_response_bytes,
            },
            // At least a byte: with none the guest could never write, nor
            // learn its body is over the cap.
            body_chunk: max_request.clamp(1, MAX_BODY_CHUNK),
            script,
            msg,
            granted,
        }
    }
}

impl WasiHttpHooks for HttpHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _request_done: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<dyn Future<Output = Sent> + Send> {
        // The address is checked once the name is resolved, after `handle`
        // returned: the refusal is counted then, for the call that asked.
        let (granted, script) = (self.granted.clone(), self.script.clone());
        let msg_id = msg_id_of(&self.msg);
        let note = self.msg.clone();
        let deny = move |reason: &str| {
            super::state::note_denied(&note, reason);
            granted.deny(&script, &msg_id, reason);
        };
        Box::new(http_client::send(request, options, self.limits, deny))
    }

    fn p2_outgoing_body_buffer_chunks(&mut self) -> usize {
        1
    }

    fn p2_outgoing_body_chunk_size(&mut self) -> usize {
        self.body_chunk
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

    fn p2_error_from_dns(
        &mut self,
        err: &tokio_rustls::rustls::pki_types::InvalidDnsNameError,
    ) -> ErrorCode {
        tracing::debug!("a bot's HTTPS request names no valid host: {err}");
        ErrorCode::DnsError(DnsErrorPayload {
            rcode: Some("invalid DNS name".to_string()),
            info_code: None,
        })
    }
}

/// `authority` as a denial's reason quotes it: at most `MAX_QUOTED_HOST`
/// characters.
pub fn quoted(authority: &str) -> String {
    authority.chars().take(MAX_QUOTED_HOST).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
                Some("api.example.com:abc"),
                "not in http",
            ),
            (
                Some(&Scheme::Https),
                Some("api.example.com:99999"),
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
    fn a_request_body_waits_in_the_host_in_small_chunks() {
        let hooks = |max_request| {
            let mut grants = crate::grants::Grants::least(&Default::default());
            grants.quotas.http_max_request_bytes = max_request;
            HttpHooks::new(
                "t".into(),
                CurrentMsg::default(),
                Arc::new(Granted::new(grants)),
            )
        };
        let mut h = hooks(1 << 20);
        assert_eq!(h.p2_outgoing_body_chunk_size(), MAX_BODY_CHUNK);
        assert_eq!(h.p2_outgoing_body_buffer_chunks(), 1);
        assert_eq!(hooks(1000).p2_outgoing_body_chunk_size(), 1000);
        assert_eq!(hooks(0).p2_outgoing_body_chunk_size(), 1);
    }
}
