//! Bots as WebAssembly components: the host side of the `openqq:bot` world.
//!
//! Owns: the process's one wasmtime engine and compile cache (`engine`,
//! `cache`), a compiled version of a script and its live instance
//! (`loaded`), the ordered registry the pipeline calls (`registry`), the host
//! imports (`host`), per-store state and limits (`state`, `limits`).
//! Must not: block the async runtime — compiles run in `spawn_blocking`, and
//! every guest call has an epoch deadline that yields at each tick.
//!
//! Lifetimes, after spin: `ScriptEngine` (process) → `LoadedScript` (one
//! version of one file) → `Instance` (a store, reused across messages).

mod actions;
mod addressing;
mod bindings;
mod cache;
pub mod check;
mod dry_store;
mod engine;
mod error;
mod gate;
mod host;
mod http;
mod http_addr;
mod http_body;
mod http_client;
pub mod limits;
mod loaded;
pub mod loader;
mod moderation;
mod registry;
mod reload;
pub mod replay;
mod slot;
mod state;
mod stats;
mod store_imports;
mod watch;

pub use cache::Source;
pub use engine::{Prepared, ScriptEngine, is_component, world_of};
pub use error::{LoadStage, ScriptError};
pub use loaded::{Instance, LoadedScript, to_wit};
pub use loader::{ScriptSpec, flatten, specs};
pub use registry::{Registry, Script};
pub use reload::{Rejection, ReloadHandle, ReloadReport, Reloader};
pub use state::LogBudget;
pub use stats::ScriptStats;
pub use watch::{Watcher, watch};
