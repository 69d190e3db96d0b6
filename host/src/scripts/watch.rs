//! Watches the script files' directories and pokes the reloader when a
//! `.wasm` file appears, changes or goes away.
//!
//! Events are debounced (a copy is many writes); the reloader reads every
//! file afresh and swaps only what really changed, so a spurious poke costs
//! a few hashes.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use notify::RecursiveMode;
use notify_debouncer_mini::{DebounceEventResult, Debouncer, new_debouncer};

use super::reload::ReloadHandle;

/// Quiet time before a burst of file events becomes one reload.
pub const DEBOUNCE: Duration = Duration::from_millis(150);

/// Keeps the watcher alive; dropping it stops watching.
pub struct Watcher {
    _debouncer: Debouncer<notify::RecommendedWatcher>,
}

/// Starts watching `dirs` (non-recursively). Each directory is watched on
/// its own: one that cannot be watched (missing, unreadable) is logged as an
/// error naming it, and the others are still watched.
///
/// # Errors
/// When the platform watcher cannot be created.
pub fn watch(dirs: Vec<PathBuf>, reloader: ReloadHandle) -> anyhow::Result<Watcher> {
    let mut debouncer = new_debouncer(DEBOUNCE, move |res: DebounceEventResult| match res {
        Ok(events) => {
            if events
                .iter()
                .any(|e| e.path.extension().is_some_and(|x| x == "wasm"))
            {
                tracing::debug!(files = events.len(), "script files changed; reloading");
                reloader.poke();
            }
        }
        Err(e) => tracing::warn!(error = %e, "file watcher error"),
    })
    .context("cannot start the file watcher")?;
    for dir in &dirs {
        match debouncer.watcher().watch(dir, RecursiveMode::NonRecursive) {
            Ok(()) => tracing::info!(dir = %dir.display(), "watching for script changes"),
            Err(e) => tracing::error!(
                dir = %dir.display(),
                error = %e,
                "cannot watch this directory; its scripts will not reload on file changes (SIGHUP or POST /admin/scripts/reload still reload them)"
            ),
        }
    }
    Ok(Watcher {
        _debouncer: debouncer,
    })
}
