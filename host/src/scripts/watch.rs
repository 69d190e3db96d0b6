//! Watches the script files' directories and pokes the reloader when a
//! `.wasm` file is complete, appears, changes or goes away.
//!
//! A write is acted on once it is *complete*: when the writer closes the
//! file (inotify's close-after-write) or renames it into place, the reloader
//! is poked at once — nothing waits out a quiet time. A plain modification
//! (a write still under way) is never taken as done by itself: it only arms
//! a fallback, a quiet time after which the file is reloaded anyway, for
//! backends that report no close (kqueue, FSEvents, Windows, the poll
//! watcher) and for writers that never close. Where closes are reported the
//! fallback waits long (`UNCLOSED_QUIET`), elsewhere it is the old debounce.
//! A hard link made into place (how cargo places its build output) is a
//! finished file with no close to come: it reloads at once too.
//!
//! The reloader reads every file afresh and swaps only what really changed,
//! so a spurious poke costs a few hashes; a file that still fails to
//! compile because it was caught half-written is retried by the reloader
//! until it settles, never rejected while it changes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{EventKind, RecursiveMode, Watcher as _};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::reload::ReloadHandle;

/// Quiet time after a modification before the file is reloaded anyway, on a
/// backend that reports no close: a copy is many writes.
pub const DEBOUNCE: Duration = Duration::from_millis(150);

/// The same where closes are reported (inotify): a writer still holding the
/// file open after this long without writing is taken as done with it.
pub const UNCLOSED_QUIET: Duration = Duration::from_secs(1);

/// Whether the platform's recommended watcher reports close-after-write.
const REPORTS_CLOSE: bool = cfg!(any(target_os = "linux", target_os = "android"));

/// What one file event says about the `.wasm` files it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// A write finished (closed, renamed into place) or the backend lost
    /// events: reload now.
    Now,
    /// Written to, created, touched: the write may be under way.
    Later,
    /// Nothing that changes a file's content (opened, read, closed unwritten).
    Ignore,
}

/// Classifies one event (the `.wasm` filter is applied by the caller).
pub(crate) fn verdict(kind: &EventKind) -> Verdict {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => Verdict::Now,
        EventKind::Access(_) => Verdict::Ignore,
        // A rename into place, or out of it: the name now holds a whole file
        // or none. (`Name(From)` of a `.part` file is filtered out by name.)
        EventKind::Modify(ModifyKind::Name(_)) => Verdict::Now,
        // A removal may be one of many (a directory going away, which must
        // unload nothing): wait for the quiet time, as before, and see the
        // whole of it. Nothing new is loaded by a removal, so no swap waits.
        EventKind::Remove(_) => Verdict::Later,
        // A create is the writer's open: the content is still to come.
        EventKind::Create(_) | EventKind::Modify(_) | EventKind::Any | EventKind::Other => {
            Verdict::Later
        }
    }
}

fn is_wasm(p: &Path) -> bool {
    p.extension().is_some_and(|x| x == "wasm")
}

/// Whether `p` is a second name of a file that already has content: what
/// `link(2)` creates, where a writer's `open(O_CREAT)` makes one empty name.
#[cfg(unix)]
fn is_hard_link(p: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file() && m.nlink() > 1 && m.len() > 0)
}

#[cfg(not(unix))]
fn is_hard_link(_: &Path) -> bool {
    false
}

/// Files with a write under way, and whether a reload is due now.
#[derive(Default)]
struct Pending {
    now: bool,
    /// Each file's fallback: when it is reloaded if no close comes first.
    later: HashMap<PathBuf, Instant>,
}

struct Shared {
    pending: Mutex<Pending>,
    wake: Notify,
}

impl Shared {
    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Keeps the watcher alive; dropping it stops watching.
pub struct Watcher {
    _watcher: notify::RecommendedWatcher,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts watching `dirs` (non-recursively). Each directory is watched on
/// its own: one that cannot be watched (missing, unreadable) is logged as an
/// error naming it, and the others are still watched. Call within a tokio
/// runtime (the fallback timers run there).
///
/// # Errors
/// When the platform watcher cannot be created.
pub fn watch(dirs: Vec<PathBuf>, reloader: ReloadHandle) -> anyhow::Result<Watcher> {
    let quiet = if REPORTS_CLOSE {
        UNCLOSED_QUIET
    } else {
        DEBOUNCE
    };
    let shared = Arc::new(Shared {
        pending: Mutex::new(Pending::default()),
        wake: Notify::new(),
    });
    let events = shared.clone();
    let mut watcher =
        notify::recommended_watcher(move |res: notify::Result<notify::Event>| match res {
            Ok(e) => {
                let lost = e.need_rescan();
                let wasm: Vec<&PathBuf> = e.paths.iter().filter(|p| is_wasm(p)).collect();
                if wasm.is_empty() && !lost {
                    return;
                }
                let v = match (lost, verdict(&e.kind)) {
                    (true, _) => Verdict::Now,
                    // A hard link made into place (cargo puts its build
                    // output there so) is the whole of a finished file, and
                    // no close follows it.
                    (false, Verdict::Later)
                        if matches!(e.kind, EventKind::Create(_))
                            && wasm.iter().all(|p| is_hard_link(p)) =>
                    {
                        Verdict::Now
                    }
                    (false, v) => v,
                };
                let mut p = events.pending();
                match v {
                    Verdict::Now => {
                        for path in wasm {
                            p.later.remove(path);
                        }
                        p.now = true;
                    }
                    Verdict::Later => {
                        let at = Instant::now() + quiet;
                        for path in wasm {
                            p.later.insert(path.clone(), at);
                        }
                    }
                    Verdict::Ignore => return,
                }
                drop(p);
                events.wake.notify_one();
            }
            Err(e) => tracing::warn!(error = %e, "file watcher error"),
        })
        .context("cannot start the file watcher")?;
    for dir in &dirs {
        match watcher.watch(dir, RecursiveMode::NonRecursive) {
            Ok(()) => tracing::info!(dir = %dir.display(), "watching for script changes"),
            Err(e) => tracing::error!(
                dir = %dir.display(),
                error = %e,
                "cannot watch this directory; its scripts will not reload on file changes (SIGHUP or POST /admin/scripts/reload still reload them)"
            ),
        }
    }
    let task = tokio::spawn(poker(shared, reloader));
    Ok(Watcher {
        _watcher: watcher,
        task,
    })
}

/// Pokes the reloader when a write completes, or when a file's fallback
/// quiet time has passed without a close.
async fn poker(shared: Arc<Shared>, reloader: ReloadHandle) {
    loop {
        let woken = shared.wake.notified();
        tokio::pin!(woken);
        // Registered before the look, so an event in between still wakes us.
        woken.as_mut().enable();
        let next = {
            let mut p = shared.pending();
            let now = Instant::now();
            let before = p.later.len();
            p.later.retain(|_, at| *at > now);
            let due = std::mem::take(&mut p.now) || p.later.len() < before;
            if due {
                drop(p);
                tracing::debug!("script files changed; reloading");
                reloader.poke();
                continue;
            }
            p.later.values().min().copied()
        };
        match next {
            Some(at) => {
                tokio::select! {
                    () = &mut woken => {}
                    () = tokio::time::sleep_until(at) => {}
                }
            }
            None => woken.await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, DataChange, RemoveKind, RenameMode};

    #[test]
    fn a_hard_link_is_a_finished_file_and_a_new_file_is_not() {
        let dir = std::env::temp_dir().join(format!("openqq-watch-link-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let built = dir.join("built.wasm");
        std::fs::write(&built, b"\0asm").unwrap();
        assert!(!is_hard_link(&built), "one name only");
        let linked = dir.join("bot.wasm");
        std::fs::hard_link(&built, &linked).unwrap();
        assert!(cfg!(not(unix)) || is_hard_link(&linked));
        let empty = dir.join("empty.wasm");
        std::fs::write(&empty, b"").unwrap();
        std::fs::hard_link(&empty, dir.join("empty2.wasm")).unwrap();
        assert!(!is_hard_link(&empty), "no content yet");
        assert!(!is_hard_link(&dir.join("gone.wasm")));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn only_a_completed_write_reloads_at_once() {
        let now = [
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
            EventKind::Modify(ModifyKind::Name(RenameMode::To)),
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)),
            EventKind::Modify(ModifyKind::Name(RenameMode::From)),
        ];
        for k in now {
            assert_eq!(verdict(&k), Verdict::Now, "{k:?}");
        }
        let later = [
            EventKind::Create(CreateKind::File),
            EventKind::Modify(ModifyKind::Data(DataChange::Any)),
            EventKind::Modify(ModifyKind::Any),
            EventKind::Remove(RemoveKind::File),
            EventKind::Any,
        ];
        for k in later {
            assert_eq!(verdict(&k), Verdict::Later, "{k:?}");
        }
        // The reloader's own reads must not poke it again.
        for m in [AccessMode::Read, AccessMode::Any] {
            assert_eq!(
                verdict(&EventKind::Access(AccessKind::Close(m))),
                Verdict::Ignore
            );
        }
        assert_eq!(
            verdict(&EventKind::Access(AccessKind::Open(AccessMode::Any))),
            Verdict::Ignore
        );
    }
}
