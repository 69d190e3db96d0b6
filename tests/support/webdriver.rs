//! A small W3C WebDriver client over reqwest, for the console's browser
//! tests: Debian's `chromedriver` drives headless Chromium.
//!
//! Why not a crate: `fantoccini` (the maintained one) brings its own hyper
//! client stack and cookie handling for a dozen JSON calls we make here;
//! the protocol is plain JSON over HTTP (`https://www.w3.org/TR/webdriver2/`),
//! and reqwest is already in the tests.
//!
//! Every call has a timeout, every wait a deadline, and `with_browser` ends
//! the browser session and kills chromedriver however the test ends.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

/// The key of an element reference in W3C answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long one WebDriver call may take (a page load included).
const CALL: Duration = Duration::from_secs(30);

/// How long `wait_*` wait for the page by default.
pub const WAIT: Duration = Duration::from_secs(15);

/// Where chromedriver is: `OPENQQ_CHROMEDRIVER`, else Debian's path.
fn chromedriver() -> PathBuf {
    std::env::var_os("OPENQQ_CHROMEDRIVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromedriver"))
}

fn chromium() -> PathBuf {
    std::env::var_os("OPENQQ_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// Whether browser tests can run here. Without chromedriver a test is
/// skipped, loudly — except on CI (`CI=true`), where the test setup
/// installs it and its absence is a failure.
pub fn available() -> bool {
    if chromedriver().exists() && chromium().exists() {
        return true;
    }
    let on_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        !on_ci,
        "CI=true but {} or {} is missing: scripts/toolchains.sh browser installs them",
        chromedriver().display(),
        chromium().display()
    );
    eprintln!(
        "\n!!!!!!!! SKIPPED: browser test needs {} and {} (apt-get install chromium chromium-driver fonts-noto-cjk, or scripts/toolchains.sh browser) !!!!!!!!\n",
        chromedriver().display(),
        chromium().display()
    );
    false
}

/// One browser test at a time: Chromium is heavy, CI machines are small.
static ONE_AT_A_TIME: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// Starts chromedriver and a headless Chromium of `width`×`height`, runs
/// `test` with it, then ends the session and chromedriver — also when the
/// test panics (the panic is passed on) or takes longer than `limit`.
pub async fn with_browser<F, Fut>(width: u32, height: u32, limit: Duration, test: F)
where
    F: FnOnce(Browser) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let _turn = ONE_AT_A_TIME.acquire().await.expect("semaphore open");
    let mut driver = Driver::start().await;
    let browser = driver.session(width, height).await;
    let closer = browser.clone();
    let run = tokio::spawn(tokio::time::timeout(limit, test(browser)));
    let outcome = run.await;
    closer.quit().await;
    driver.stop().await;
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(_)) => panic!("the browser test took longer than {limit:?}"),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("the browser test task failed: {e}"),
    }
}

/// A running chromedriver.
struct Driver {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Driver {
    async fn start() -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(chromedriver())
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder()
            .timeout(CALL)
            .build()
            .expect("client");
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Ok(r) = http.get(format!("{base}/status")).send().await
                && let Ok(v) = r.json::<Value>().await
                && v["value"]["ready"] == true
            {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "chromedriver did not get ready on port {port}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Driver { child, base, http }
    }

    async fn session(&self, width: u32, height: u32) -> Browser {
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium().display().to_string(),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--no-first-run",
                    "--hide-scrollbars", "--lang=zh-CN",
                    format!("--window-size={width},{height}"),
                ],
            },
        }}});
        let v = call(
            &self.http,
            reqwest::Method::POST,
            &format!("{}/session", self.base),
            Some(caps),
        )
        .await
        .unwrap_or_else(|e| panic!("new browser session: {e}"));
        let id = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no sessionId in {v}"));
        Browser {
            http: self.http.clone(),
            session: format!("{}/session/{id}", self.base),
        }
    }

    async fn stop(&mut self) {
        let _ = self.child.kill().await;
    }
}

/// One WebDriver call; the answer's `value`, or its error as text.
async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> Result<Value, String> {
    let mut req = http.request(method.clone(), url);
    if let Some(b) = body {
        req = req.json(&b);
    } else if method == reqwest::Method::POST {
        req = req.json(&json!({}));
    }
    let res = req.send().await.map_err(|e| format!("{url}: {e}"))?;
    let status = res.status();
    let v: Value = res.json().await.map_err(|e| format!("{url}: {e}"))?;
    if status.is_success() {
        Ok(v["value"].clone())
    } else {
        Err(format!(
            "{url}: {status} {} {}",
            v["value"]["error"], v["value"]["message"]
        ))
    }
}

/// A browser session.
#[derive(Clone)]
pub struct Browser {
    http: reqwest::Client,
    session: String,
}

/// An element of the page.
#[derive(Clone, Debug)]
pub struct Element(String);

impl Browser {
    async fn post(&self, path: &str, body: Value) -> Result<Value, String> {
        call(
            &self.http,
            reqwest::Method::POST,
            &format!("{}{path}", self.session),
            Some(body),
        )
        .await
    }

    async fn get(&self, path: &str) -> Result<Value, String> {
        call(
            &self.http,
            reqwest::Method::GET,
            &format!("{}{path}", self.session),
            None,
        )
        .await
    }

    async fn quit(&self) {
        let _ = call(&self.http, reqwest::Method::DELETE, &self.session, None).await;
    }

    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({"url": url}))
            .await
            .unwrap_or_else(|e| panic!("navigate to {url}: {e}"));
    }

    pub async fn set_size(&self, width: u32, height: u32) {
        self.post("/window/rect", json!({"width": width, "height": height}))
            .await
            .unwrap_or_else(|e| panic!("resize: {e}"));
    }

    /// The elements matching a CSS selector now.
    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        match self
            .post("/elements", json!({"using": "css selector", "value": css}))
            .await
        {
            Ok(Value::Array(list)) => list
                .iter()
                .filter_map(|e| e[ELEMENT].as_str().map(|s| Element(s.to_string())))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The first element matching `css`, waiting for it up to `WAIT`.
    pub async fn find(&self, css: &str) -> Element {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(e) = self.find_all(css).await.into_iter().next() {
                return e;
            }
            if tokio::time::Instant::now() > deadline {
                let body = self.text_of("body").await;
                panic!("no element {css} within {WAIT:?}; the page says:\n{body}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the text of the first `css` element satisfies `ok`;
    /// returns that text.
    pub async fn wait_text(&self, css: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut last = String::new();
        loop {
            for e in self.find_all(css).await {
                last = self.text(&e).await;
                if ok(&last) {
                    return last;
                }
            }
            if tokio::time::Instant::now() > deadline {
                panic!("{css} never had the text wanted within {WAIT:?}; last: {last:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The visible text of an element (empty if it went away).
    pub async fn text(&self, e: &Element) -> String {
        self.get(&format!("/element/{}/text", e.0))
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// The text of the first element matching `css` now, or "".
    pub async fn text_of(&self, css: &str) -> String {
        match self.find_all(css).await.first() {
            Some(e) => self.text(e).await,
            None => String::new(),
        }
    }

    pub async fn click(&self, e: &Element) {
        self.post(&format!("/element/{}/click", e.0), json!({}))
            .await
            .unwrap_or_else(|err| panic!("click: {err}"));
    }

    pub async fn type_into(&self, e: &Element, text: &str) {
        self.post(&format!("/element/{}/value", e.0), json!({"text": text}))
            .await
            .unwrap_or_else(|err| panic!("type: {err}"));
    }

    /// Picks `value` in the `<select>` matching `css`, as a user would
    /// (a `change` event follows).
    pub async fn select(&self, css: &str, value: &str) {
        self.find(&format!("{css} option[value=\"{value}\"]")).await;
        self.script(
            "const s = document.querySelector(arguments[0]); s.value = arguments[1]; s.dispatchEvent(new Event('change'));",
            json!([css, value]),
        )
        .await;
    }

    /// Runs a script in the page; its return value.
    pub async fn script(&self, script: &str, args: Value) -> Value {
        self.post("/execute/sync", json!({"script": script, "args": args}))
            .await
            .unwrap_or_else(|e| panic!("script: {e}"))
    }

    /// Saves a PNG of the window to `path` (directories made as needed).
    pub async fn screenshot(&self, path: &Path) {
        let v = self
            .get("/screenshot")
            .await
            .unwrap_or_else(|e| panic!("screenshot: {e}"));
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or(""))
            .expect("the screenshot is base64");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot directory");
        }
        std::fs::write(path, png).expect("write the screenshot");
    }
}
