//! The HTTP surface: the Openqq API, the simulator's control API, the
//! admin routes, and the console page at `/`. Handlers are thin: extract,
//! one session call, render.

mod admin;
mod admin_auth;
mod console;
mod dry_run;
pub mod error;
pub mod extract;
pub mod guard;
mod logs;
mod metrics;
pub mod openqq;
mod sim;
pub mod state;
mod trace;

use std::sync::Arc;

use axum::Router;
use axum::middleware;

pub use state::AppState;

/// The whole HTTP app. Unknown paths get 403 `request error` (spec §1),
/// with CORS open as on every `/openqq/*` answer. In front of every route,
/// unknown paths included, the cross-site guard (`guard`) refuses what a
/// foreign web page, a rebinding name or a peer outside `allow_from` sends.
pub fn router(state: AppState, guard: Arc<guard::Policy>) -> Router {
    let mut app = openqq::router(state.clone())
        .merge(admin::router(state.clone()))
        .merge(console::router());
    if state.sim.is_some() {
        app = app.merge(sim::router());
    }
    app.fallback(error::unknown_path)
        .with_state(state)
        .layer(middleware::from_fn_with_state(guard, guard::check))
}

#[cfg(test)]
#[path = "router_props.rs"]
mod props;
