//! The handle a message carries: through the pipeline's lane, the scripts,
//! the webhook's backlog and the session's sends, each appending its steps.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::ring::Live;
use super::step::Step;

/// A trace being written, or nothing (tracing off). Cheap to clone; when
/// the last clone is dropped the trace is complete. It counts its clones
/// in the trace itself (`Live::handles`), so it needs no allocation of its
/// own.
#[derive(Default)]
pub struct Handle(Option<Arc<Live>>);

impl Handle {
    /// The first handle of a trace just begun (its count starts at 1).
    pub(super) fn new(live: Arc<Live>) -> Handle {
        live.changes.changed(&live);
        Handle(Some(live))
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
        if let Some(live) = &self.0 {
            live.push(step());
            live.changes.changed(live);
        }
    }

    /// Whether this is a dry run's trace: whoever would act on QQ, the
    /// webhook or the bot's store records what it would do instead.
    pub fn is_dry_run(&self) -> bool {
        self.0.as_ref().is_some_and(|l| l.is_dry_run())
    }

    /// The trace's number, when on.
    pub fn seq(&self) -> Option<u64> {
        self.0.as_ref().map(|l| l.seq())
    }
}

impl Clone for Handle {
    fn clone(&self) -> Handle {
        if let Some(live) = &self.0 {
            live.handles.fetch_add(1, Ordering::Relaxed);
        }
        Handle(self.0.clone())
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Some(live) = &self.0
            // The last handle: what happened before its drop is all there
            // is (AcqRel orders the other handles' steps before `finish`).
            && live.handles.fetch_sub(1, Ordering::AcqRel) == 1
        {
            live.finish();
            live.changes.changed(live);
        }
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
