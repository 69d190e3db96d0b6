//! A `post_api` receiver on 127.0.0.1 whose answer depends on the reported
//! message's content, recording every report it gets.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// One report as the receiver saw it.
#[derive(Debug)]
pub struct Report {
    pub headers: HeaderMap,
    pub body: Value,
    pub at: tokio::time::Instant,
}

/// The receiver; it stops when dropped.
pub struct Receiver {
    pub url: String,
    reports: mpsc::Receiver<Report>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn json_answer(body: &str) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Answers by content: `reply:X` → `{"reply":"X"}`; `mute`, `mute-default`,
/// `mute-30`, `number`, `text-plain`, `status-500`, `bad-json`, `array`,
/// `empty`, `slow` (3 s) as their names say; anything else `{"code":0}`.
async fn hook(State(tx): State<mpsc::Sender<Report>>, headers: HeaderMap, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let content = body["content"].as_str().unwrap_or("").to_string();
    let _ = tx
        .send(Report {
            headers,
            body,
            at: tokio::time::Instant::now(),
        })
        .await;
    match content.as_str() {
        c if c.starts_with("reply:") => json_answer(&json!({ "reply": &c[6..] }).to_string()),
        "mute" => json_answer(r#"{"reply":"bye","shutup":1,"shutup_time":120}"#),
        "mute-default" => json_answer(r#"{"shutup":true}"#),
        "mute-30" => json_answer(r#"{"reply":"short","shutup":1,"shutup_time":30}"#),
        "number" => json_answer(r#"{"reply":42}"#),
        "text-plain" => {
            ([(header::CONTENT_TYPE, "text/plain")], r#"{"reply":"no"}"#).into_response()
        }
        "status-500" => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"reply":"no"}"#,
        )
            .into_response(),
        "bad-json" => json_answer("{\"reply\": "),
        "array" => json_answer(r#"[{"reply":"no"}]"#),
        "empty" => json_answer(""),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            json_answer(r#"{"reply":"late"}"#)
        }
        _ => json_answer(r#"{"code":0}"#),
    }
}

impl Receiver {
    pub async fn start() -> Receiver {
        let (tx, reports) = mpsc::channel(100_000);
        let app = axum::Router::new()
            .route("/post_api", axum::routing::post(hook))
            .with_state(tx);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let url = format!("http://{}/post_api", listener.local_addr().expect("addr"));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            url,
            reports,
            server,
        }
    }

    /// The next report, or a panic after 10 s.
    pub async fn next(&mut self) -> Report {
        tokio::time::timeout(Duration::from_secs(10), self.reports.recv())
            .await
            .expect("a report in time")
            .expect("receiver open")
    }

    /// The next report whose content is `content`, skipping others.
    pub async fn next_with(&mut self, content: &str) -> Report {
        loop {
            let r = self.next().await;
            if r.body["content"] == content {
                return r;
            }
        }
    }

    /// Reports already received, without waiting.
    pub fn drain(&mut self) -> Vec<Report> {
        let mut out = Vec::new();
        while let Ok(r) = self.reports.try_recv() {
            out.push(r);
        }
        out
    }
}
