//! The per-message trace: what happened to each inbound message, event and
//! timer call, step by step — each bot asked and how its call ended, the
//! webhook's post and answer, each send and mute it caused — so "why didn't
//! my bot answer?" has an answer without reading logs.
//!
//! Owns: the bounded ring of traces (`ring.rs`, `[console] trace_size`),
//! what a trace knows when it begins (`header.rs`), the steps (`step.rs`), the handle carried with a message through the
//! pipeline, the scripts, the webhook and the session's sends (`handle.rs`),
//! and the one-line verdict computed from the steps (`verdict.rs`). Must
//! not: know HTTP, wasm or the pipeline (they append steps through a
//! `Handle`; `api/trace.rs` serves the ring).
//!
//! A trace is *pending* while a handle to it is alive (the message being
//! decided, waiting for the webhook, its reply not yet confirmed by QQ);
//! when the last one is dropped, the trace is complete. Recording costs a
//! short mutex per step; with tracing off (`trace_size = 0`) a handle is
//! `None` and a step is never even built.

mod handle;
mod header;
mod ring;
mod step;
mod verdict;

pub use handle::Handle;
pub use header::{Field, Header, Kind};
pub use ring::{Live, Query, Trace, Traces, Viewer};
pub use step::{BotId, BotOutcome, Done, Stamped, Step, Who};
pub use verdict::Outcome;

/// Content longer than this many characters is cut in a trace.
pub const CONTENT_CHARS: usize = 500;

/// `text` cut to at most `CONTENT_CHARS` characters (an ellipsis says so).
pub fn truncated(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(CONTENT_CHARS) {
        Some((at, _)) => format!("{}…", &text[..at]).into(),
        None => text.into(),
    }
}

#[cfg(test)]
mod tests;
