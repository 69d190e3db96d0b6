//! Shared helpers for the end-to-end tests: start a real gateway on
//! 127.0.0.1, speak HTTP to it, build the example bots once.

pub mod api;
pub mod logs;
pub mod nats;
pub mod onebot_peer;
pub mod receiver;
pub mod sse;
pub mod wait;
pub mod webdriver;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use openqq::Gateway;
use openqq::config::{Config, ScriptEntry};
use serde_json::{Value, json};

/// A config for tests: an ephemeral loopback port, the embedded world, and
/// a data directory of this test process's own (gateways in one process
/// share its database; tests of stored data use `fresh_data_dir`).
pub fn test_config() -> Config {
    Config {
        listen: "127.0.0.1:0".parse().expect("literal address"),
        data_dir: Some(std::env::temp_dir().join(format!("openqq-e2e-{}", std::process::id()))),
        ..Config::default()
    }
}

/// `test_config` running `scripts` over a store of its own (`data`),
/// with the compiled bots cached across tests.
pub fn config_with_store(data: &DataDir, scripts: Vec<ScriptEntry>) -> Config {
    Config {
        scripts,
        data_dir: Some(data.0.clone()),
        cache_dir: Some(workspace().join("target/test-cwasm-cache")),
        ..test_config()
    }
}

/// An empty data directory for one test, removed when dropped.
pub struct DataDir(pub PathBuf);

impl DataDir {
    pub fn fresh(name: &str) -> DataDir {
        let p = std::env::temp_dir().join(format!("openqq-data-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        DataDir(p)
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A `[[scripts]]` entry for the built bot `name` (see `bot`) with the
/// config table `config` (TOML) and the default limits.
pub fn entry(name: &str, config: &str) -> ScriptEntry {
    ScriptEntry {
        path: bot(name),
        name: None,
        config: toml::from_str(config).expect("test config is TOML"),
        timeout_ms: None,
        wall_ms: None,
        memory_mb: None,
        instances: None,
        kv_max_total_bytes: None,
        ..Default::default()
    }
}

/// A running gateway plus an HTTP client pointed at it.
pub struct TestGateway {
    pub gateway: Gateway,
    pub base: String,
    pub http: reqwest::Client,
}

impl TestGateway {
    pub async fn start() -> TestGateway {
        Self::with_config(test_config()).await
    }

    pub async fn with_config(config: Config) -> TestGateway {
        let gateway = Gateway::start(config).await.expect("gateway starts");
        let base = format!("http://{}", gateway.addr);
        TestGateway {
            gateway,
            base,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// GET `path` (with its query) and parse the JSON answer.
    pub async fn get(&self, path: &str) -> Value {
        let res = self.http.get(self.url(path)).send().await.expect("request");
        assert_eq!(res.status(), 200, "GET {path}");
        res.json().await.expect("JSON answer")
    }

    /// A GET of `path`, or a POST of it as a form (its query as the body),
    /// to send as it is or with more headers.
    pub fn request(&self, path: &str, post: bool) -> reqwest::RequestBuilder {
        if post {
            let (p, q) = path.split_once('?').unwrap_or((path, ""));
            self.http
                .post(self.url(p))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(q.to_string())
        } else {
            self.http.get(self.url(path))
        }
    }

    /// POST a url-encoded form.
    pub async fn post_form(&self, path: &str, form: &str) -> Value {
        let res = self
            .http
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.to_string())
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 200, "POST {path}");
        res.json().await.expect("JSON answer")
    }

    /// POST a JSON body.
    pub async fn post_json(&self, path: &str, body: &Value) -> Value {
        let res = self
            .http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 200, "POST {path}");
        res.json().await.expect("JSON answer")
    }

    /// Injects a message through `/sim/receive`; panics unless code 0.
    pub async fn receive(&self, body: Value) -> String {
        let v = self.post_json("/sim/receive", &body).await;
        assert_eq!(v["code"], 0, "sim/receive {body}: {v}");
        v["msg_id"].as_str().expect("msg_id").to_string()
    }

    /// What the account did after `after`.
    pub async fn sent(&self, after: u64) -> Vec<Value> {
        match self.get(&format!("/sim/sent?after={after}")).await {
            Value::Array(v) => v,
            other => panic!("sim/sent answered {other}"),
        }
    }

    /// Waits until `/sim/sent` after `after` satisfies `done`, or panics
    /// after `limit`. Polls: the sim records synchronously, so this only waits
    /// for the pipeline.
    pub async fn sent_until(
        &self,
        after: u64,
        limit: Duration,
        done: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let s = self.sent(after).await;
            if done(&s) {
                return s;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("condition not met within {limit:?}; sent so far: {s:#?}");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until the webhook's counters — (answered, acted, ignored,
    /// failed, dropped) — satisfy `done`; panics after 10 s.
    pub async fn webhook_stats_until(&self, done: impl Fn([u64; 5]) -> bool) -> [u64; 5] {
        let stats = self
            .gateway
            .webhook
            .as_ref()
            .expect("webhook configured")
            .stats();
        wait::poll("the webhook's counters", Duration::from_secs(10), || {
            let s = stats.snapshot();
            let met = done(s).then_some(s);
            async move { met }
        })
        .await
    }

    /// `/admin/scripts`: the scripts loaded and the versions refused.
    pub async fn admin_scripts(&self) -> Value {
        self.get("/admin/scripts").await
    }

    /// `POST /admin/scripts/reload`: what the reload did.
    pub async fn reload_scripts(&self) -> Value {
        let res = self
            .http
            .post(self.url("/admin/scripts/reload"))
            .send()
            .await
            .expect("reload");
        assert_eq!(res.status(), 200, "POST /admin/scripts/reload");
        res.json().await.expect("JSON answer")
    }

    /// The last sequence number recorded so far.
    pub async fn last_seq(&self) -> u64 {
        self.sent(0)
            .await
            .last()
            .and_then(|r| r["seq"].as_u64())
            .unwrap_or(0)
    }
}

/// The entry of script `name` in an `/admin/scripts` answer.
pub fn script<'a>(admin: &'a Value, name: &str) -> &'a Value {
    admin["scripts"]
        .as_array()
        .and_then(|l| l.iter().find(|s| s["name"] == name))
        .unwrap_or_else(|| panic!("{name} not in {admin}"))
}

/// Injects `per_chat` messages into each of `chats`, with content `c:i`
/// (chat `c`'s `i`-th): each chat in order by its own task, the chats side
/// by side.
pub async fn inject_side_by_side(
    gw: &std::sync::Arc<TestGateway>,
    chats: impl IntoIterator<Item = Value>,
    per_chat: usize,
) {
    let mut tasks = Vec::new();
    for (c, chat) in chats.into_iter().enumerate() {
        let gw = gw.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per_chat {
                let mut m = chat.clone();
                m["content"] = json!(format!("{c}:{i}"));
                gw.receive(m).await;
            }
        }));
    }
    for t in tasks {
        t.await.expect("injector");
    }
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

/// Builds the Rust bots once per test binary (`scripts/build.sh rust`) and
/// returns the directory with the components. `OPENQQ_BOTS_DIR` skips the
/// build and uses a directory built beforehand (CI builds once).
pub fn bots_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Ok(dir) = std::env::var("OPENQQ_BOTS_DIR") {
            return PathBuf::from(dir);
        }
        let root = workspace();
        let status = std::process::Command::new("bash")
            .arg(root.join("scripts/build.sh"))
            .arg("rust")
            // A target dir of its own, so this never waits on the lock of
            // the `cargo test` that runs us.
            .env("CARGO_TARGET_DIR", root.join("target/bots-build"))
            .status()
            .expect("run scripts/build.sh");
        assert!(status.success(), "scripts/build.sh rust failed");
        root.join("target/bots")
    })
}

/// The path of a built bot, e.g. `bot("echo")`.
pub fn bot(name: &str) -> PathBuf {
    let p = bots_dir().join(format!("{name}.wasm"));
    assert!(p.exists(), "{} was not built", p.display());
    p
}

/// Eight chats of the default world, one of each kind the sim can reach
/// without a per-login id.
pub fn eight_chats() -> [Value; 8] {
    [
        json!({"type": "message", "sender_qq": 123456}),
        json!({"type": "message", "sender_qq": 7891234}),
        json!({"type": "group_message", "sender_qq": 888888, "gnumber": 552603}),
        json!({"type": "group_message", "sender_qq": 777777, "gnumber": 661234}),
        json!({"type": "sess_message", "sender_qq": 888888, "gnumber": 552603}),
        json!({"type": "sess_message", "sender_qq": 999999, "gnumber": 552603}),
        json!({"type": "sess_message", "sender_qq": 45678, "gnumber": 552603}),
        json!({"type": "sess_message", "sender_qq": 777777, "gnumber": 661234}),
    ]
}
