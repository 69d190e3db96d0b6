//! The cross-site guard: one layer in front of every route that refuses,
//! before anything runs, what a web page could make a browser send, what a
//! DNS-rebinding name sends, and peers outside `[http] allow_from`.
//!
//! A request is judged in three steps, each from headers alone:
//!
//! 1. **Peer.** With `allow_from` set, the peer must be loopback or inside
//!    one of its networks (an unknown peer is refused).
//! 2. **Host.** The `Host` name (its port is not looked at: a rebinding page
//!    changes the name, and a port mapping changes the port) must be
//!    `localhost`, a loopback address, the listen address (any address when
//!    listening on `0.0.0.0`/`[::]`), or in `allowed_hosts`. A rebinding
//!    attack needs a name of its own, which is none of these.
//! 3. **Site.** `Sec-Fetch-Site: same-origin` or `none` (the gateway's own
//!    page, or a URL the user typed) passes. `cross-site` or `same-site`
//!    needs the request's origin in `allowed_origins`. Without Fetch
//!    Metadata (older browsers, or plain `http://` to a LAN address, where
//!    browsers do not send it), an `Origin` — or else a `Referer` — naming
//!    another origin than the `Host` needs to be listed too. A request with
//!    none of these headers is a program (curl, the old Openqq clients) and
//!    passes unchanged.
//!
//! A foreign page's request is refused whole, reads included: that one
//! rule keeps it from acting (send, mute, kick, `stop_client`, `relogin`,
//! `/sim/*`, `/admin/*`), from reading through CORS or v2's JSONP, and from
//! draining `check_event` — for every route, present and future. Refusals
//! answer in the shape of the refused area: `/openqq/*` (and unknown paths)
//! as an access-token failure in the dialect (v1 HTTP 403 `auth failure`,
//! v2 `{"code":-6,"status":"auth failure"}`), `/admin/*` its own 403,
//! `/sim/*` HTTP 403 with `{"code":403,"status":…}`; every refusal carries
//! its reason in `X-Openqq-Refused` and in a (throttled) warning.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Extensions, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::error::OpenqqJson;
use crate::config::{Cidr, HttpSection};
use crate::render::Dialect;
use crate::throttle::Throttle;

/// The header that says why the guard refused a request.
pub const REFUSED: &str = "x-openqq-refused";

/// One refusal warning per interval, with the count held back.
static REFUSALS: Throttle = Throttle::new(Duration::from_secs(10));

/// What the operator allowed, checked and normalised.
#[derive(Debug, Clone)]
pub struct Policy {
    /// `*` was listed: any origin, as the original.
    any_origin: bool,
    /// Listed origins, lower case, as browsers write them
    /// (`https://dash.example:8443`).
    origins: Vec<String>,
    any_host: bool,
    /// Listed host names, lower case, without a port.
    hosts: Vec<String>,
    /// Empty: every peer (the default).
    allow_from: Vec<Cidr>,
    /// The listener's address: Hosts naming it are ours.
    listen: IpAddr,
    dialect: Dialect,
}

/// An IPv4 peer on a dual-stack (`[::]`) listener arrives as
/// `::ffff:a.b.c.d`; every check sees it as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// Whether the peer is this machine (`127.0.0.0/8`, `::1`, or either
/// mapped into IPv6).
pub fn is_loopback(ip: IpAddr) -> bool {
    canonical(ip).is_loopback()
}

/// The peer's address, as the server recorded it (`ConnectInfo`); `None`
/// when the app is driven without a socket.
pub fn peer(extensions: &Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The peer is outside `allow_from` (or unknown while it is set).
    Peer(Option<IpAddr>),
    /// A `Host` that is neither ours nor listed (DNS rebinding).
    Host(String),
    /// A browser request on behalf of another site, whose origin is not
    /// listed (`None`: the browser did not say which).
    CrossSite(Option<String>),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Peer(Some(ip)) => write!(f, "peer {ip} is not in [http] allow_from"),
            Refusal::Peer(None) => write!(f, "peer address unknown and [http] allow_from is set"),
            Refusal::Host(h) => write!(
                f,
                "Host {h:?} is not this gateway's address nor in [http] allowed_hosts"
            ),
            Refusal::CrossSite(Some(o)) => write!(
                f,
                "cross-site request from {o} refused: not in [http] allowed_origins"
            ),
            Refusal::CrossSite(None) => write!(
                f,
                "cross-site request refused: its origin is unknown and [http] allowed_origins has no \"*\""
            ),
        }
    }
}

/// What the guard decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Serve it. `echo`: a listed origin, answered in
    /// `Access-Control-Allow-Origin` instead of `*`.
    Pass {
        echo: Option<String>,
    },
    Refuse(Refusal),
}

impl Policy {
    /// The operator's `[http]` section, checked: origins are
    /// `scheme://host[:port]` or `*`, hosts are names, networks are CIDR.
    ///
    /// # Errors
    /// The first bad entry, named with its key.
    pub fn new(http: &HttpSection, listen: IpAddr, dialect: Dialect) -> anyhow::Result<Policy> {
        let rules = http.rules()?;
        Ok(Policy {
            any_origin: rules.any_origin,
            origins: rules.origins,
            any_host: rules.any_host,
            hosts: rules.hosts,
            allow_from: rules.allow_from,
            listen: canonical(listen),
            dialect,
        })
    }

    /// The warnings a start owes the operator: an API reachable beyond
    /// loopback without a token, and openings that undo the guard.
    pub fn warn_at_start(&self, listen: SocketAddr, access_token: bool) {
        if !is_loopback(listen.ip()) && !access_token {
            tracing::warn!(
                %listen,
                allow_from = self.allow_from.len(),
                "the API listens beyond loopback without access_token: anyone who can reach {listen} can send, mute, kick and stop the gateway; set access_token, and [http] allow_from to the networks that may connect"
            );
        }
        if self.any_origin {
            tracing::warn!(
                "[http] allowed_origins has \"*\": any web page opened in a browser that can reach the gateway can read its contacts and act through it (as the original Openqq)"
            );
        }
        if self.any_host {
            tracing::warn!(
                "[http] allowed_hosts has \"*\": a web page can reach the gateway by DNS rebinding"
            );
        }
    }

    /// Judges one request from its peer and headers.
    pub fn judge(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Verdict {
        if !self.peer_allowed(peer) {
            return Verdict::Refuse(Refusal::Peer(peer));
        }
        // HTTP/2 carries no `Host`; browsers speak it only over TLS, which
        // this server does not, so a request without one is a program.
        let host = text(headers, header::HOST);
        if let Some(h) = host
            && !self.host_allowed(h)
        {
            return Verdict::Refuse(Refusal::Host(h.to_string()));
        }
        let origin = text(headers, header::ORIGIN)
            .map(str::to_ascii_lowercase)
            .or_else(|| text(headers, header::REFERER).and_then(origin_of));
        let fetch_site = text(headers, "sec-fetch-site").map(str::to_ascii_lowercase);
        let foreign = match fetch_site.as_deref() {
            Some("same-origin" | "none") => false,
            Some("cross-site" | "same-site") => true,
            // No Fetch Metadata (or a value this code does not know):
            // another origin than ours is foreign; no origin is a program.
            _ => origin
                .as_deref()
                .is_some_and(|o| host.is_none_or(|h| !same_authority(o, h))),
        };
        if !foreign {
            return Verdict::Pass { echo: None };
        }
        match origin {
            Some(o) if self.origins.contains(&o) => Verdict::Pass { echo: Some(o) },
            _ if self.any_origin => Verdict::Pass { echo: None },
            o => Verdict::Refuse(Refusal::CrossSite(o)),
        }
    }

    fn peer_allowed(&self, peer: Option<IpAddr>) -> bool {
        if self.allow_from.is_empty() {
            return true;
        }
        peer.is_some_and(|ip| is_loopback(ip) || self.allow_from.iter().any(|c| c.contains(ip)))
    }

    fn host_allowed(&self, host: &str) -> bool {
        if self.any_host {
            return true;
        }
        let name = host_name(host).trim_end_matches('.').to_ascii_lowercase();
        if name == "localhost" {
            return true;
        }
        let literal = name
            .strip_prefix('[')
            .and_then(|n| n.strip_suffix(']'))
            .unwrap_or(&name);
        if let Ok(ip) = literal.parse::<IpAddr>() {
            // An address is never a rebinding name: a page that reaches us
            // by address is from that address.
            let ip = canonical(ip);
            return ip.is_loopback() || ip == self.listen || self.listen.is_unspecified();
        }
        self.hosts.contains(&name)
    }

    /// The refusal's answer, in the shape of the area asked.
    fn refusal(&self, path: &str, why: &Refusal) -> Response {
        let mut res = if path.starts_with("/admin/") || path == "/admin" {
            super::error::forbidden("admin: forbidden")
        } else if path.starts_with("/sim/") {
            (
                StatusCode::FORBIDDEN,
                OpenqqJson(json!({"code": 403, "status": why.to_string()})),
            )
                .into_response()
        } else {
            match self.dialect {
                Dialect::V1 => super::error::forbidden("auth failure"),
                Dialect::V2 => {
                    OpenqqJson(json!({"code": -6, "status": "auth failure"})).into_response()
                }
            }
        };
        if let Ok(v) = HeaderValue::from_str(&why.to_string()) {
            res.headers_mut().insert(REFUSED, v);
        }
        res
    }
}

fn text(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `Host`'s name without its port: `a:5000` → `a`, `[::1]:5000` → `[::1]`.
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    host.split_once(':').map_or(host, |(name, _)| name)
}

/// The origin (`scheme://authority`) of a URL, lower case.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    (!scheme.is_empty() && !authority.is_empty())
        .then(|| format!("{scheme}://{authority}").to_ascii_lowercase())
}

/// Whether an origin names the same authority as `Host` (a request from
/// the gateway's own page, sent by a browser without Fetch Metadata).
fn same_authority(origin: &str, host: &str) -> bool {
    origin
        .split_once("://")
        .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host))
}

/// The layer: refuses before anything runs, and answers a listed origin by
/// name in `Access-Control-Allow-Origin`.
pub async fn check(State(policy): State<Arc<Policy>>, req: Request, next: Next) -> Response {
    match policy.judge(peer(req.extensions()), req.headers()) {
        Verdict::Pass { echo: None } => next.run(req).await,
        Verdict::Pass { echo: Some(origin) } => {
            let mut res = next.run(req).await;
            let h = res.headers_mut();
            if h.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                && let Ok(v) = HeaderValue::from_str(&origin)
            {
                h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
            }
            res
        }
        Verdict::Refuse(why) => {
            if let Some(held_back) = REFUSALS.allow() {
                tracing::warn!(path = req.uri().path(), held_back, "refused: {why}");
            }
            policy.refusal(req.uri().path(), &why)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(origins: &[&str], hosts: &[&str], from: &[&str], listen: &str) -> Policy {
        let http = HttpSection {
            allowed_origins: origins.iter().map(|s| s.to_string()).collect(),
            allowed_hosts: hosts.iter().map(|s| s.to_string()).collect(),
            allow_from: from.iter().map(|s| s.to_string()).collect(),
        };
        Policy::new(&http, listen.parse().unwrap(), Dialect::V1).unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    const LO: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
    const PASS: Verdict = Verdict::Pass { echo: None };

    #[test]
    fn programs_and_the_gateways_own_pages_pass() {
        let p = policy(&[], &[], &[], "127.0.0.1");
        assert_eq!(p.judge(LO, &headers(&[])), PASS, "no headers: a program");
        assert_eq!(p.judge(LO, &headers(&[("host", "127.0.0.1:5000")])), PASS);
        assert_eq!(p.judge(LO, &headers(&[("host", "127.0.0.1")])), PASS);
        for site in ["same-origin", "none", "Same-Origin"] {
            let h = headers(&[("host", "localhost:5000"), ("sec-fetch-site", site)]);
            assert_eq!(p.judge(LO, &h), PASS, "{site}");
        }
        // A browser without Fetch Metadata, on our own page.
        let h = headers(&[
            ("host", "127.0.0.1:5000"),
            ("origin", "http://127.0.0.1:5000"),
        ]);
        assert_eq!(p.judge(LO, &h), PASS);
    }

    #[test]
    fn foreign_sites_are_refused_by_fetch_metadata_origin_or_referer() {
        let p = policy(&[], &[], &[], "127.0.0.1");
        let evil = Some("https://evil.example".to_string());
        let cases = [
            headers(&[
                ("host", "127.0.0.1:5000"),
                ("origin", "https://evil.example"),
                ("sec-fetch-site", "cross-site"),
                ("sec-fetch-mode", "cors"),
            ]),
            headers(&[("origin", "https://evil.example")]),
            headers(&[
                ("host", "127.0.0.1:5000"),
                ("referer", "https://evil.example/page?x=1"),
            ]),
            headers(&[
                ("host", "127.0.0.1:5000"),
                ("sec-fetch-site", "cross-site"),
                ("referer", "https://evil.example/"),
            ]),
        ];
        for h in cases {
            assert_eq!(
                p.judge(LO, &h),
                Verdict::Refuse(Refusal::CrossSite(evil.clone())),
                "{h:?}"
            );
        }
        // <img src> from a page with no-referrer: the site is all we know.
        let h = headers(&[("host", "127.0.0.1:5000"), ("sec-fetch-site", "cross-site")]);
        assert_eq!(p.judge(LO, &h), Verdict::Refuse(Refusal::CrossSite(None)));
        // Another port of this machine is another origin, though same-site.
        let h = headers(&[
            ("host", "localhost:5000"),
            ("origin", "http://localhost:8080"),
            ("sec-fetch-site", "same-site"),
        ]);
        assert!(matches!(p.judge(LO, &h), Verdict::Refuse(_)));
        let h = headers(&[("host", "localhost:5000"), ("origin", "null")]);
        assert!(matches!(p.judge(LO, &h), Verdict::Refuse(_)));
    }

    #[test]
    fn listed_origins_pass_and_are_echoed_and_a_star_opens_all() {
        let p = policy(&["https://Dash.example/"], &[], &[], "127.0.0.1");
        let h = headers(&[
            ("host", "127.0.0.1:5000"),
            ("origin", "https://dash.example"),
            ("sec-fetch-site", "cross-site"),
        ]);
        assert_eq!(
            p.judge(LO, &h),
            Verdict::Pass {
                echo: Some("https://dash.example".into())
            }
        );
        let other = headers(&[("origin", "https://dash.example:8443")]);
        assert!(matches!(p.judge(LO, &other), Verdict::Refuse(_)));
        let star = policy(&["*"], &[], &[], "127.0.0.1");
        assert_eq!(star.judge(LO, &other), PASS);
        let blind = headers(&[("sec-fetch-site", "cross-site")]);
        assert_eq!(star.judge(LO, &blind), PASS);
    }

    #[test]
    fn rebinding_names_are_refused() {
        let p = policy(&[], &["qq.lan"], &[], "127.0.0.1");
        for ok in [
            "127.0.0.1:5000",
            "localhost:5000",
            "LOCALHOST",
            "[::1]:5000",
            "127.0.0.2",
            "qq.lan:80",
            "qq.lan.",
        ] {
            assert_eq!(p.judge(LO, &headers(&[("host", ok)])), PASS, "{ok}");
        }
        for bad in [
            "evil.example:5000",
            "evil.example",
            "192.168.1.5:5000",
            "[::2]",
        ] {
            assert_eq!(
                p.judge(LO, &headers(&[("host", bad)])),
                Verdict::Refuse(Refusal::Host(bad.into())),
                "{bad}"
            );
        }
        // On every address, any address is ours; names still are not.
        let lan = policy(&[], &[], &[], "0.0.0.0");
        assert_eq!(
            lan.judge(LO, &headers(&[("host", "192.168.1.5:5000")])),
            PASS
        );
        assert!(matches!(
            lan.judge(LO, &headers(&[("host", "evil.example")])),
            Verdict::Refuse(Refusal::Host(_))
        ));
        let any = policy(&[], &["*"], &[], "127.0.0.1");
        assert_eq!(any.judge(LO, &headers(&[("host", "evil.example")])), PASS);
    }

    #[test]
    fn allow_from_admits_loopback_and_its_networks_only() {
        let p = policy(&[], &[], &["192.168.1.0/24", "fd00::/8"], "0.0.0.0");
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        for ok in [
            "127.0.0.1",
            "::1",
            "192.168.1.77",
            "::ffff:192.168.1.9",
            "fd12::1",
        ] {
            assert_eq!(p.judge(ip(ok), &headers(&[])), PASS, "{ok}");
        }
        for bad in ["192.168.2.1", "10.0.0.1", "fe80::1"] {
            assert_eq!(
                p.judge(ip(bad), &headers(&[])),
                Verdict::Refuse(Refusal::Peer(ip(bad))),
                "{bad}"
            );
        }
        assert_eq!(
            p.judge(None, &headers(&[])),
            Verdict::Refuse(Refusal::Peer(None))
        );
        let open = policy(&[], &[], &[], "0.0.0.0");
        assert_eq!(open.judge(ip("10.0.0.1"), &headers(&[])), PASS);
    }

    /// The layer in front of a route that counts its calls: a refused peer
    /// gets the area's 403 and the route never runs.
    #[tokio::test]
    async fn a_refused_peer_gets_a_403_before_anything_runs() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tower::ServiceExt;

        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let app = axum::Router::new()
            .route(
                "/openqq/send_message",
                axum::routing::get(move || {
                    counted.fetch_add(1, Ordering::SeqCst);
                    async { "sent" }
                }),
            )
            .layer(axum::middleware::from_fn_with_state(
                Arc::new(policy(&[], &[], &["192.168.1.0/24"], "0.0.0.0")),
                check,
            ));
        let from = |peer: &str| {
            let mut req = Request::builder()
                .uri("/openqq/send_message")
                .header("host", "192.168.1.5:5000")
                .body(axum::body::Body::empty())
                .unwrap();
            req.extensions_mut()
                .insert(ConnectInfo(SocketAddr::new(peer.parse().unwrap(), 40000)));
            req
        };
        let res = app.clone().oneshot(from("10.9.8.7")).await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert!(
            res.headers()[REFUSED]
                .to_str()
                .unwrap()
                .contains("10.9.8.7")
        );
        let body = axum::body::to_bytes(res.into_body(), 1024).await.unwrap();
        assert_eq!(&body[..], b"auth failure");
        assert_eq!(runs.load(Ordering::SeqCst), 0, "the route ran");
        for ok in ["192.168.1.20", "127.0.0.1"] {
            let res = app.clone().oneshot(from(ok)).await.unwrap();
            assert_eq!(res.status(), StatusCode::OK, "{ok}");
        }
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    /// What `warn_at_start` logs, captured.
    fn start_warnings(p: &Policy, listen: &str, token: bool) -> String {
        #[derive(Clone, Default)]
        struct Buf(Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            p.warn_at_start(listen.parse().unwrap(), token)
        });
        String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn a_start_warns_of_an_open_listener_and_of_stars() {
        let quiet = policy(&[], &[], &[], "127.0.0.1");
        assert_eq!(start_warnings(&quiet, "127.0.0.1:5000", false), "");
        assert_eq!(start_warnings(&quiet, "[::1]:5000", false), "");
        let lan = policy(&[], &[], &[], "0.0.0.0");
        let w = start_warnings(&lan, "0.0.0.0:5077", false);
        assert!(
            w.contains("WARN") && w.contains("without access_token") && w.contains("allow_from"),
            "{w}"
        );
        assert_eq!(start_warnings(&lan, "0.0.0.0:5077", true), "");
        let star = policy(&["*"], &["*"], &[], "127.0.0.1");
        let w = start_warnings(&star, "127.0.0.1:5000", false);
        assert!(w.contains("allowed_origins has \"*\""), "{w}");
        assert!(w.contains("DNS rebinding"), "{w}");
    }

    #[test]
    fn cidrs_parse_and_match() {
        let c: Cidr = "10.1.2.3/8".parse().unwrap();
        assert!(c.contains("10.200.0.1".parse().unwrap()));
        assert!(!c.contains("11.0.0.1".parse().unwrap()));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        assert!(!all.contains("::2".parse().unwrap()));
        let one: Cidr = "192.168.1.5".parse().unwrap();
        assert!(one.contains("192.168.1.5".parse().unwrap()));
        assert!(!one.contains("192.168.1.6".parse().unwrap()));
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains("2001:db8:ffff::1".parse().unwrap()));
        for bad in ["192.168.1.0/33", "lan", "10.0.0.0/x", "::/129", ""] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_entries_are_refused_naming_the_key() {
        let bad = |o: &[&str], h: &[&str], f: &[&str]| {
            let http = HttpSection {
                allowed_origins: o.iter().map(|s| s.to_string()).collect(),
                allowed_hosts: h.iter().map(|s| s.to_string()).collect(),
                allow_from: f.iter().map(|s| s.to_string()).collect(),
            };
            format!(
                "{:#}",
                Policy::new(&http, IpAddr::from([127, 0, 0, 1]), Dialect::V1).unwrap_err()
            )
        };
        assert!(bad(&["dash.example"], &[], &[]).contains("allowed_origins"));
        assert!(bad(&["https://dash.example/app"], &[], &[]).contains("allowed_origins"));
        assert!(bad(&[], &["qq.lan:5000"], &[]).contains("allowed_hosts"));
        assert!(bad(&[], &[], &["192.168.1.0/24x"]).contains("allow_from"));
    }

    #[test]
    fn urls_give_their_origins() {
        assert_eq!(
            origin_of("HTTPS://Evil.example:8443/a/b?c#d").as_deref(),
            Some("https://evil.example:8443")
        );
        assert_eq!(origin_of("about:blank"), None);
        assert_eq!(host_name("[::1]:5000"), "[::1]");
        assert_eq!(host_name("a.b:1"), "a.b");
    }
}
