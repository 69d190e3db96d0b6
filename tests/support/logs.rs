//! Captures this test binary's `tracing` output in memory, so tests can check
//! what the gateway logged (a guest's panic text, a rejection reason).

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

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
        let _ = tracing_subscriber::fmt()
            .with_env_filter("info")
            .with_ansi(false)
            .with_writer(move || writer.clone())
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

/// Waits until the log contains `needle`; panics after 10 s.
pub async fn wait_for(needle: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let t = text();
        if t.contains(needle) {
            return t;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "log never contained {needle:?}; log:\n{t}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
