//! What can go wrong with a script, by the phase it happened in.

/// A script failure. Loading failures keep the old version serving; call
/// failures pass the message on (the webhook still gets it).
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    /// The file could not be read, compiled, linked or initialised.
    #[error("{script}: cannot load ({stage}): {reason}")]
    Load {
        script: String,
        stage: LoadStage,
        reason: String,
    },
    /// The guest trapped (a panic, an exception, `unreachable`).
    #[error("{script}: trapped: {reason}")]
    Trap { script: String, reason: String },
    /// The call ran past its deadline (the guest's own running time) and
    /// was stopped.
    #[error("{script}: ran past its {deadline_ms} ms deadline and was stopped")]
    Deadline { script: String, deadline_ms: u64 },
    /// The call took longer than its wall-clock limit — waiting, not
    /// running (a WASI sleep or poll) — and was stopped.
    #[error(
        "{script}: ran past its {wall_ms} ms wall-clock limit (wall_ms; it was waiting, not running) and was stopped"
    )]
    WallClock { script: String, wall_ms: u64 },
    /// The guest held more WASI resources (streams, pollables) than its cap.
    #[error(
        "{script}: held more than {limit} WASI resources ([limits] max_resources) and was stopped"
    )]
    Resources { script: String, limit: usize },
    /// The guest asked for more memory than its cap and failed on it.
    #[error("{script}: exceeded its {limit_mb} MiB memory cap: {reason}")]
    Memory {
        script: String,
        limit_mb: u64,
        reason: String,
    },
}

impl ScriptError {
    /// The limit that ended a call, for the log and `/admin/scripts`.
    pub fn limit(&self) -> Option<&'static str> {
        match self {
            ScriptError::Deadline { .. } => Some("deadline"),
            ScriptError::WallClock { .. } => Some("wall clock"),
            ScriptError::Memory { .. } => Some("memory"),
            ScriptError::Resources { .. } => Some("resources"),
            // A rebuild that failed (its own reason says which limit, if any).
            ScriptError::Load { .. } => Some("rebuild"),
            ScriptError::Trap { .. } => None,
        }
    }
}

/// The phase a load failed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadStage {
    Read,
    Compile,
    Link,
    Instantiate,
    Init,
    /// The swap gate replayed the journal and refused the version.
    Gate,
}

impl std::fmt::Display for LoadStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LoadStage::Read => "read",
            LoadStage::Compile => "compile",
            LoadStage::Link => "link",
            LoadStage::Instantiate => "instantiate",
            LoadStage::Init => "init",
            LoadStage::Gate => "replay gate",
        })
    }
}
