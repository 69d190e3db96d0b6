//! What handlers share: handles, never business state.

use std::sync::Arc;

use crate::backend::sim::Sim;
use crate::session::SessionHandle;

#[derive(Clone)]
pub struct AppState {
    pub session: SessionHandle,
    /// The simulator, when the backend is `sim` (enables `/sim/*`).
    pub sim: Option<Arc<Sim>>,
}
