//! The console at `/`, in a real browser: headless Chromium driven through
//! chromedriver (WebDriver) against a real gateway on the simulator with
//! the real example bots. Each test saves a screenshot of its page to
//! `docs/screenshots/` (committed: the README shows them).
//!
//! Without chromedriver the browser tests are skipped with a loud message,
//! unless `CI=true` (then they fail). The HTTP-only test always runs.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use openqq::config::Config;
use serde_json::json;

use crate::support::receiver::Receiver;
use crate::support::webdriver::{self, Browser, with_browser};
use crate::support::{self, DataDir, TestGateway, entry};

/// The longest a browser test may run, start to end.
const LIMIT: Duration = Duration::from_secs(120);

/// A desktop window, and a phone's (iPhone X/11 Pro width).
const DESKTOP: (u32, u32) = (1280, 860);
const PHONE: (u32, u32) = (375, 812);

const TOKEN: &str = "console-s3cret";

fn screenshot(name: &str) -> PathBuf {
    support::workspace().join(format!("docs/screenshots/{name}.png"))
}

/// keyword-reply with a Chinese rule and a banned word, as the README's
/// example config has it.
fn keyword_reply() -> openqq::config::ScriptEntry {
    entry(
        "keyword-reply",
        "reply = { \"早上好\" = \"早！今天也要加油\", ping = \"pong\" }\nbanned = [\"广告\"]\nshutup_seconds = 120\n",
    )
}

async fn gateway(name: &str, tweak: impl FnOnce(&mut Config)) -> (Arc<TestGateway>, DataDir) {
    let data = DataDir::fresh(name);
    let mut config = support::config_with_store(&data, vec![keyword_reply()]);
    tweak(&mut config);
    (Arc::new(TestGateway::with_config(config).await), data)
}

/// Opens the console on `page` and waits for the overview's account (every
/// page loads behind the same script).
async fn open(b: &Browser, gw: &TestGateway, page: &str) {
    b.goto(&gw.url(&format!("/#/{page}"))).await;
    b.find(&format!("a[data-page=\"{page}\"].active")).await;
}

/// Picks the group PERL学习交流 and its member 路人甲 (888888) on the chat
/// page; the message input.
async fn as_lu_ren_jia(b: &Browser) -> webdriver::Element {
    b.select("#chat-kind", "group").await;
    b.select("#chat-target", "552603").await;
    b.select("#chat-member", "888888").await;
    b.find("#chat-input").await
}

/// Types `text` into the chat page's input and sends it.
async fn say(b: &Browser, input: &webdriver::Element, text: &str) {
    b.type_into(input, text).await;
    b.click(&b.find("#chat-send").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overview_shows_the_account_and_backend() {
    if !webdriver::available() {
        return;
    }
    let (gw, _data) = gateway("console-overview", |_| {}).await;
    let g = gw.clone();
    with_browser(DESKTOP.0, DESKTOP.1, LIMIT, move |b| async move {
        open(&b, &g, "overview").await;
        b.wait_text("#overview [data-field=\"account\"]", |t| {
            t.contains("小灰") && t.contains("1234567")
        })
        .await;
        assert_eq!(b.text_of("#overview [data-field=\"backend\"]").await, "sim");
        b.wait_text("#overview [data-field=\"link\"]", |t| t == "up")
            .await;
        b.wait_text("#overview [data-field=\"uptime\"]", |t| t.ends_with('s'))
            .await;
        b.wait_text("#overview [data-field=\"bots\"]", |t| t == "1")
            .await;
        // The rates need two reads, two seconds apart.
        b.wait_text("#overview [data-field=\"decision-rate\"]", |t| t != "…")
            .await;
        b.screenshot(&screenshot("overview")).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_simulator_shows_the_bots_reply_and_mute() {
    if !webdriver::available() {
        return;
    }
    let (gw, _data) = gateway("console-chat", |_| {}).await;
    let g = gw.clone();
    with_browser(DESKTOP.0, DESKTOP.1, LIMIT, move |b| async move {
        open(&b, &g, "chat").await;
        let input = as_lu_ren_jia(&b).await;
        say(&b, &input, "大家早上好").await;
        b.wait_text("#chat-log .msg.in .text", |t| t == "大家早上好")
            .await;
        // The real path: the sim received it, keyword-reply answered, the
        // sim recorded the send, the page read it back.
        b.wait_text("#chat-log .msg.out .text", |t| t == "早！今天也要加油")
            .await;
        say(&b, &input, "加群看广告").await;
        b.wait_text("#chat-log .msg.mute .text", |t| {
            t.contains("路人甲") && t.contains("2m")
        })
        .await;
        b.wait_text("#chat-log .msg.out .text", |t| t == "请文明发言")
            .await;
        // A friend chat keeps its own log.
        b.select("#chat-kind", "friend").await;
        b.select("#chat-target", "123456").await;
        say(&b, &input, "ping").await;
        b.wait_text("#chat-log .msg.out .text", |t| t == "pong").await;
        say(&b, &input, "你好，机器人").await;
        b.wait_text("#chat-log .msg.in .text", |t| t == "你好，机器人")
            .await;
        b.select("#chat-kind", "group").await;
        b.wait_text("#chat-log .msg.out .text", |t| t == "早！今天也要加油")
            .await;
        b.screenshot(&screenshot("chat")).await;
        b.set_size(PHONE.0, PHONE.1).await;
        // Bottom tabs at phone width: the nav sits below the chat.
        let below = b
            .script(
                "return document.querySelector('#nav').getBoundingClientRect().top > document.querySelector('#chat-form').getBoundingClientRect().top",
                json!([]),
            )
            .await;
        assert_eq!(below, json!(true), "the nav is at the bottom on a phone");
        let fits = b
            .script(
                "return document.documentElement.scrollWidth <= window.innerWidth",
                json!([]),
            )
            .await;
        assert_eq!(fits, json!(true), "nothing wider than the phone");
        b.screenshot(&screenshot("chat-phone")).await;
    })
    .await;
}

/// On `onebot` the chat page runs dry runs: keyword-reply's reply and mute
/// show as the chat, each labelled "dry run — nothing sent", and the
/// OneBot peer (standing in for QQ) is asked to send nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_page_on_onebot_shows_a_dry_run() {
    use crate::support::onebot_peer::{Peer, PeerWorld, Quirks};
    if !webdriver::available() {
        return;
    }
    let peer = Arc::new(Peer::serve(PeerWorld::standard(), Quirks::napcat(), "ob-s3cret").await);
    let url = peer.url.clone();
    let (gw, _data) = gateway("console-dry-run", move |c| {
        c.backend.kind = openqq::config::BackendKind::Onebot;
        c.backend.url = Some(url);
        c.backend.access_token = "ob-s3cret".into();
        c.backend.refresh_secs = 0;
    })
    .await;
    peer.connected(1).await;
    let (g, p) = (gw.clone(), peer.clone());
    with_browser(DESKTOP.0, DESKTOP.1, LIMIT, move |b| async move {
        open(&b, &g, "chat").await;
        b.wait_text("#chat-dry", |t| t.contains("nothing sent"))
            .await;
        let input = as_lu_ren_jia(&b).await;
        say(&b, &input, "大家早上好").await;
        b.wait_text("#chat-log .msg.out.dry .text", |t| t == "早！今天也要加油")
            .await;
        b.wait_text("#chat-log .msg.out.dry .dry-label", |t| {
            t.to_lowercase() == "dry run — nothing sent"
        })
        .await;
        b.wait_text("#chat-log .msg.in .decisions", |t| {
            t.contains("keyword-reply: reply")
        })
        .await;
        say(&b, &input, "加群看广告").await;
        b.wait_text("#chat-log .msg.mute.dry .text", |t| {
            t.contains("路人甲") && t.contains("2m")
        })
        .await;
        b.screenshot(&screenshot("chat-dry-run")).await;
        // Each answer came back with its dry run: nothing is still on its
        // way to the peer.
        assert!(p.calls("send_group_msg").is_empty(), "{:?}", p.all_calls());
        assert!(p.calls("set_group_ban").is_empty(), "{:?}", p.all_calls());
        // The trace page marks dry runs.
        open(&b, &g, "trace").await;
        b.wait_text("#trace-list .trace-row .badge", |t| t == "dry run")
            .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_page_shows_counters_and_reloads() {
    if !webdriver::available() {
        return;
    }
    let (gw, _data) = gateway("console-bots", |_| {}).await;
    gw.receive(json!({"type": "message", "sender_qq": 123456, "content": "ping"}))
        .await;
    gw.sent_until(0, Duration::from_secs(10), |s| !s.is_empty())
        .await;
    let g = gw.clone();
    with_browser(DESKTOP.0, DESKTOP.1, LIMIT, move |b| async move {
        open(&b, &g, "bots").await;
        let card = ".bot[data-bot=\"keyword-reply\"]";
        b.wait_text(&format!("{card} .stats"), |t| {
            t.contains("calls") && t.contains("p99")
        })
        .await;
        b.wait_text(&format!("{card} .world"), |t| t.contains("0."))
            .await;
        b.find(&format!("{card} .bot-toggle")).await;
        b.click(&b.find("#reload-all").await).await;
        b.wait_text("#reload-result", |t| {
            t.starts_with("Reloaded") && t.contains("unchanged 1")
        })
        .await;
        b.screenshot(&screenshot("bots")).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_page_disables_and_enables_a_bot() {
    if !webdriver::available() {
        return;
    }
    let (gw, _data) = gateway("console-toggle", |_| {}).await;
    let g = gw.clone();
    with_browser(DESKTOP.0, DESKTOP.1, LIMIT, move |b| async move {
        open(&b, &g, "bots").await;
        let card = ".bot[data-bot=\"keyword-reply\"]";
        b.wait_text(&format!("{card} .bot-toggle"), |t| t == "Disable")
            .await;
        b.click(&b.find(&format!("{card} .bot-toggle")).await).await;
        b.wait_text(&format!("{card} .state"), |t| t == "disabled")
            .await;
        b.wait_text(&format!("{card} .bot-toggle"), |t| t == "Enable")
            .await;
        let listed = g.admin_scripts().await;
        assert_eq!(support::script(&listed, "keyword-reply")["enabled"], false);
        b.click(&b.find(&format!("{card} .bot-toggle")).await).await;
        b.wait_text(&format!("{card} .state"), |t| t == "enabled")
            .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_page_says_why_a_message_got_no_reply() {
    if !webdriver::available() {
        return;
    }
    let mut rx = Receiver::start().await;
    let url = rx.url.clone();
    let (gw, _data) = gateway("console-trace", move |c| c.post_api = Some(url)).await;
    let g = gw.clone();
    with_browser(DESKTOP.0, DESKTOP.1, LIMIT, move |b| async move {
        open(&b, &g, "trace").await;
        // keyword-reply passes it; the webhook answers 200 without a reply.
        let id = g
            .receive(json!({"type": "group_message", "sender_qq": 888888, "gnumber": 552603, "content": "今天天气怎么样"}))
            .await;
        let row = b.find("#trace-list .trace-row").await;
        b.wait_text("#trace-list .trace-row", |t| t.contains("今天天气怎么样"))
            .await;
        b.click(&row).await;
        let why = b
            .wait_text("#trace-detail .why", |t| {
                t.contains("keyword-reply") && t.contains("webhook")
            })
            .await;
        assert!(why.starts_with("webhook") || why.contains("passed"), "{why}");
        b.screenshot(&screenshot("trace")).await;
        // The chat page links a message without a reply to its trace.
        b.goto(&g.url(&format!("/#/trace/{id}"))).await;
        b.wait_text("#trace-detail .why", |t| t.contains("keyword-reply"))
            .await;
    })
    .await;
    rx.drain();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_page_shows_recent_lines_live() {
    if !webdriver::available() {
        return;
    }
    // The log ring is filled by the process's subscriber, installed here.
    support::logs::capture();
    let (gw, _data) = gateway("console-logs", |_| {}).await;
    let g = gw.clone();
    with_browser(DESKTOP.0, DESKTOP.1, LIMIT, move |b| async move {
        open(&b, &g, "logs").await;
        b.find("#log-lines .log-line").await;
        // A reload logs a line, which the stream brings.
        g.reload_scripts().await;
        b.wait_text("#log-lines .log-line:last-child", |t| !t.is_empty())
            .await;
        b.screenshot(&screenshot("logs")).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_with_the_admin_token_opens_the_console() {
    if !webdriver::available() {
        return;
    }
    let (gw, _data) = gateway("console-login", |c| c.admin_token = Some(TOKEN.into())).await;
    let g = gw.clone();
    with_browser(DESKTOP.0, DESKTOP.1, LIMIT, move |b| async move {
        // With a token set, loopback logs in too (the /admin rule).
        b.goto(&g.url("/")).await;
        let token = b.find("#login-token").await;
        b.type_into(&token, "wrong").await;
        b.click(&b.find("#login-submit").await).await;
        b.wait_text("#login-error", |t| t.contains("wrong token"))
            .await;
        b.screenshot(&screenshot("login")).await;
        let token = b.find("#login-token").await;
        b.type_into(&token, TOKEN).await;
        b.click(&b.find("#login-submit").await).await;
        b.wait_text("#overview [data-field=\"account\"]", |t| t.contains("小灰"))
            .await;
        // The cookie is HttpOnly: the page's script cannot read it.
        let cookies = b.script("return document.cookie", json!([])).await;
        assert_eq!(cookies, json!(""));
        // Logging out brings the login page back.
        b.click(&b.find("#logout-form button").await).await;
        b.find("#login-token").await;
    })
    .await;
}

/// The console's routes over plain HTTP: content types, validators, the
/// login cookie and what it opens. No browser needed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_routes_serve_assets_and_the_login_cookie() {
    let (open, _d1) = gateway("console-http-open", |_| {}).await;
    let res = open.http.get(open.url("/")).send().await.expect("GET /");
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
    assert!(
        res.headers()["content-security-policy"]
            .to_str()
            .unwrap_or("")
            .contains("frame-ancestors 'none'")
    );
    assert!(res.text().await.expect("body").contains("/console/app.js"));
    for (file, ty) in [
        ("app.js", "text/javascript; charset=utf-8"),
        ("app.css", "text/css; charset=utf-8"),
    ] {
        let res = open
            .http
            .get(open.url(&format!("/console/{file}")))
            .send()
            .await
            .expect("asset");
        assert_eq!(res.status(), 200, "{file}");
        assert_eq!(res.headers()["content-type"], ty);
        assert_eq!(res.headers()["cache-control"], "no-cache");
        let etag = res.headers()["etag"].clone();
        let again = open
            .http
            .get(open.url(&format!("/console/{file}")))
            .header("if-none-match", etag)
            .send()
            .await
            .expect("asset");
        assert_eq!(again.status(), 304, "{file}");
    }
    let missing = open.http.get(open.url("/console/nope.js")).send().await;
    assert_eq!(missing.expect("asset").status(), 404);
    // Other methods are unknown paths, answered as the API answers them.
    for (method, path) in [
        (reqwest::Method::POST, "/"),
        (reqwest::Method::GET, "/console/login"),
        (reqwest::Method::DELETE, "/console/app.js"),
    ] {
        let res = open
            .http
            .request(method.clone(), open.url(path))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 403, "{method} {path}");
        assert_eq!(res.text().await.expect("body"), "request error");
    }
    let overview = open.get("/admin/overview").await;
    assert_eq!(overview["account"]["nick"], "小灰");
    assert_eq!(overview["login_required"], false);
    let contacts = open.get("/admin/contacts").await;
    assert_eq!(contacts["groups"][0]["gnumber"], "552603");
    // Another site's page cannot post the login form.
    let res = open
        .http
        .post(open.url("/console/login"))
        .header("sec-fetch-site", "cross-site")
        .header("origin", "https://evil.example")
        .form(&[("token", "x")])
        .send()
        .await
        .expect("login");
    assert_eq!(res.status(), 403);

    let (locked, _d2) = gateway("console-http-token", |c| c.admin_token = Some(TOKEN.into())).await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let page = no_redirects
        .get(locked.url("/"))
        .send()
        .await
        .expect("GET /");
    assert_eq!(page.status(), 200);
    assert!(page.text().await.expect("body").contains("login-token"));
    let admin = no_redirects.get(locked.url("/admin/overview")).send().await;
    assert_eq!(admin.expect("admin").status(), 403);
    let wrong = no_redirects
        .post(locked.url("/console/login"))
        .form(&[("token", "nope")])
        .send()
        .await
        .expect("login");
    assert_eq!(wrong.status(), 403);
    assert!(wrong.text().await.expect("body").contains("login-error"));
    let right = no_redirects
        .post(locked.url("/console/login"))
        .form(&[("token", TOKEN)])
        .send()
        .await
        .expect("login");
    assert_eq!(right.status(), 303);
    assert_eq!(right.headers()["location"], "/");
    let set = right.headers()["set-cookie"]
        .to_str()
        .expect("cookie text")
        .to_string();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(flag), "{set}");
    }
    assert!(!set.contains(TOKEN), "the cookie is not the token: {set}");
    let cookie = set.split(';').next().expect("name=value").to_string();
    for path in ["/admin/overview", "/admin/scripts", "/metrics", "/"] {
        let res = no_redirects
            .get(locked.url(path))
            .header("cookie", &cookie)
            .send()
            .await
            .expect("with cookie");
        assert_eq!(res.status(), 200, "{path}");
    }
    let index = no_redirects
        .get(locked.url("/"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("index");
    assert!(index.text().await.expect("body").contains("page-overview"));
    // A cookie for another token (or tampered) opens nothing.
    let forged = cookie.replace("v1.", "v1.9");
    let res = no_redirects
        .get(locked.url("/admin/overview"))
        .header("cookie", forged)
        .send()
        .await
        .expect("forged");
    assert_eq!(res.status(), 403);
    // Bearer still works as before.
    let res = no_redirects
        .get(locked.url("/admin/overview"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("bearer");
    assert_eq!(res.status(), 200);
    let out = no_redirects
        .post(locked.url("/console/logout"))
        .send()
        .await
        .expect("logout");
    assert_eq!(out.status(), 303);
    assert!(
        out.headers()["set-cookie"]
            .to_str()
            .unwrap_or("")
            .contains("Max-Age=0")
    );
}
