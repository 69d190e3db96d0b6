//! The recent log lines, in memory, for `/admin/logs` and the console.
//!
//! A `tracing` layer (`layer()`, installed by `main` beside the fmt layer)
//! writes each event that passes the filter into one process-wide ring:
//! its level, target, and text — the message and its fields as the fmt
//! layer prints them, without colours. The ring holds the newest
//! `[console] log_lines` lines (the oldest go), numbers them, and hands
//! each to live watchers (`subscribe`, the SSE stream) as it is written.
//!
//! One ring per process, because a subscriber is: every gateway of the
//! process reads the same one (`global`). Without the layer installed
//! (a library user's own subscriber, most tests) the ring stays empty.

use std::collections::VecDeque;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use serde::Serialize;
use tokio::sync::broadcast;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// How many lines the ring keeps unless `[console] log_lines` says.
pub const DEFAULT_LINES: usize = 2000;
/// The most `[console] log_lines` may ask for (see `LINE_BYTES`: at most
/// about 115 MiB).
pub const MAX_LINES: usize = 50_000;
/// A longer text is cut here (a guest may print a long line), and a longer
/// target: so a line's memory is bounded.
const MAX_TEXT: usize = 2048;
const MAX_TARGET: usize = 128;
/// The most memory one kept line takes: its text and target at their caps
/// (allocated to their length: `push` trims the spare capacity), the
/// `LogLine` with its reference counts, and its slot in the ring. The ring
/// holds at most `log_lines` × this: 2000 lines (the default) ≤ 4.6 MiB.
pub const LINE_BYTES: usize = MAX_TEXT
    + '…'.len_utf8()
    + MAX_TARGET
    + std::mem::size_of::<LogLine>()
    + 2 * std::mem::size_of::<usize>()
    + std::mem::size_of::<Arc<LogLine>>();
/// Lines a live watcher may fall behind before it misses some (it then
/// catches up from the ring).
const LIVE_BUFFER: usize = 1024;

/// One log line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogLine {
    /// The ring's number for it, from 1, increasing.
    pub seq: u64,
    /// When it was logged, ms since the Unix epoch.
    pub at_ms: u64,
    /// `ERROR`, `WARN`, `INFO`, `DEBUG` or `TRACE`.
    pub level: &'static str,
    /// Where it was logged (`openqq::webhook`).
    pub target: String,
    /// The message and its fields (`reported; no action asked msg_id=…`).
    pub text: String,
}

/// The newest log lines.
#[derive(Debug)]
pub struct LogRing {
    /// When the ring was made (Unix ms): a process's lines are numbered
    /// from 1, so a number alone does not say which run it was from. The
    /// stream's event ids carry it (`<boot>-<seq>`).
    pub boot: u64,
    lines: Mutex<Lines>,
    /// Read without the lock, so a ring of 0 lines costs an event nothing.
    capacity: AtomicUsize,
    live: broadcast::Sender<Arc<LogLine>>,
}

#[derive(Debug, Default)]
struct Lines {
    kept: VecDeque<Arc<LogLine>>,
    /// The last number given.
    last: u64,
}

impl LogRing {
    pub fn new(capacity: usize) -> LogRing {
        LogRing {
            boot: crate::clock::unix_now_ms(),
            lines: Mutex::new(Lines::default()),
            capacity: AtomicUsize::new(capacity),
            live: broadcast::channel(LIVE_BUFFER).0,
        }
    }

    fn lines(&self) -> std::sync::MutexGuard<'_, Lines> {
        // Nothing under this lock can panic half-way through a change.
        self.lines.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps at most `capacity` lines from now on (0: none).
    pub fn set_capacity(&self, capacity: usize) {
        self.capacity.store(capacity, Ordering::Relaxed);
        let mut l = self.lines();
        while l.kept.len() > capacity {
            l.kept.pop_front();
        }
    }

    /// Whether lines are kept at all.
    pub fn is_on(&self) -> bool {
        self.capacity.load(Ordering::Relaxed) > 0
    }

    /// Adds a line, numbered, and hands it to live watchers.
    pub fn push(&self, level: &'static str, target: &str, mut text: String) {
        let capacity = self.capacity.load(Ordering::Relaxed);
        if capacity == 0 {
            return;
        }
        cut(&mut text, MAX_TEXT);
        // The text grew as it was written: keep only what it holds, so a
        // line costs what `LINE_BYTES` says.
        text.shrink_to_fit();
        let mut target = target.to_string();
        cut(&mut target, MAX_TARGET);
        let at_ms = crate::clock::unix_now_ms();
        let mut l = self.lines();
        l.last += 1;
        let line = Arc::new(LogLine {
            seq: l.last,
            at_ms,
            level,
            target,
            text,
        });
        while l.kept.len() >= capacity {
            l.kept.pop_front();
        }
        l.kept.push_back(line.clone());
        // Sent under the lock, so watchers see lines in their numbers'
        // order. Nobody watching is fine.
        let _ = self.live.send(line);
    }

    /// Lines numbered after `after`, oldest first, at most `limit`; and the
    /// last number given (0 before any line).
    pub fn after(&self, after: u64, limit: usize) -> (Vec<Arc<LogLine>>, u64) {
        let l = self.lines();
        let first = l.kept.partition_point(|line| line.seq <= after);
        let lines = l.kept.range(first..).take(limit).cloned().collect();
        (lines, l.last)
    }

    /// Where a reader who last saw line `seq` of the run `boot` (`None`:
    /// unsaid) goes on from: after it, if it is of this run; from the
    /// oldest line kept if it is another run's — a number this run has
    /// not reached is one (the reader saw the gateway before a restart).
    pub fn resume_after(&self, boot: Option<u64>, seq: u64) -> u64 {
        let other_run = boot.is_some_and(|b| b != self.boot) || seq > self.lines().last;
        if other_run { 0 } else { seq }
    }

    /// The newest `limit` lines, oldest first; and the last number given.
    pub fn tail(&self, limit: usize) -> (Vec<Arc<LogLine>>, u64) {
        let l = self.lines();
        let skip = l.kept.len().saturating_sub(limit);
        (l.kept.range(skip..).cloned().collect(), l.last)
    }

    /// Every line pushed from now on. A watcher that falls more than
    /// `LIVE_BUFFER` lines behind is told how many it missed; it can read
    /// them from the ring (`after`).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LogLine>> {
        self.live.subscribe()
    }
}

/// Cuts `text` to at most `max` bytes on a character, an ellipsis saying so.
fn cut(text: &mut String, max: usize) {
    if text.len() > max {
        let mut at = max;
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        text.truncate(at);
        text.push('…');
    }
}

/// The process's ring: the one `layer()` writes and every gateway reads.
pub fn global() -> &'static Arc<LogRing> {
    static RING: OnceLock<Arc<LogRing>> = OnceLock::new();
    RING.get_or_init(|| Arc::new(LogRing::new(DEFAULT_LINES)))
}

/// The layer that writes into the process's ring; install it beside the
/// fmt layer (`main`), under the same filter.
pub fn layer() -> RingLayer {
    RingLayer {
        ring: global().clone(),
    }
}

/// Writes events into a `LogRing`.
#[derive(Debug, Clone)]
pub struct RingLayer {
    ring: Arc<LogRing>,
}

impl RingLayer {
    /// A layer writing into `ring` (tests; the gateway uses `layer()`).
    pub fn new(ring: Arc<LogRing>) -> RingLayer {
        RingLayer { ring }
    }
}

impl<S: Subscriber> Layer<S> for RingLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if !self.ring.is_on() {
            return;
        }
        let mut text = Text::default();
        event.record(&mut text);
        let meta = event.metadata();
        self.ring.push(meta.level().as_str(), meta.target(), text.0);
    }
}

/// An event's message and fields, written as the fmt layer's default
/// format writes them: the message, then ` name=value` per field (strings
/// quoted, `%` fields displayed), `log.*` fields left out.
#[derive(Default)]
struct Text(String);

impl Visit for Text {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.record_debug(field, &format_args!("{value}"));
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.record_debug(field, &format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let name = field.name();
        if name.starts_with("log.") {
            return;
        }
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        // Writing into a String cannot fail.
        let _ = match name {
            "message" => write!(self.0, "{value:?}"),
            name => write!(self.0, "{}={value:?}", name.trim_start_matches("r#")),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    fn texts(lines: &[Arc<LogLine>]) -> Vec<&str> {
        lines.iter().map(|l| l.text.as_str()).collect()
    }

    #[test]
    fn keeps_the_newest_lines_numbered() {
        let ring = LogRing::new(3);
        for i in 1..=5 {
            ring.push("INFO", "t", format!("line {i}"));
        }
        let (lines, last) = ring.after(0, 100);
        assert_eq!(last, 5);
        assert_eq!(texts(&lines), ["line 3", "line 4", "line 5"]);
        assert_eq!(lines[0].seq, 3);
        let (lines, _) = ring.after(3, 1);
        assert_eq!(texts(&lines), ["line 4"]);
        let (lines, last) = ring.tail(2);
        assert_eq!((texts(&lines), last), (vec!["line 4", "line 5"], 5));
        assert!(ring.after(5, 10).0.is_empty());
    }

    #[test]
    fn a_smaller_capacity_drops_the_oldest_and_zero_keeps_nothing() {
        let ring = LogRing::new(10);
        for i in 1..=4 {
            ring.push("INFO", "t", format!("{i}"));
        }
        ring.set_capacity(2);
        assert_eq!(texts(&ring.after(0, 10).0), ["3", "4"]);
        ring.set_capacity(0);
        ring.push("INFO", "t", "lost".into());
        assert!(ring.after(0, 10).0.is_empty());
        assert_eq!(ring.after(0, 10).1, 4, "nothing numbered while off");
    }

    #[test]
    fn long_lines_are_cut_on_a_character() {
        let ring = LogRing::new(1);
        ring.push("WARN", "t", "群".repeat(MAX_TEXT));
        let (lines, _) = ring.after(0, 1);
        assert!(lines[0].text.len() <= MAX_TEXT + '…'.len_utf8());
        assert!(lines[0].text.ends_with('…'));
    }

    #[test]
    fn a_line_costs_at_most_line_bytes() {
        let ring = LogRing::new(1);
        let mut text = String::with_capacity(64 * 1024);
        text.push_str(&"x".repeat(10_000));
        ring.push("INFO", &"t".repeat(1000), text);
        let (lines, _) = ring.after(0, 1);
        let l = &lines[0];
        assert!(
            l.text.capacity() <= MAX_TEXT + '…'.len_utf8(),
            "{}",
            l.text.capacity()
        );
        assert!(l.target.len() <= MAX_TARGET + '…'.len_utf8());
        const { assert!(LINE_BYTES < 2400) };
    }

    #[test]
    fn a_reader_from_another_run_starts_from_the_oldest_line() {
        let ring = LogRing::new(10);
        for i in 1..=3 {
            ring.push("INFO", "t", format!("{i}"));
        }
        assert_eq!(ring.resume_after(Some(ring.boot), 2), 2);
        assert_eq!(ring.resume_after(None, 2), 2);
        // Another run's id, or a number this run has not reached.
        assert_eq!(ring.resume_after(Some(ring.boot + 1), 2), 0);
        assert_eq!(ring.resume_after(None, 500), 0);
    }

    #[test]
    fn watchers_get_each_line_as_it_is_pushed() {
        let ring = LogRing::new(10);
        let mut live = ring.subscribe();
        ring.push("INFO", "t", "a".into());
        ring.push("INFO", "t", "b".into());
        let got: Vec<_> = (0..2)
            .map(|_| live.try_recv().expect("a line").seq)
            .collect();
        assert_eq!(got, [1, 2]);
    }

    #[test]
    fn the_layer_writes_message_and_fields_as_fmt_does() {
        let ring = Arc::new(LogRing::new(10));
        let subscriber = tracing_subscriber::registry().with(RingLayer::new(ring.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let e = std::io::Error::other("refused");
            tracing::warn!(msg_id = 7, bot = "echo", error = %e, "send failed");
            tracing::info!("{} 群", "plain");
        });
        let (lines, _) = ring.after(0, 10);
        assert_eq!(
            texts(&lines),
            [
                "send failed msg_id=7 bot=\"echo\" error=refused",
                "plain 群"
            ]
        );
        assert_eq!(lines[0].level, "WARN");
        assert_eq!(lines[0].target, module_path!());
        assert!(lines[0].at_ms > 1_700_000_000_000);
    }
}
