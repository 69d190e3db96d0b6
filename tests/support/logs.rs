//! Captures this test binary's `tracing` output in memory, so tests can check
//! what the gateway logged (a guest's panic text, a rejection reason).

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use super::wait;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn buffer() -> &'static Buffer {
    static BUF: OnceLock<Buffer> = OnceLock::new();
    BUF.get_or_init(|| {
        let buf = Buffer::default();
        let writer = buf.clone();
        // As `main` sets it up: the fmt layer (here into memory) and the
        // ring `/admin/logs` reads.
        let _ = tracing_subscriber::registry()
            .with(tracing_subscriber::EnvFilter::new("info"))
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(move || writer.clone()),
            )
            .with(openqq::logring::layer())
            .try_init();
        buf
    })
}

/// Starts capturing (idempotent); call before starting a gateway.
pub fn capture() {
    let _ = buffer();
}

/// Everything logged so far.
pub fn text() -> String {
    String::from_utf8_lossy(&buffer().0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
}

/// How long the waits below wait.
const WAIT: Duration = Duration::from_secs(10);

/// Waits until the log contains `needle`; panics after 10 s.
pub async fn wait_for(needle: &str) -> String {
    wait::poll(&format!("{needle:?} in the log"), WAIT, || async {
        let t = text();
        t.contains(needle).then_some(t)
    })
    .await
}

/// Waits until one log line contains every needle, and returns it; panics
/// after 10 s. Tests share the log: give a needle that makes the line this
/// test's own (a peer's URL, a script's name).
pub async fn line_with(needles: &[&str]) -> String {
    wait::poll(&format!("a log line with {needles:?}"), WAIT, || async {
        lines_with(needles).into_iter().next()
    })
    .await
}

/// Every line logged so far that contains every needle.
pub fn lines_with(needles: &[&str]) -> Vec<String> {
    text()
        .lines()
        .filter(|l| needles.iter().all(|n| l.contains(n)))
        .map(str::to_string)
        .collect()
}
