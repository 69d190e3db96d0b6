//! The WebSocket to the OneBot implementation.
//!
//! Owns: the socket, the calls in flight, the link state. Must not: know
//! contacts or Openqq; events go out as decoded `Incoming`s, in order, on one
//! queue that outlives the connections.
//!
//! The parts, one concept each:
//!
//! | file | what it is |
//! |---|---|
//! | `handle.rs` | `Link`, the cheap handle: calls, each waiting for the answer with its `echo`; the link state |
//! | `connection.rs` | one WebSocket's loop (`Link::serve`): read, write, ping, watch for silence |
//! | `queue.rs` | `EventQueue`: events on their way to the converter; the reader never waits on it |
//! | `dial.rs` | forward mode: dial the implementation, reconnect with backoff |
//! | `accept.rs` | reverse mode: listen, check the upgrade (token, role), serve the newest connection |
//!
//! The connection loop is written against `Sink + Stream`, so unit tests
//! feed it channels (`super::testing`). One task per link runs `dial` or
//! `accept`, which runs one connection at a time; there is no other task:
//! the converter (`super::inbound`) reads the queue directly.
//!
//! The session sees `Up`/`Down`; a connection counts as up once the
//! implementation has said anything that is not an auth refusal, so a wrong
//! token never looks like a working link.

mod accept;
mod connection;
mod dial;
mod handle;
mod queue;

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use super::codec::Incoming;

pub use accept::{AcceptRules, run_reverse};
pub use dial::run_forward;
pub use handle::Link;
pub use queue::EventQueue;

/// A handshake that takes longer is abandoned (dialing and accepting alike).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The link's clocks. Defaults follow `spec/onebot.md` §1.7 and §5.
#[derive(Debug, Clone)]
pub struct Timing {
    /// How often we ping; any frame back proves the peer alive.
    pub ping_every: Duration,
    /// Silence longer than this ends the connection (raised to three
    /// heartbeat intervals when the implementation announces longer beats).
    pub stale_after: Duration,
    /// Reconnect delays: exponential from `backoff_min` to `backoff_max`,
    /// each with jitter.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// A connection that lasted this long resets the backoff.
    pub stable_after: Duration,
    /// An implementation that says nothing for this long after the upgrade
    /// is taken as up anyway (every known one sends `lifecycle` first).
    pub confirm_grace: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            ping_every: Duration::from_secs(15),
            stale_after: Duration::from_secs(45),
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            stable_after: Duration::from_secs(30),
            confirm_grace: Duration::from_secs(2),
        }
    }
}

/// Where the link stands, for callers that wait for it (`login`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Never connected yet.
    Connecting,
    /// Connection number `generation` is up.
    Up { generation: u64 },
    /// Not connected; `auth_refused` when the last attempt failed on the
    /// access token (retrying is slow then).
    Down { auth_refused: bool },
}

/// What the link tells the backend, in order.
#[derive(Debug)]
pub enum LinkEvent {
    Up {
        generation: u64,
    },
    Down,
    /// Boxed: events are large and `Up`/`Down` tiny.
    Event(Box<Incoming>),
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq)]
pub enum ConnEnd {
    /// The peer closed, or the TCP connection ended.
    Closed(String),
    /// The implementation refused our access token (a `1403` frame).
    AuthRefused(String),
    /// Nothing arrived for this long.
    Stale(Duration),
    /// Reading or writing failed.
    Failed(String),
    /// Nobody consumes events any more (the gateway is stopping).
    Stopped,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing under these locks can panic half-way through a change.
    m.lock().unwrap_or_else(|p| p.into_inner())
}
