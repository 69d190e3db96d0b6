//! The HTTP surface: the Openqq API, the simulator's control API, and the
//! admin routes. Handlers are thin: extract, one session call, render.

mod admin;
pub mod error;
pub mod extract;
pub mod openqq;
mod sim;
pub mod state;

use axum::Router;

pub use state::AppState;

/// The whole HTTP app. Unknown paths get 403 `request error` (spec §1),
/// with CORS open as on every `/openqq/*` answer.
pub fn router(state: AppState) -> Router {
    let mut app = openqq::router(state.clone()).merge(admin::router(state.clone()));
    if state.sim.is_some() {
        app = app.merge(sim::router());
    }
    app.fallback(error::unknown_path).with_state(state)
}

#[cfg(test)]
#[path = "router_props.rs"]
mod props;
