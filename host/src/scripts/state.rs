//! What a script's `Store` holds: WASI (denying everything), the memory
//! limiter, the deadline of the call in progress, and the handles its host
//! imports use.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::io::AsyncWrite;
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::limits::{MAX_OUTPUT_LINE, MAX_TABLE_ELEMENTS};
use crate::session::SessionHandle;

/// The call in progress, shared with the script's output streams: the id of
/// the message (their lines carry it) and the last error the guest reported
/// (a panic message, an exception on stderr), so a trap can say why.
pub type CurrentMsg = Arc<Mutex<CallNote>>;

#[derive(Debug, Default)]
pub struct CallNote {
    pub msg_id: String,
    pub last_error: Option<String>,
}

/// Reads the message id of the call in progress.
pub fn msg_id_of(note: &CurrentMsg) -> String {
    note.lock().map(|n| n.msg_id.clone()).unwrap_or_default()
}

/// Remembers `text` as what the guest last said went wrong.
pub fn note_error(note: &CurrentMsg, text: &str) {
    if let Ok(mut n) = note.lock() {
        n.last_error = Some(text.to_string());
    }
}

/// Per-store state of one script instance.
pub struct BotState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub limiter: Limiter,
    pub host: HostCtx,
    /// When the call in progress must end; `None` between calls. Time the
    /// call spends awaiting the host (`host::send`) pushes it later, so it
    /// bounds the guest's own running time only.
    pub deadline: Option<Instant>,
    /// `host::send`s made by the call in progress (see `MAX_SENDS_PER_CALL`).
    pub sends: u32,
}

/// What the host imports need: who is calling, about which message, and the
/// session to act through.
pub struct HostCtx {
    pub script: Arc<str>,
    pub msg: CurrentMsg,
    pub session: SessionHandle,
}

impl BotState {
    /// A state with no filesystem, no network, no environment and no
    /// arguments; stdout and stderr go to the gateway's log.
    pub fn new(script: Arc<str>, session: SessionHandle, memory_bytes: usize) -> BotState {
        let msg: CurrentMsg = Arc::new(Mutex::new(CallNote::default()));
        let mut b = WasiCtx::builder();
        b.stdout(LogOutput {
            script: script.clone(),
            stream: "stdout",
            msg: msg.clone(),
        })
        .stderr(LogOutput {
            script: script.clone(),
            stream: "stderr",
            msg: msg.clone(),
        })
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
        BotState {
            wasi: b.build(),
            table: ResourceTable::new(),
            limiter: Limiter {
                memory_bytes,
                denied: None,
            },
            host: HostCtx {
                script,
                msg,
                session,
            },
            deadline: None,
            sends: 0,
        }
    }

    /// Marks the start of a call about message `msg_id`.
    pub fn begin(&mut self, msg_id: &str, deadline: Instant) {
        if let Ok(mut n) = self.host.msg.lock() {
            n.msg_id.clear();
            n.msg_id.push_str(msg_id);
            n.last_error = None;
        }
        self.deadline = Some(deadline);
        self.sends = 0;
        self.limiter.denied = None;
    }

    pub fn end(&mut self) {
        self.deadline = None;
    }

    /// Runs `wait` — a host import awaiting the session — with the call's
    /// deadline stopped: the time it takes is added to the deadline
    /// afterwards. The guest cannot run while the host awaits, and the
    /// epoch callback only looks at the deadline when the guest runs again,
    /// so moving it once the wait is over is enough. Without this an outbox
    /// that spaces sends (or a slow backend) would kill a bot whose send
    /// succeeded.
    pub async fn off_the_clock<T>(&mut self, wait: impl Future<Output = T>) -> T {
        let started = Instant::now();
        let out = wait.await;
        let waited = started.elapsed();
        if let Some(d) = self.deadline.as_mut() {
            // An overflow means the deadline is already out of reach.
            *d = d.checked_add(waited).unwrap_or(*d);
        }
        out
    }

    /// What the guest last reported as an error during this call.
    pub fn last_error(&self) -> Option<String> {
        self.host.msg.lock().ok().and_then(|n| n.last_error.clone())
    }
}

impl WasiView for BotState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Caps linear memory per script and remembers a refusal, so a trap that
/// follows can be reported as "out of memory" rather than a bare `unreachable`.
pub struct Limiter {
    memory_bytes: usize,
    /// The size that was refused in this call, if any.
    pub denied: Option<usize>,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            self.denied = Some(desired);
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// Guest stdout/stderr, written to the log a line at a time.
#[derive(Clone)]
struct LogOutput {
    script: Arc<str>,
    stream: &'static str,
    msg: CurrentMsg,
}

impl IsTerminal for LogOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(LineLogger {
            out: self.clone(),
            buf: Vec::new(),
        })
    }
}

struct LineLogger {
    out: LogOutput,
    buf: Vec<u8>,
}

impl LineLogger {
    fn emit(&self, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            return;
        }
        let msg_id = msg_id_of(&self.out.msg);
        match self.out.stream {
            "stderr" => {
                note_error(&self.out.msg, text);
                tracing::warn!(script = %self.out.script, msg_id, stream = "stderr", "{text}")
            }
            _ => tracing::info!(script = %self.out.script, msg_id, stream = "stdout", "{text}"),
        }
    }

    fn flush_lines(&mut self, all: bool) {
        while let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=i).collect();
            self.emit(&line);
        }
        if all || self.buf.len() >= MAX_OUTPUT_LINE {
            let rest = std::mem::take(&mut self.buf);
            self.emit(&rest);
        }
    }
}

impl Drop for LineLogger {
    fn drop(&mut self) {
        self.flush_lines(true);
    }
}

impl AsyncWrite for LineLogger {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.buf.extend_from_slice(data);
        self.flush_lines(false);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.flush_lines(true);
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.poll_flush(cx)
    }
}
