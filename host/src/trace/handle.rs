//! The handle a message carries: through the pipeline's lane, the scripts,
//! the webhook's backlog and the session's sends, each appending its steps.

use std::fmt;
use std::sync::Arc;

use tokio::sync::broadcast;

use super::ring::Live;
use super::step::Step;

/// A trace being written, or nothing (tracing off). Cheap to clone; when
/// the last clone is dropped the trace is complete.
#[derive(Clone, Default)]
pub struct Handle(Option<Arc<Active>>);

/// The writers' side of one trace: dropped with the last handle.
struct Active {
    live: Arc<Live>,
    changes: broadcast::Sender<Arc<Live>>,
}

impl Active {
    /// Tells live viewers, if there are any (none: no work at all).
    fn changed(&self) {
        if self.changes.receiver_count() > 0 {
            let _ = self.changes.send(self.live.clone());
        }
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.live.finish();
        self.changed();
    }
}

impl Handle {
    pub(super) fn new(live: Arc<Live>, changes: broadcast::Sender<Arc<Live>>) -> Handle {
        let active = Active { live, changes };
        active.changed();
        Handle(Some(Arc::new(active)))
    }

    /// No trace: every step is ignored unbuilt.
    pub fn off() -> Handle {
        Handle(None)
    }

    pub fn is_on(&self) -> bool {
        self.0.is_some()
    }

    /// Appends the step `step` builds; with tracing off, `step` is not
    /// called (nothing is allocated).
    pub fn step(&self, step: impl FnOnce() -> Step) {
        if let Some(a) = &self.0 {
            a.live.push(step());
            a.changed();
        }
    }

    /// The trace's number, when on.
    pub fn seq(&self) -> Option<u64> {
        self.0.as_ref().map(|a| a.live.seq())
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.seq() {
            Some(seq) => write!(f, "Trace({seq})"),
            None => f.write_str("Trace(off)"),
        }
    }
}

/// Two messages are equal whatever their traces: a trace is what happened
/// to a message, not part of it.
impl PartialEq for Handle {
    fn eq(&self, _: &Handle) -> bool {
        true
    }
}
