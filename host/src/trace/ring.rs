//! The bounded ring of traces: the newest `trace_size` kept, numbered in
//! the order they began, and a broadcast of every change for live viewers.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use serde::Serialize;
use tokio::sync::broadcast;

use super::handle::Handle;
use super::header::{Field, Header, Kind};
use super::step::{Stamped, Step};
use super::verdict::{Outcome, judge};

/// Changes a slow live viewer may be behind before it skips some (it only
/// misses intermediate states: the next change of a trace carries it all).
const CHANGES: usize = 1024;

/// One trace as it is being written: its header, and its steps behind a
/// short mutex (held to append or to copy, never across `.await`).
#[derive(Debug)]
pub struct Live {
    seq: u64,
    head: Header,
    started: Instant,
    state: Mutex<State>,
    /// Handles alive (`Handle` counts itself: no allocation of its own).
    pub(super) handles: AtomicUsize,
    pub(super) changes: Arc<Changes>,
}

/// Every change of a trace, for live viewers.
#[derive(Debug)]
pub(super) struct Changes {
    tx: broadcast::Sender<Arc<Live>>,
    /// Viewers subscribed: a plain load per change (the channel's own count
    /// takes a lock), and nothing is sent when there are none.
    viewers: AtomicUsize,
}

impl Changes {
    pub(super) fn changed(&self, live: &Arc<Live>) {
        if self.viewers.load(Ordering::Relaxed) > 0 {
            let _ = self.tx.send(live.clone());
        }
    }
}

/// A live viewer of the ring's changes (`Traces::subscribe`).
pub struct Viewer {
    rx: broadcast::Receiver<Arc<Live>>,
    changes: Arc<Changes>,
}

impl Viewer {
    /// The next trace begun or changed; `Lagged` when this viewer fell
    /// behind (it missed intermediate states only).
    ///
    /// # Errors
    /// `Lagged(n)`, or `Closed` when the ring is gone.
    pub async fn recv(&mut self) -> Result<Arc<Live>, broadcast::error::RecvError> {
        self.rx.recv().await
    }

    /// As `recv`, without waiting.
    ///
    /// # Errors
    /// `Empty`, `Lagged(n)` or `Closed`.
    pub fn try_recv(&mut self) -> Result<Arc<Live>, broadcast::error::TryRecvError> {
        self.rx.try_recv()
    }
}

impl Drop for Viewer {
    fn drop(&mut self) {
        self.changes.viewers.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Steps most messages have (a bot or two, a send): allocated with the
/// trace, on the thread that also frees it when the ring evicts it.
const STEPS: usize = 4;

#[derive(Debug)]
struct State {
    steps: Vec<Stamped>,
    /// Every handle is gone: nothing more will happen to the message.
    done: bool,
}

impl Live {
    /// A trace numbered `seq`, begun now, with one handle.
    fn begun(seq: u64, head: Header, changes: Arc<Changes>) -> Arc<Live> {
        Arc::new(Live {
            seq,
            head,
            started: Instant::now(),
            state: Mutex::new(State {
                steps: Vec::with_capacity(STEPS),
                done: false,
            }),
            handles: AtomicUsize::new(1),
            changes,
        })
    }

    pub fn seq(&self) -> u64 {
        self.seq
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn push(&self, step: Step) {
        let at_us = u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.state().steps.push(Stamped { at_us, step });
    }

    pub(super) fn finish(&self) {
        self.state().done = true;
    }

    /// How far the trace got: (steps, done), to tell a change from a repeat.
    pub fn progress(&self) -> (usize, bool) {
        let s = self.state();
        (s.steps.len(), s.done)
    }

    fn id(&self) -> Cow<'_, str> {
        let id = self.head.get(Field::Id).unwrap_or("");
        if self.head.numbered {
            Cow::Owned(format!("{id}:{}", self.seq))
        } else {
            Cow::Borrowed(id)
        }
    }

    pub fn is_dry_run(&self) -> bool {
        self.head.dry_run
    }

    fn asked(&self, bot: &str) -> bool {
        self.state()
            .steps
            .iter()
            .any(|s| matches!(&s.step, Step::Bot { id, .. } if &*id.bot == bot))
    }

    /// The trace as it is now, with its verdict.
    pub fn snapshot(&self) -> Trace {
        let (steps, done) = {
            let s = self.state();
            (s.steps.clone(), s.done)
        };
        let (outcome, why) = judge(&self.head, &steps, done);
        let h = &self.head;
        let text = |f| h.get(f).map(str::to_string);
        Trace {
            seq: self.seq,
            id: self.id().into_owned(),
            kind: h.kind,
            at_ms: h.at_ms,
            chat: text(Field::Chat),
            chat_name: text(Field::ChatName),
            sender: text(Field::Sender),
            sender_qq: text(Field::SenderQq),
            content: text(Field::Content).unwrap_or_default(),
            dry_run: h.dry_run,
            steps,
            outcome,
            why,
        }
    }
}

/// A trace as `/admin/trace` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Trace {
    pub seq: u64,
    pub id: String,
    pub kind: Kind,
    pub at_ms: u64,
    pub chat: Option<String>,
    pub chat_name: Option<String>,
    pub sender: Option<String>,
    pub sender_qq: Option<String>,
    pub content: String,
    /// Present (true) only on a dry run's trace.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    pub steps: Vec<Stamped>,
    pub outcome: Outcome,
    pub why: String,
}

/// Which traces to list.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Only traces numbered above this.
    pub after: u64,
    /// At most this many (the first ones after `after`).
    pub limit: usize,
    /// Only this chat (`group:123`).
    pub chat: Option<String>,
    /// Only traces in which this bot was asked.
    pub bot: Option<String>,
}

/// The ring; cheap to clone. Off (`trace_size = 0`) it records nothing and
/// its handles are empty.
#[derive(Clone, Default)]
pub struct Traces(Option<Arc<Shared>>);

struct Shared {
    size: usize,
    /// A std mutex: held to push or to pick traces, never across `.await`.
    ring: Mutex<Ring>,
    changes: Arc<Changes>,
}

impl Shared {
    /// A new trace, numbered, in the ring (the oldest goes when full).
    fn push(&self, head: Header) -> Arc<Live> {
        let (live, evicted) = {
            let mut ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
            let seq = ring.next;
            ring.next += 1;
            let live = Live::begun(seq, head, self.changes.clone());
            let evicted = if ring.traces.len() >= self.size {
                ring.traces.pop_front()
            } else {
                None
            };
            ring.traces.push_back(live.clone());
            (live, evicted)
        };
        // Freed outside the lock.
        drop(evicted);
        live
    }
}

#[derive(Default)]
struct Ring {
    traces: VecDeque<Arc<Live>>,
    next: u64,
}

impl Traces {
    /// A ring of the newest `size` traces; 0 turns tracing off.
    pub fn new(size: usize) -> Traces {
        if size == 0 {
            return Traces(None);
        }
        Traces(Some(Arc::new(Shared {
            size,
            ring: Mutex::new(Ring {
                traces: VecDeque::with_capacity(size.min(4096)),
                next: 1,
            }),
            changes: Arc::new(Changes {
                tx: broadcast::channel(CHANGES).0,
                viewers: AtomicUsize::new(0),
            }),
        })))
    }

    /// Tracing off.
    pub fn off() -> Traces {
        Traces(None)
    }

    pub fn is_on(&self) -> bool {
        self.0.is_some()
    }

    /// Begins a trace; `head` is only built when tracing is on.
    pub fn begin(&self, head: impl FnOnce() -> Header) -> Handle {
        match &self.0 {
            Some(shared) => Handle::new(shared.push(head())),
            None => Handle::off(),
        }
    }

    /// Begins a dry run's trace (`head` marked as one), and the trace to
    /// read once every handle is gone. It is always recorded — the dry
    /// run's answer is made of it — in the ring when tracing is on, else
    /// on its own (numbered 0, seen by nobody else).
    pub fn begin_dry_run(&self, mut head: Header) -> (Handle, Arc<Live>) {
        head.dry_run = true;
        let live = match &self.0 {
            Some(shared) => shared.push(head),
            None => Live::begun(
                0,
                head,
                Arc::new(Changes {
                    tx: broadcast::channel(1).0,
                    viewers: AtomicUsize::new(0),
                }),
            ),
        };
        (Handle::new(live.clone()), live)
    }

    fn ring(&self) -> Option<MutexGuard<'_, Ring>> {
        self.0
            .as_ref()
            .map(|s| s.ring.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The traces `q` asks for, by number ascending, and the highest number
    /// in the ring (0 when empty).
    pub fn list(&self, q: &Query) -> (Vec<Trace>, u64) {
        let Some(ring) = self.ring() else {
            return (Vec::new(), 0);
        };
        let last = ring.traces.back().map_or(0, |t| t.seq);
        // Numbers are contiguous in the ring: skip straight to `after`.
        let first = ring.traces.front().map_or(0, |t| t.seq);
        let skip =
            usize::try_from(q.after.saturating_add(1).saturating_sub(first)).unwrap_or(usize::MAX);
        let picked: Vec<Arc<Live>> = ring
            .traces
            .iter()
            .skip(skip)
            .filter(|t| q.chat.is_none() || t.head.get(Field::Chat) == q.chat.as_deref())
            .filter(|t| q.bot.as_deref().is_none_or(|b| t.asked(b)))
            .take(q.limit)
            .cloned()
            .collect();
        drop(ring);
        (picked.iter().map(|t| t.snapshot()).collect(), last)
    }

    /// One trace, by the message's id or by the trace's number.
    pub fn find(&self, id: &str) -> Option<Trace> {
        let ring = self.ring()?;
        let seq: Option<u64> = id.parse().ok();
        let found = ring
            .traces
            .iter()
            .rev()
            .find(|t| t.id() == id)
            .or_else(|| {
                let seq = seq?;
                let first = ring.traces.front()?.seq;
                ring.traces
                    .get(usize::try_from(seq.checked_sub(first)?).ok()?)
            })
            .cloned();
        drop(ring);
        found.map(|t| t.snapshot())
    }

    /// Every trace begun or changed from now on; `None` when tracing is off.
    pub fn subscribe(&self) -> Option<Viewer> {
        let shared = self.0.as_ref()?;
        let changes = shared.changes.clone();
        changes.viewers.fetch_add(1, Ordering::Relaxed);
        Some(Viewer {
            rx: changes.tx.subscribe(),
            changes,
        })
    }

    /// How many traces the ring keeps (0: off).
    pub fn size(&self) -> usize {
        self.0.as_ref().map_or(0, |s| s.size)
    }
}
