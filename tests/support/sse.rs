//! Reading a Server-Sent Events answer (`/admin/logs/stream`,
//! `/admin/trace/stream`) in tests.

use std::time::Duration;

use serde_json::Value;

/// One stream being read: the answer and what was read of it but not yet
/// taken as events.
pub struct Events {
    res: reqwest::Response,
    buf: String,
}

impl Events {
    /// Sends `req` and checks the answer is an open event stream.
    pub async fn open(req: reqwest::RequestBuilder) -> Events {
        let res = req.send().await.expect("the stream");
        assert_eq!(res.status(), 200);
        let kind = res.headers()["content-type"]
            .to_str()
            .unwrap_or("")
            .to_string();
        assert!(kind.starts_with("text/event-stream"), "{kind}");
        Events::new(res)
    }

    pub fn new(res: reqwest::Response) -> Events {
        Events {
            res,
            buf: String::new(),
        }
    }

    /// Reads events until one named `name` has JSON data that passes
    /// `want`; returns that data. Panics when none comes within `wait`.
    pub async fn until(
        &mut self,
        name: &str,
        wait: Duration,
        want: impl Fn(&Value) -> bool,
    ) -> Value {
        tokio::time::timeout(wait, async {
            loop {
                while let Some(end) = self.buf.find("\n\n") {
                    let event: String = self.buf.drain(..end + 2).collect();
                    let mut kind = "";
                    let mut data = String::new();
                    for field in event.lines() {
                        if let Some(v) = field.strip_prefix("event: ") {
                            kind = v;
                        } else if let Some(v) = field.strip_prefix("data: ") {
                            data.push_str(v);
                        }
                    }
                    if kind == name {
                        let v: Value = serde_json::from_str(&data).expect("the event's JSON");
                        if want(&v) {
                            return v;
                        }
                    }
                }
                let chunk = self
                    .res
                    .chunk()
                    .await
                    .expect("the stream")
                    .expect("more of it");
                self.buf.push_str(&String::from_utf8_lossy(&chunk));
            }
        })
        .await
        .unwrap_or_else(|_| panic!("a `{name}` event in time"))
    }
}
