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
}
