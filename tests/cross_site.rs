//! The cross-site guard (issue 13, point 5): what a browser sends on behalf
//! of another site does nothing — no send, mute, stop, relogin, `/sim/*` or
//! `/admin/*` — and reads nothing; the same requests from a program (no
//! `Origin`, no `Sec-Fetch-*`) work as before; a listed origin, or `"*"`,
//! opens the API to pages again; a DNS-rebinding `Host` is refused.

use std::time::Duration;

use futures_util::FutureExt;
use openqq::config::Config;
use openqq::render::Dialect;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{self, TestGateway};

const EVIL: &str = "https://evil.example";
const DASH: &str = "https://dash.example";

/// A browser's headers for a request a page at `origin` makes: a `fetch()`
/// (`cors`) or a form, link or `<img>` (`no-cors`, Origin only on POST).
fn from_page(
    req: reqwest::RequestBuilder,
    origin: &str,
    mode: &str,
    post: bool,
) -> reqwest::RequestBuilder {
    let req = req
        .header("Sec-Fetch-Site", "cross-site")
        .header("Sec-Fetch-Mode", mode)
        .header("Referer", format!("{origin}/page.html"));
    if post || mode == "cors" {
        req.header("Origin", origin)
    } else {
        req
    }
}

/// Asserts the answer is the guard's refusal, in v1's shape for
/// `/openqq/*`, and returns its reason.
async fn refused_v1(res: reqwest::Response, what: &str) -> String {
    assert_eq!(res.status(), 403, "{what}");
    assert!(
        res.headers().get("access-control-allow-origin").is_none(),
        "{what}: no CORS on a refusal"
    );
    let why = res.headers()["x-openqq-refused"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert_eq!(res.text().await.expect("body"), "auth failure", "{what}");
    why
}

/// The friends' per-login ids: a relogin makes new ones.
async fn friend_ids(gw: &TestGateway) -> Vec<Value> {
    match gw.get("/openqq/get_friend_info").await {
        Value::Array(v) => v.into_iter().map(|f| f["id"].clone()).collect(),
        other => panic!("get_friend_info answered {other}"),
    }
}

fn config(dialect: Dialect, origins: &[&str]) -> Config {
    let mut c = support::test_config();
    c.api_version = dialect;
    c.http.allowed_origins = origins.iter().map(|s| s.to_string()).collect();
    c
}

/// Injects a friend message through `/sim/receive` as a program.
async fn receive(gw: &TestGateway, content: &str) -> u64 {
    let id = gw
        .receive(json!({"type": "message", "sender_qq": 123456, "content": content}))
        .await;
    id.parse().expect("numeric msg_id")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_page_sends_mutes_and_relogs_nothing_but_a_program_does() {
    let gw = TestGateway::with_config(config(Dialect::V1, &[])).await;
    let acts = [
        "/openqq/send_message?qq=123456&content=pwned",
        "/openqq/send_group_message?gnumber=552603&content=pwned",
        "/openqq/shutup_group_member?gnumber=552603&member_qq=888888&time=600",
        "/openqq/kick_group_member?gnumber=552603&member_qq=999999",
    ];
    let seq = gw.last_seq().await;
    let ids = friend_ids(&gw).await;
    let first = receive(&gw, "before").await;
    for post in [false, true] {
        for mode in ["no-cors", "cors"] {
            for path in acts {
                let what = format!("{mode} post={post} {path}");
                let res = from_page(gw.request(path, post), EVIL, mode, post)
                    .send()
                    .await
                    .expect("request");
                let why = refused_v1(res, &what).await;
                assert!(why.contains("cross-site"), "{what}: {why}");
            }
            let res = from_page(gw.request("/openqq/relogin", post), EVIL, mode, post)
                .send()
                .await
                .expect("request");
            refused_v1(res, "relogin").await;
            // The simulator's and the admin's routes answer POST only.
            for path in ["/sim/receive", "/sim/relogin"] {
                let res = from_page(gw.http.post(gw.url(path)), EVIL, mode, true)
                    .json(&json!({"type": "message", "sender_qq": 123456, "content": "forged"}))
                    .send()
                    .await
                    .expect("request");
                assert_eq!(res.status(), 403, "{path}");
                assert!(res.headers().contains_key("x-openqq-refused"), "{path}");
                let v: Value = res.json().await.expect("JSON");
                assert_eq!(v["code"], 403, "{path}: {v}");
            }
            let res = from_page(
                gw.http.post(gw.url("/admin/scripts/reload")),
                EVIL,
                mode,
                true,
            )
            .send()
            .await
            .expect("request");
            assert_eq!(res.status(), 403);
            assert!(res.headers().contains_key("x-openqq-refused"));
            assert_eq!(res.text().await.expect("body"), "admin: forbidden");
        }
    }
    // Nothing was sent, muted or kicked; no relogin (same ids); no message
    // was injected (the next one is numbered right after the last).
    assert_eq!(gw.sent(seq).await, Vec::<Value>::new());
    assert_eq!(friend_ids(&gw).await, ids);
    assert_eq!(receive(&gw, "after").await, first + 1);

    // The same requests from a program: sent, muted, kicked, relogged.
    for path in acts {
        let v = gw.get(path).await;
        assert_eq!(v["code"], 0, "{path}: {v}");
    }
    let done = gw.sent(seq).await;
    let actions: Vec<&str> = done.iter().filter_map(|r| r["action"].as_str()).collect();
    assert_eq!(actions.len(), 4, "{done:#?}");
    assert!(
        done.iter()
            .any(|r| r["action"] == "shutup" && r["time"] == 600),
        "{done:#?}"
    );
    assert_eq!(gw.get("/openqq/relogin").await["code"], 0);
    assert_ne!(friend_ids(&gw).await, ids, "relogin made new ids");
    let res = gw
        .http
        .post(gw.url("/admin/scripts/reload"))
        .send()
        .await
        .expect("reload");
    assert_eq!(res.status(), 200, "the admin route answers a program");
    // A typed URL (`Sec-Fetch-Site: none`) and the gateway's own page
    // (`same-origin`) are the operator's own.
    for site in ["none", "same-origin"] {
        let v: Value = gw
            .http
            .get(gw.url("/openqq/send_message?qq=123456&content=mine"))
            .header("Sec-Fetch-Site", site)
            .header("Sec-Fetch-Mode", "navigate")
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("JSON");
        assert_eq!(v["code"], 0, "{site}: {v}");
    }
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_page_cannot_stop_the_gateway_or_drain_its_events() {
    let gw = TestGateway::with_config(config(Dialect::V2, &[])).await;
    let seq = gw.last_seq().await;
    // A report for `check_event` to hold (a refused poll would take it, or
    // wait for it and take it).
    receive(&gw, "for the operator").await;
    for post in [false, true] {
        for mode in ["no-cors", "cors"] {
            for path in [
                "/openqq/stop_client",
                "/openqq/check_event",
                "/openqq/send_friend_message?uid=123456&content=pwned",
                "/openqq/shutup_group_member?group_uid=552603&member_uid=888888&time=10",
            ] {
                let res = from_page(gw.request(path, post), EVIL, mode, post)
                    .send()
                    .await
                    .expect("request");
                assert_eq!(res.status(), 200, "v2 refuses as an auth failure");
                assert!(res.headers().contains_key("x-openqq-refused"));
                assert!(res.headers().get("access-control-allow-origin").is_none());
                let v: Value = res.json().await.expect("JSON");
                assert_eq!(v, json!({"code": -6, "status": "auth failure"}), "{path}");
            }
        }
    }
    // `stop_client` sets the stop signal before it answers: it is unset.
    assert!(
        gw.gateway.stopping().now_or_never().is_none(),
        "a refused stop_client stopped the gateway"
    );
    assert_eq!(gw.sent(seq).await, Vec::<Value>::new());
    // The report is still there for the operator's `check_event`.
    let events = gw.get("/openqq/check_event").await;
    assert!(
        events
            .as_array()
            .is_some_and(|e| e.iter().any(|r| r["content"] == "for the operator")),
        "{events}"
    );
    let v = gw.get("/openqq/stop_client").await;
    assert_eq!(v["code"], 0, "{v}");
    assert!(
        gw.gateway.stopping().now_or_never().is_some(),
        "a program's stop_client stops"
    );
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_reads_get_no_cors_and_no_jsonp_listed_origins_do() {
    let gw = TestGateway::with_config(config(Dialect::V2, &[DASH])).await;
    // fetch() from a foreign page: refused, no CORS header, so not readable.
    let res = from_page(
        gw.http.get(gw.url("/openqq/get_friend_info")),
        EVIL,
        "cors",
        false,
    )
    .send()
    .await
    .expect("request");
    assert!(res.headers().get("access-control-allow-origin").is_none());
    let v: Value = res.json().await.expect("JSON");
    assert_eq!(v["code"], -6, "{v}");
    // Its preflight fails the same way.
    let res = gw
        .http
        .request(Method::OPTIONS, gw.url("/openqq/send_friend_message"))
        .header("Origin", EVIL)
        .header("Sec-Fetch-Site", "cross-site")
        .header("Sec-Fetch-Mode", "cors")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .expect("OPTIONS");
    assert!(res.headers().get("access-control-allow-origin").is_none());
    // JSONP through a <script> tag: no Origin, only the site and Referer.
    let jsonp = "/openqq/get_friend_info?datatype=jsonp&callback=steal";
    let res = gw
        .http
        .get(gw.url(jsonp))
        .header("Sec-Fetch-Site", "cross-site")
        .header("Sec-Fetch-Mode", "no-cors")
        .header("Sec-Fetch-Dest", "script")
        .header("Referer", format!("{EVIL}/"))
        .send()
        .await
        .expect("request");
    let body = res.text().await.expect("body");
    assert!(
        !body.starts_with("steal("),
        "JSONP served cross-site: {body}"
    );
    // An older browser (no Fetch Metadata): the Referer says where from.
    let res = gw
        .http
        .get(gw.url(jsonp))
        .header("Referer", format!("{EVIL}/x"))
        .send()
        .await
        .expect("request");
    assert!(!res.text().await.expect("body").starts_with("steal("));
    // A program still gets JSONP, and reads without an Origin keep `*`.
    let res = gw.http.get(gw.url(jsonp)).send().await.expect("request");
    assert_eq!(res.headers()["access-control-allow-origin"], "*");
    assert!(res.text().await.expect("body").starts_with("steal(["));

    // The listed origin: read, preflight and act, answered by name.
    let res = from_page(
        gw.http.get(gw.url("/openqq/get_friend_info")),
        DASH,
        "cors",
        false,
    )
    .send()
    .await
    .expect("request");
    assert_eq!(res.headers()["access-control-allow-origin"], DASH);
    assert!(res.json::<Value>().await.expect("JSON").is_array());
    let res = gw
        .http
        .request(Method::OPTIONS, gw.url("/openqq/send_friend_message"))
        .header("Origin", DASH)
        .header("Sec-Fetch-Site", "cross-site")
        .header("Sec-Fetch-Mode", "cors")
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "content-type")
        .send()
        .await
        .expect("OPTIONS");
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(res.headers()["access-control-allow-origin"], DASH);
    let seq = gw.last_seq().await;
    let res = from_page(
        gw.request("/openqq/send_friend_message?uid=123456&content=dash", true),
        DASH,
        "cors",
        true,
    )
    .send()
    .await
    .expect("request");
    assert_eq!(res.headers()["access-control-allow-origin"], DASH);
    assert_eq!(res.json::<Value>().await.expect("JSON")["code"], 0);
    assert_eq!(gw.sent(seq).await.len(), 1);
    let res = from_page(gw.http.get(gw.url(jsonp)), DASH, "no-cors", false)
        .send()
        .await
        .expect("request");
    assert!(
        res.text().await.expect("body").starts_with("steal(["),
        "JSONP for a listed origin (known by its Referer)"
    );
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_star_restores_the_originals_openness() {
    let gw = TestGateway::with_config(config(Dialect::V1, &["*"])).await;
    let seq = gw.last_seq().await;
    for mode in ["no-cors", "cors"] {
        let res = from_page(
            gw.request("/openqq/send_message?qq=123456&content=open", true),
            EVIL,
            mode,
            true,
        )
        .send()
        .await
        .expect("request");
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["access-control-allow-origin"], "*");
        assert_eq!(res.json::<Value>().await.expect("JSON")["code"], 0);
    }
    // A site that does not say which (no Origin, no Referer) too.
    let res = gw
        .http
        .get(gw.url("/openqq/get_user_info"))
        .header("Sec-Fetch-Site", "cross-site")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
    assert_eq!(gw.sent(seq).await.len(), 2);
    gw.gateway.stop().await;
}

/// One raw HTTP/1.1 request with the `Host` given (a client library would
/// write its own): the status line and the body.
async fn raw_get(gw: &TestGateway, path: &str, host: &str) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(gw.gateway.addr)
        .await
        .expect("connect");
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        stream.write_all(req.as_bytes()).await?;
        stream.read_to_end(&mut answer).await
    })
    .await
    .expect("answered in time")
    .expect("read");
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.lines().next().unwrap_or_default().to_string();
    (status, body.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebinding_host_is_refused_and_ours_are_not() {
    let mut c = config(Dialect::V1, &[]);
    c.http.allowed_hosts = vec!["qq.lan".into()];
    // Loopback is always allowed, whatever the list.
    c.http.allow_from = vec!["192.0.2.0/24".into()];
    let gw = TestGateway::with_config(c).await;
    let seq = gw.last_seq().await;
    let port = gw.gateway.addr.port();
    let send = "/openqq/send_message?qq=123456&content=rebound";
    for host in [format!("evil.example:{port}"), "evil.example".into()] {
        let (status, body) = raw_get(&gw, send, &host).await;
        assert!(status.contains(" 403 "), "{host}: {status}");
        assert_eq!(body, "auth failure", "{host}");
        let (status, _) = raw_get(&gw, "/openqq/get_friend_info", &host).await;
        assert!(status.contains(" 403 "), "{host}: read: {status}");
    }
    assert_eq!(gw.sent(seq).await, Vec::<Value>::new());
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        "127.0.0.1".into(),
        format!("qq.lan:{port}"),
    ] {
        let (status, body) = raw_get(&gw, send, &host).await;
        assert!(status.contains(" 200 "), "{host}: {status}");
        assert!(body.contains("发送成功"), "{host}: {body}");
    }
    assert_eq!(gw.sent(seq).await.len(), 4);
    gw.gateway.stop().await;
}

#[test]
fn bad_http_settings_refuse_to_start_naming_the_key() {
    let text = "[http]\nallowed_origins = [\"evil.example\"]\n";
    let c: Config = toml::from_str(text).expect("parses");
    let e = format!("{:#}", c.check().expect_err("refused"));
    assert!(e.contains("allowed_origins"), "{e}");
    let c: Config = toml::from_str("[http]\nallow_from = [\"10.0.0.0/33\"]\n").expect("parses");
    let e = format!("{:#}", c.check().expect_err("refused"));
    assert!(e.contains("allow_from"), "{e}");
}
