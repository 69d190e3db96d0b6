//! What a script's `Store` holds: WASI (denying everything, its resource
//! table capped), the HTTP client's context, the memory limiter, the CPU
//! clock of the call in progress, the sends it queued, its log budget, and
//! the handles its host imports use.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::AsyncWrite;
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::actions::Queued;
use super::http::{HttpHooks, MAX_FIELDS_BYTES};
use super::limits::{MAX_OUTPUT_LINE, MAX_TABLE_ELEMENTS, Sandbox};
use crate::grants::{Granted, Handling};
use crate::session::SessionHandle;
use crate::throttle::Throttle;

/// The call in progress, shared with the script's output streams: the id of
/// the message (their lines carry it) and the last error the guest reported
/// (a panic message, an exception on stderr), so a trap can say why.
pub type CurrentMsg = Arc<Mutex<CallNote>>;

#[derive(Debug, Default)]
pub struct CallNote {
    pub msg_id: String,
    pub last_error: Option<String>,
    /// The first refusal by the bot's grants during this call (its trace
    /// says why a bot that passed did nothing).
    pub denied: Option<String>,
    /// Log lines this call wrote, and the ones its budget held back.
    lines: u32,
    held_back: u32,
}

/// How much a script may write to the log: per call (counted in the
/// `CallNote`) and per second for all its instances (counted here).
#[derive(Debug)]
pub struct LogBudget {
    per_call: u32,
    per_sec: u32,
    /// The current one-second window: when it began, lines written in it.
    window: Mutex<(Instant, u32)>,
    /// Says at most once per interval that lines were dropped.
    summary: Throttle,
}

impl LogBudget {
    pub fn new(sandbox: &Sandbox) -> LogBudget {
        LogBudget {
            per_call: sandbox.log_lines_per_call,
            per_sec: sandbox.log_lines_per_sec,
            window: Mutex::new((Instant::now(), 0)),
            summary: Throttle::new(super::limits::WARN_INTERVAL),
        }
    }

    /// Whether one more line may be written in the call `note` describes;
    /// a line refused is counted as held back.
    fn admit(&self, note: &CurrentMsg) -> bool {
        let Ok(mut n) = note.lock() else {
            return false;
        };
        let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if now.duration_since(w.0).as_secs() >= 1 {
            *w = (now, 0);
        }
        if n.lines >= self.per_call || w.1 >= self.per_sec {
            n.held_back = n.held_back.saturating_add(1);
            return false;
        }
        n.lines += 1;
        w.1 += 1;
        true
    }
}

/// Reads the message id of the call in progress.
pub fn msg_id_of(note: &CurrentMsg) -> String {
    note.lock().map(|n| n.msg_id.clone()).unwrap_or_default()
}

/// Remembers the call's first refusal by the bot's grants.
pub fn note_denied(note: &CurrentMsg, reason: &str) {
    if let Ok(mut n) = note.lock()
        && n.denied.is_none()
    {
        n.denied = Some(reason.to_string());
    }
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
    /// The resources of WASI and of `wasi:http`, in one table (they share
    /// streams and pollables).
    table: ResourceTable,
    http: WasiHttpCtx,
    http_hooks: HttpHooks,
    pub limiter: Limiter,
    pub host: HostCtx,
    /// The guest's running time in the call in progress; `None` between
    /// calls. The epoch callback ends the call when it is spent; the
    /// wall-clock limit around the call bounds the rest (waits included).
    pub cpu: Option<CpuClock>,
    /// Sends and moderation the bot asked for, in order: carried out once
    /// the call has returned and released its instance, so a bot never
    /// waits for the outbox or QQ while it holds the instance other chats
    /// need. What `init` queued waits here for the first call's.
    pub queued: Vec<Queued>,
    /// The chat and sender of the call in progress, for grant checks.
    pub handling: Handling,
    /// The id and addressing of the message being handled (`on-message`
    /// only), for the `addressing` import.
    pub addressed: Option<(String, crate::model::Addressing)>,
    /// `host::send` calls in the call in progress, refused ones included
    /// (see the `sends_per_call` quota: sends are carried out after the
    /// call, so without it one call could queue any number).
    pub send_attempts: u32,
    /// Database writes in the call in progress (see `MAX_WRITES_PER_CALL`).
    pub writes: u32,
    /// Outbound HTTP requests the call in progress asked for, refused ones
    /// included (see `http_requests_per_call`).
    pub http_requests: u32,
    /// Whether the call in progress is `init` (the only one that may
    /// declare timers).
    pub in_init: bool,
    /// The timers `init` declared (0.2.0), taken by the instance after it.
    pub declared: Vec<crate::timers::Declared>,
    /// In a dry-run call: its store writes and timers, kept apart.
    pub dry_run: Option<super::dry_store::DryStore>,
}

/// What the host imports need: who is calling, about which message, the
/// session to act through, and the caps they enforce.
pub struct HostCtx {
    pub script: Arc<str>,
    pub msg: CurrentMsg,
    pub session: SessionHandle,
    pub sandbox: Sandbox,
    pub log: Arc<LogBudget>,
    /// The clock, the one-shot timers and, through them, the database of
    /// bots' KV stores.
    pub timers: crate::timers::Timers,
    /// What the bot is granted, and what it was refused.
    pub granted: Arc<Granted>,
}

impl BotState {
    /// A state with no filesystem, no network, no environment and no
    /// arguments; stdout and stderr go to the gateway's log, within the
    /// script's log budget.
    pub fn new(
        script: Arc<str>,
        session: SessionHandle,
        memory_bytes: usize,
        sandbox: Sandbox,
        log: Arc<LogBudget>,
        timers: crate::timers::Timers,
        granted: Arc<Granted>,
    ) -> BotState {
        let msg: CurrentMsg = Arc::new(Mutex::new(CallNote::default()));
        let output = |stream| LogOutput {
            script: script.clone(),
            stream,
            msg: msg.clone(),
            log: log.clone(),
        };
        let mut b = WasiCtx::builder();
        b.stdout(output("stdout"))
            .stderr(output("stderr"))
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        let mut table = ResourceTable::new();
        table.set_max_capacity(sandbox.max_resources);
        let http_hooks = HttpHooks::new(script.clone(), msg.clone(), granted.clone());
        let mut http = WasiHttpCtx::new();
        http.set_field_size_limit(MAX_FIELDS_BYTES);
        BotState {
            wasi: b.build(),
            table,
            http,
            http_hooks,
            limiter: Limiter {
                memory_bytes,
                denied: None,
            },
            host: HostCtx {
                script,
                msg,
                session,
                sandbox,
                log,
                timers,
                granted,
            },
            cpu: None,
            queued: Vec::new(),
            handling: Handling::default(),
            addressed: None,
            send_attempts: 0,
            writes: 0,
            http_requests: 0,
            in_init: false,
            declared: Vec::new(),
            dry_run: None,
        }
    }

    /// Whether the guest may write one more log line now (see `LogBudget`).
    pub fn admit_log_line(&self) -> bool {
        self.host.log.admit(&self.host.msg)
    }

    /// Marks the start of a call about message `msg_id`, handling `handling`,
    /// that may run for `deadline` (the guest's own running time).
    pub fn begin(&mut self, msg_id: &str, handling: Handling, deadline: Duration) {
        self.handling = handling;
        if let Ok(mut n) = self.host.msg.lock() {
            n.msg_id.clear();
            n.msg_id.push_str(msg_id);
            n.last_error = None;
            n.denied = None;
        }
        self.cpu = Some(CpuClock::start(deadline, Instant::now()));
        self.send_attempts = 0;
        self.writes = 0;
        self.http_requests = 0;
        self.limiter.denied = None;
    }

    /// Marks the end of a call, however it ended; says in one line how many
    /// log lines the budget held back, if any.
    pub fn end(&mut self) {
        self.cpu = None;
        self.addressed = None;
        let (msg_id, held_back, lines) = match self.host.msg.lock() {
            Ok(mut n) => {
                let out = (n.msg_id.clone(), n.held_back, n.lines);
                n.held_back = 0;
                n.lines = 0;
                out
            }
            Err(_) => return,
        };
        if held_back == 0 {
            return;
        }
        // One line per interval, not per call: a bot over its per-second
        // budget would otherwise add a line to every call.
        if let Some(calls) = self.host.log.summary.allow() {
            let s = &self.host.sandbox;
            tracing::warn!(
                script = %self.host.script, %msg_id, written = lines, held_back, earlier_calls_held_back = calls,
                "log lines over the script's budget were dropped ([limits] log_lines_per_call = {}, log_lines_per_sec = {})",
                s.log_lines_per_call, s.log_lines_per_sec
            );
        }
    }

    /// Runs blocking work (a database write) off the async runtime. The
    /// wait is off the guest's CPU clock, as all time in the host is
    /// (`CpuClock`): a bot is not stopped for the disk's slowness. The
    /// call's wall-clock limit still bounds it.
    pub async fn off_clock<T: Send + 'static>(
        &mut self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, String> {
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| format!("the store's worker failed: {e}"))
    }

    /// At an epoch tick during a call: whether its CPU deadline is spent
    /// (`CpuClock::tick`).
    pub fn cpu_tick(&mut self, now: Instant) -> bool {
        self.cpu.as_mut().is_some_and(|c| c.tick(now))
    }

    /// The guest calls into the host (`true`) or the host returns to it
    /// (`false`): the CPU clock stops or runs again.
    pub fn in_host(&mut self, entering: bool, now: Instant) {
        if let Some(c) = &mut self.cpu {
            if entering {
                c.enter_host(now);
            } else {
                c.leave_host(now);
            }
        }
    }

    /// What the last call queued, to be carried out now.
    pub fn take_queued(&mut self) -> Vec<Queued> {
        std::mem::take(&mut self.queued)
    }

    /// The call's first refusal by the bot's grants, if any.
    pub fn denied(&self) -> Option<String> {
        self.host.msg.lock().ok().and_then(|n| n.denied.clone())
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

impl WasiHttpView for BotState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.http_hooks,
        }
    }
}

/// A call's CPU deadline, counting only the time the guest runs: the clock
/// stops while the guest is in the host (`enter_host` … `leave_host`, from
/// the store's call hook) — waiting on an HTTP response, a sleep, the disk.
/// So a bot waiting for seconds on HTTP is not stopped at its 100 ms
/// deadline, while a loop is, within a tick of it: the epoch callback
/// checks the clock at each tick (`tick`). The yield that follows a tick
/// counts as running: a guest ready to run that waits for a free core is
/// charged, as a wall clock would, so a busy gateway stops loops no later.
#[derive(Debug, Clone, Copy)]
pub struct CpuClock {
    budget: Duration,
    /// Running time before `running_since`.
    spent: Duration,
    /// Since when the guest runs; `None` while it is in the host.
    running_since: Option<Instant>,
}

impl CpuClock {
    /// A clock running from `now` (the call enters the guest).
    pub fn start(budget: Duration, now: Instant) -> CpuClock {
        CpuClock {
            budget,
            spent: Duration::ZERO,
            running_since: Some(now),
        }
    }

    /// The guest called into the host: the clock stops.
    pub fn enter_host(&mut self, now: Instant) {
        if let Some(since) = self.running_since.take() {
            self.spent += now.saturating_duration_since(since);
        }
    }

    /// The host returned to the guest: the clock runs again.
    pub fn leave_host(&mut self, now: Instant) {
        self.running_since.get_or_insert(now);
    }

    /// At an epoch tick (the guest is in the host for it): whether the
    /// budget is spent; if not, the clock runs through the yield after it.
    pub fn tick(&mut self, now: Instant) -> bool {
        let spent = self.is_spent(now);
        self.leave_host(now);
        spent
    }

    /// Whether the guest has run for its whole budget by `now`.
    pub fn is_spent(&self, now: Instant) -> bool {
        let running = self
            .running_since
            .map_or(Duration::ZERO, |since| now.saturating_duration_since(since));
        self.spent + running >= self.budget
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
    log: Arc<LogBudget>,
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
        if self.out.stream == "stderr" {
            // Kept even when the line is not logged: a trap says why.
            note_error(&self.out.msg, text);
        }
        if !self.out.log.admit(&self.out.msg) {
            return;
        }
        match self.out.stream {
            "stderr" => {
                tracing::warn!(script = %self.out.script, %msg_id, stream = "stderr", "{text}")
            }
            _ => tracing::info!(script = %self.out.script, %msg_id, stream = "stdout", "{text}"),
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

impl BotState {
    /// Counts a refusal by the bot's grants; the error text the bot sees.
    pub fn deny(&self, reason: &str) -> String {
        note_denied(&self.host.msg, reason);
        self.host
            .granted
            .deny(&self.host.script, &msg_id_of(&self.host.msg), reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_cpu_clock_counts_the_guest_s_running_time_only() {
        let t0 = Instant::now();
        let c = CpuClock::start(100 * MS, t0);
        assert!(!c.is_spent(t0 + 99 * MS));
        assert!(c.is_spent(t0 + 100 * MS));

        // 30 ms running, 5 s in the host (an HTTP response), then 69 ms.
        let mut c = CpuClock::start(100 * MS, t0);
        c.enter_host(t0 + 30 * MS);
        assert!(!c.is_spent(t0 + 5000 * MS));
        c.leave_host(t0 + 5030 * MS);
        assert!(!c.is_spent(t0 + 5099 * MS));
        assert!(c.is_spent(t0 + 5100 * MS));
    }

    #[test]
    fn repeated_or_unmatched_transitions_count_nothing_twice() {
        let t0 = Instant::now();
        let mut c = CpuClock::start(100 * MS, t0);
        c.enter_host(t0 + 10 * MS);
        c.enter_host(t0 + 50 * MS);
        c.leave_host(t0 + 60 * MS);
        c.leave_host(t0 + 90 * MS);
        // 10 ms before the host, 39 ms after it.
        assert!(!c.is_spent(t0 + 149 * MS));
        assert!(c.is_spent(t0 + 150 * MS));
        // A clock read before it started counts nothing.
        assert!(!CpuClock::start(MS, t0 + MS).is_spent(t0));
    }

    #[test]
    fn the_yield_after_a_tick_counts_as_running() {
        let t0 = Instant::now();
        let mut c = CpuClock::start(100 * MS, t0);
        // The tick's libcall enters the host at 10 ms; the guest is resumed
        // 80 ms later, on a busy runtime.
        c.enter_host(t0 + 10 * MS);
        assert!(!c.tick(t0 + 10 * MS));
        c.leave_host(t0 + 90 * MS);
        c.enter_host(t0 + 100 * MS);
        assert!(c.tick(t0 + 100 * MS));
    }
}
