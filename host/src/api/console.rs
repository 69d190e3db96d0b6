//! The console: a web page at `/` to watch, test and steer the gateway.
//!
//! Its three files (`host/console/`: `index.html`, `app.js`, `app.css`;
//! plain JavaScript, no build step) are compiled into the binary, so the
//! gateway stays one file to install. The page itself holds nothing
//! secret; what it shows comes from the admin routes, under their access
//! rule (`super::admin_auth`). A client the rule refuses gets the login
//! page instead of the console at `/`, and `POST /console/login` with the
//! admin token sets the login cookie. The cross-site guard stays in front
//! of all of it: the login form is same-origin, and a foreign page can
//! neither post it nor read the console.
//!
//! Two admin routes exist for the page: `/admin/overview` (the account,
//! the backend, counters to turn into rates) and `/admin/contacts` (the
//! chat simulator's friends, groups and members). The simulator sends
//! through `/sim/receive` and reads `/sim/sent`, the same real path a test
//! drives.

use std::sync::LazyLock;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::admin_auth::{self, COOKIE, COOKIE_LIFE};
use super::error::OpenqqJson;
use super::state::AppState;
use crate::scripts::ScriptStats;

/// One embedded file with its validator.
struct Asset {
    body: &'static str,
    content_type: &'static str,
    etag: LazyLock<String>,
}

macro_rules! asset {
    ($file:literal, $type:literal) => {
        Asset {
            body: include_str!(concat!("../../console/", $file)),
            content_type: $type,
            etag: LazyLock::new(|| {
                let digest = Sha256::digest(include_str!(concat!("../../console/", $file)));
                format!("\"{}\"", hex::encode(&digest[..8]))
            }),
        }
    };
}

static INDEX: Asset = asset!("index.html", "text/html; charset=utf-8");
static LOGIN: Asset = asset!("login.html", "text/html; charset=utf-8");
static APP_JS: Asset = asset!("app.js", "text/javascript; charset=utf-8");
static APP_CSS: Asset = asset!("app.css", "text/css; charset=utf-8");

/// No inline script or style, nothing from elsewhere, never in a frame
/// (the console has buttons worth clickjacking).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

pub fn router() -> Router<AppState> {
    // Other methods get what an unknown path gets (spec §1's 403).
    let other = super::error::unknown_path;
    Router::new()
        .route("/", get(index).fallback(other))
        .route("/console/{file}", get(file).fallback(other))
        .route("/console/login", post(login).fallback(other))
        .route("/console/logout", post(logout).fallback(other))
}

/// The admin routes the page reads; mounted by `super::admin` behind its
/// guard.
pub fn admin_routes() -> Router<AppState> {
    Router::new()
        .route("/admin/overview", get(overview))
        .route("/admin/contacts", get(contacts))
}

fn page_headers(res: &mut Response) {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
}

/// An asset with its ETag; `304` when the browser has it already. The
/// browser checks each time (`no-cache`): a new binary brings new files.
fn serve(asset: &Asset, headers: &HeaderMap) -> Response {
    let etag = asset.etag.as_str();
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut res = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, asset.content_type)], asset.body).into_response()
    };
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    page_headers(&mut res);
    res
}

/// `/`: the console for a client the admin rule admits, else the login page.
async fn index(State(s): State<AppState>, req: Request) -> Response {
    if admin_auth::admits(&s, &req) {
        return serve(&INDEX, req.headers());
    }
    login_page(StatusCode::OK, None, &s, &req)
}

async fn file(Path(name): Path<String>, headers: HeaderMap) -> Response {
    match name.as_str() {
        "app.js" => serve(&APP_JS, &headers),
        "app.css" => serve(&APP_CSS, &headers),
        _ => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "no such file",
        )
            .into_response(),
    }
}

/// The login form, with an error if the last try failed. Without an
/// admin token configured no login can succeed, and the page says why.
fn login_page(status: StatusCode, error: Option<&str>, s: &AppState, req: &Request) -> Response {
    let note = if s.admin_token.is_none() {
        let from = super::guard::peer(req.extensions())
            .map_or_else(|| "this client".to_string(), |ip| ip.to_string());
        format!(
            "No admin_token is configured, so the console answers only on this machine (loopback); {from} is not. Set admin_token in the config to log in from here."
        )
    } else {
        String::new()
    };
    let error = error.map_or_else(String::new, |e| {
        format!("<p id=\"login-error\" class=\"error\">{}</p>", escape(e))
    });
    let body = LOGIN
        .body
        .replace("{{note}}", &escape(&note))
        .replace("{{error}}", &error);
    let mut res = (
        status,
        [
            (header::CONTENT_TYPE, LOGIN.content_type),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response();
    page_headers(&mut res);
    res
}

/// HTML text escaping for the few values put into the login page.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn redirect_home(cookie: Option<String>) -> Response {
    let mut res = (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response();
    if let Some(c) = cookie
        && let Ok(v) = HeaderValue::from_str(&c)
    {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

/// The most of a login form read: a token is short.
const LOGIN_BODY_LIMIT: usize = 16 * 1024;

/// `POST /console/login` with the form `token=…`: the right admin token
/// sets the login cookie and goes to `/`; a wrong one gets the login page
/// with an error (403).
async fn login(State(s): State<AppState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, LOGIN_BODY_LIMIT)
        .await
        .unwrap_or_default();
    let req = Request::from_parts(parts, axum::body::Body::empty());
    let given = form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let Some(token) = s.admin_token.clone() else {
        // Loopback needs no login; elsewhere no token can open it.
        if admin_auth::admits(&s, &req) {
            return redirect_home(None);
        }
        return login_page(
            StatusCode::FORBIDDEN,
            Some("no admin_token is configured"),
            &s,
            &req,
        );
    };
    if !crate::auth::same_secret(&given, &token) {
        tracing::warn!(
            peer = ?super::guard::peer(req.extensions()),
            "console: a login with a wrong admin token"
        );
        return login_page(StatusCode::FORBIDDEN, Some("wrong token"), &s, &req);
    }
    let life = COOKIE_LIFE.as_secs();
    let value = admin_auth::mint(&token, crate::clock::unix_now() + life);
    redirect_home(Some(format!(
        "{COOKIE}={value}; Path=/; Max-Age={life}; HttpOnly; SameSite=Strict"
    )))
}

/// `POST /console/logout`: clears the browser's cookie.
async fn logout() -> Response {
    redirect_home(Some(format!(
        "{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"
    )))
}

/// `GET /admin/overview`: who the account is, the backend, uptime, and
/// counters that the page turns into rates between two reads.
async fn overview(State(s): State<AppState>) -> OpenqqJson {
    let contacts = s.session.contacts();
    let backend = s.session.backend_name();
    let scripts = s.scripts.list();
    let sum =
        |read: fn(&ScriptStats) -> u64| -> u64 { scripts.iter().map(|b| read(&b.stats)).sum() };
    let failures = sum(|st| {
        ScriptStats::get(&st.traps)
            + ScriptStats::get(&st.timeouts)
            + ScriptStats::get(&st.wall_clock)
    });
    let now = crate::clock::unix_now();
    let started = crate::clock::unix_secs(s.started);
    OpenqqJson(json!({
        "code": 0,
        "backend": backend,
        "account": {"qq": contacts.user.qq.to_string(), "nick": contacts.user.nick},
        // The simulator has no link to lose; onebot's state is in
        // /metrics, which the page reads too.
        "link": if s.sim.is_some() { "up" } else { "unknown" },
        "login": contacts.login,
        // With a token, the console was opened by logging in: offer a logout.
        "login_required": s.admin_token.is_some(),
        "started_at": started,
        "uptime_secs": now.saturating_sub(started),
        "friends": contacts.friends.len(),
        "groups": contacts.groups.len(),
        "bots": scripts.len(),
        "calls": sum(|st| ScriptStats::get(&st.calls)),
        "decisions": sum(|st| ScriptStats::get(&st.decisions)),
        "failures": failures,
        "webhook": crate::webhook::admin_status(s.webhook.as_ref(), &s.reports),
        "sim": s.sim.as_ref().map(|sim| json!({"sent_last": sim.last_sent_seq()})),
    }))
}

/// `GET /admin/contacts`: friends and groups with their members, by
/// number and display name, for the chat simulator's pickers.
async fn contacts(State(s): State<AppState>) -> OpenqqJson {
    let c = s.session.contacts();
    let friends: Vec<Value> = c
        .friends
        .iter()
        .map(|f| json!({"qq": f.qq.to_string(), "name": f.display_name()}))
        .collect();
    let groups: Vec<Value> = c
        .groups
        .iter()
        .map(|g| {
            let members: Vec<Value> = g
                .members
                .iter()
                .filter(|m| m.qq != c.user.qq)
                .map(|m| {
                    json!({"qq": m.qq.to_string(), "name": m.display_name(), "role": m.role.as_str()})
                })
                .collect();
            json!({"gnumber": g.gnumber.to_string(), "name": g.gname, "members": members})
        })
        .collect();
    OpenqqJson(json!({
        "code": 0,
        "me": {"qq": c.user.qq.to_string(), "nick": c.user.nick},
        "friends": friends,
        "groups": groups,
        "sim": s.sim.is_some(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_are_embedded_with_etags() {
        for a in [&INDEX, &LOGIN, &APP_JS, &APP_CSS] {
            assert!(!a.body.is_empty());
            assert_eq!(a.etag.len(), 18, "{}", *a.etag);
        }
        assert!(LOGIN.body.contains("{{error}}") && LOGIN.body.contains("{{note}}"));
        assert!(INDEX.body.contains("/console/app.js"));
    }

    #[test]
    fn an_etag_match_is_a_304() {
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, APP_JS.etag.parse().unwrap());
        let res = serve(&APP_JS, &h);
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
        let res = serve(&APP_JS, &HeaderMap::new());
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        assert_eq!(res.headers()[header::ETAG], APP_JS.etag.as_str());
    }

    #[test]
    fn escaping_covers_markup() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(escape("测试"), "测试");
    }
}
