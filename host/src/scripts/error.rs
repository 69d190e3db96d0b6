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
    /// The call ran past its deadline and was stopped.
    #[error("{script}: ran past its {deadline_ms} ms deadline and was stopped")]
    Deadline { script: String, deadline_ms: u64 },
    /// The guest asked for more memory than its cap and failed on it.
    #[error("{script}: exceeded its {limit_mb} MiB memory cap: {reason}")]
    Memory {
        script: String,
        limit_mb: u64,
        reason: String,
    },
}

/// The phase a load failed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadStage {
    Read,
    Compile,
    Link,
    Instantiate,
    Init,
}

impl std::fmt::Display for LoadStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LoadStage::Read => "read",
            LoadStage::Compile => "compile",
            LoadStage::Link => "link",
            LoadStage::Instantiate => "instantiate",
            LoadStage::Init => "init",
        })
    }
}
