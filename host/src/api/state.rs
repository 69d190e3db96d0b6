//! What handlers share: handles, never business state.

use std::sync::Arc;

use crate::backend::sim::Sim;
use crate::scripts::{Registry, ReloadHandle};
use crate::session::SessionHandle;

#[derive(Clone)]
pub struct AppState {
    pub session: SessionHandle,
    /// The simulator, when the backend is `sim` (enables `/sim/*`).
    pub sim: Option<Arc<Sim>>,
    pub scripts: Registry,
    /// `None` when no scripts are configured.
    pub reloader: Option<ReloadHandle>,
    /// The token that opens `/admin/*` to non-loopback clients.
    pub admin_token: Option<Arc<str>>,
    /// The Openqq dialect answers are shaped in.
    pub dialect: crate::render::Dialect,
    /// When set, every `/openqq/*` request must present it.
    pub access_token: Option<Arc<str>>,
    /// The v2 `check_event` buffer.
    pub reports: crate::webhook::ReportBuffer,
    /// The `post_api` webhook, when configured (its counters for `/admin/webhook`).
    pub webhook: Option<crate::webhook::Webhook>,
    /// The fleet bus's counters, when `[bus]` is configured (`/metrics`).
    pub bus: Option<Arc<crate::bus::BusStats>>,
    /// Set to true by `stop_client`: the server drains and stops.
    pub stopping: tokio::sync::watch::Sender<bool>,
    pub started: std::time::SystemTime,
    /// v2 `async=1` sends under way in the background. With none free an
    /// async send is made synchronously: the client waits, which is the
    /// back-pressure a background task would hide.
    pub async_sends: Arc<tokio::sync::Semaphore>,
    /// The recent log lines (`/admin/logs`): the process's ring, empty
    /// unless `main` installed its layer.
    pub logs: Arc<crate::logring::LogRing>,
    /// Typed messages through the bots with nothing sent (`/admin/dry-run`).
    pub dry_run: crate::pipeline::DryRun,
}

/// How many `async=1` sends may be under way in the background at once.
pub const ASYNC_SENDS: usize = 1024;
