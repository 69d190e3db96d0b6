//! Hot swap: re-read the config and the scripts, and swap in what changed
//! without losing a message.
//!
//! One `Reloader` task does every reload, so reloads never race each other;
//! the file watcher, SIGHUP and `POST /admin/scripts/reload` all poke it
//! through a `ReloadHandle`. A new version is compiled off the runtime and
//! instantiated and initialised off to the side; only then does it replace
//! the old one (`Script::swap`). A version that fails anywhere is rejected
//! with its reason and the old one keeps serving.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

use super::actions::carry_out;
use super::engine::ScriptEngine;
use super::error::{LoadStage, ScriptError};
use super::loaded::{Instance, LoadedScript};
use super::loader::{ScriptSpec, Specs, specs};
use super::registry::{Registry, Script};
use crate::config::Config;
use crate::grants::Granted;

/// A file that fails to compile while it keeps changing, or that changed
/// moments ago, is probably still being written: try again this many times,
/// this far apart, before rejecting it.
const HALF_WRITTEN_RETRIES: u32 = 8;
const HALF_WRITTEN_PAUSE: Duration = Duration::from_millis(200);
/// A file untouched this long is finished; if it is broken, it is broken.
const SETTLED_AFTER: Duration = Duration::from_secs(1);

/// A version that was refused, and why (shown by `/admin/scripts`).
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub name: String,
    pub path: PathBuf,
    pub sha256: Option<String>,
    pub reason: String,
    pub at: SystemTime,
}

/// What one reload did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReloadReport {
    pub loaded: Vec<String>,
    pub swapped: Vec<String>,
    pub unchanged: Vec<String>,
    pub unloaded: Vec<String>,
    pub rejected: Vec<Rejection>,
    /// Set when the config file could not be read again (the old one stays).
    pub config_error: Option<String>,
}

/// The last rejected version of each script name and file: keyed by both,
/// so a directory file refused for its name does not hide a rejection of
/// the script that has the name.
type Rejections = HashMap<(String, PathBuf), Rejection>;

/// Pokes the reloader; clonable.
#[derive(Clone)]
pub struct ReloadHandle {
    tx: mpsc::Sender<Option<oneshot::Sender<ReloadReport>>>,
    rejections: Arc<Mutex<Rejections>>,
}

impl ReloadHandle {
    /// Asks for a reload and waits for its report.
    pub async fn reload(&self) -> Option<ReloadReport> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Some(tx)).await.ok()?;
        rx.await.ok()
    }

    /// Asks for a reload without waiting (watcher, signal). Pokes that
    /// arrive while one is pending coalesce.
    pub fn poke(&self) {
        let _ = self.tx.try_send(None);
    }

    /// The last rejected version of each script name and file.
    pub fn rejections(&self) -> Vec<Rejection> {
        let mut v: Vec<Rejection> = self
            .rejections
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        v.sort_by(|a, b| (&a.name, &a.path).cmp(&(&b.name, &b.path)));
        v
    }
}

/// The task that owns reloading.
pub struct Reloader {
    engine: Arc<ScriptEngine>,
    registry: Registry,
    config: Config,
    rejections: Arc<Mutex<Rejections>>,
    rx: mpsc::Receiver<Option<oneshot::Sender<ReloadReport>>>,
}

impl Reloader {
    pub fn new(
        engine: Arc<ScriptEngine>,
        registry: Registry,
        config: Config,
    ) -> (Reloader, ReloadHandle) {
        // One pending poke is enough: a reload reads everything afresh.
        let (tx, rx) = mpsc::channel(8);
        let rejections = Arc::new(Mutex::new(HashMap::new()));
        let handle = ReloadHandle {
            tx,
            rejections: rejections.clone(),
        };
        (
            Reloader {
                engine,
                registry,
                config,
                rejections,
                rx,
            },
            handle,
        )
    }

    /// Reloads at every poke until every handle is gone.
    pub async fn run(mut self) {
        while let Some(reply) = self.rx.recv().await {
            let mut waiting = vec![reply];
            // Coalesce a burst of pokes into one reload.
            while let Ok(r) = self.rx.try_recv() {
                waiting.push(r);
            }
            let report = self.reload().await;
            for w in waiting.into_iter().flatten() {
                let _ = w.send(report.clone());
            }
        }
    }

    /// Loads every configured script for the first time.
    pub async fn initial_load(&mut self) -> ReloadReport {
        self.reload().await
    }

    async fn reload(&mut self) -> ReloadReport {
        let mut report = ReloadReport::default();
        if let Some(source) = &self.config.reload {
            match (source.0)() {
                // The command-line overrides are applied after the file's
                // own check: check the whole again, so a reload cannot
                // bring in what the start would have refused.
                Ok(c) => match c.check() {
                    Ok(()) => {
                        // `[journal]` is read at start: its writer keeps the
                        // file it opened, so the gate must read that one.
                        if c.journal != self.config.journal {
                            tracing::warn!("[journal] changed; it takes effect at the next start");
                        }
                        self.config = Config {
                            reload: self.config.reload.clone(),
                            journal: self.config.journal.clone(),
                            ..c
                        }
                    }
                    Err(e) => {
                        let e = format!("{e:#}");
                        tracing::error!(error = %e, "the re-read configuration is invalid; keeping the old one");
                        report.config_error = Some(e);
                    }
                },
                Err(e) => {
                    let e = format!("{e:#}");
                    tracing::error!(error = %e, "cannot re-read the configuration; keeping the old one");
                    report.config_error = Some(e);
                }
            }
        }
        let Specs {
            specs,
            refused,
            dir_error,
        } = specs(&self.config);
        let current = self.registry.list();
        for (spec, reason) in refused {
            tracing::error!(script = %spec.name, path = %spec.path.display(), "{reason}; not loaded");
            self.reject(
                &mut report,
                Rejection {
                    name: spec.name,
                    path: spec.path,
                    sha256: None,
                    reason,
                    at: SystemTime::now(),
                },
            );
        }
        let mut next: Vec<Arc<Script>> = Vec::with_capacity(specs.len());
        for spec in &specs {
            let existing = current.iter().find(|s| *s.name == *spec.name).cloned();
            match self.load_changed(spec, existing.as_deref()).await {
                Ok(None) => {
                    if let Some(s) = existing {
                        // Asked to reload, the operator wants a paused bot tried again.
                        s.clear_failures();
                        report.unchanged.push(spec.name.clone());
                        next.push(s);
                    }
                }
                Ok(Some(instances)) => match existing {
                    Some(s) if s.instances() == instances.len() => {
                        s.swap(instances);
                        tracing::info!(script = %spec.name, generation = s.generation(), "script swapped");
                        report.swapped.push(spec.name.clone());
                        next.push(s);
                    }
                    // Another number of instances: a new slot list, whose
                    // calls start when the registry list is replaced below;
                    // calls in flight finish on the old instances.
                    Some(s) => {
                        let s = Arc::new(Script::succeeding(&s, instances));
                        tracing::info!(script = %spec.name, generation = s.generation(), instances = s.instances(), "script swapped");
                        report.swapped.push(spec.name.clone());
                        next.push(s);
                    }
                    None => {
                        tracing::info!(script = %spec.name, instances = instances.len(), "script loaded");
                        report.loaded.push(spec.name.clone());
                        next.push(Arc::new(Script::new(instances)));
                    }
                },
                Err((sha256, e)) => {
                    let r = Rejection {
                        name: spec.name.clone(),
                        path: spec.path.clone(),
                        sha256,
                        reason: e.to_string(),
                        at: SystemTime::now(),
                    };
                    tracing::error!(script = %spec.name, "{e}; {}", if existing.is_some() { "the running version keeps serving" } else { "not loaded" });
                    self.reject(&mut report, r);
                    if let Some(s) = existing {
                        next.push(s);
                    }
                }
            }
        }
        // A scripts directory that cannot be listed (gone, unreadable) says
        // nothing about its files: the scripts loaded from it keep serving
        // until it can be read again, as a broken file's old version does.
        if let Some((dir, e)) = dir_error {
            tracing::error!(dir = %dir.display(), error = %e, "the scripts loaded from this directory keep serving; the [[scripts]] entries were reloaded");
            for s in current.iter() {
                let from_dir = s.current().path.parent() == Some(dir.as_path());
                let named = next.iter().any(|n| n.name == s.name);
                if from_dir && !named {
                    next.push(s.clone());
                }
            }
            report.config_error = Some(match report.config_error.take() {
                Some(first) => format!("{first}; {e}"),
                None => e,
            });
        }
        for s in current.iter() {
            if !next.iter().any(|n| Arc::ptr_eq(n, s)) {
                tracing::info!(script = %s.name, "script unloaded");
                report.unloaded.push(s.name.to_string());
            }
        }
        self.registry.set(next);
        report
    }

    /// Records a refused version for `/admin/scripts` and this reload's report.
    fn reject(&self, report: &mut ReloadReport, r: Rejection) {
        self.rejections
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((r.name.clone(), r.path.clone()), r.clone());
        report.rejected.push(r);
    }

    /// Loads `spec` when it differs from what `existing` runs; `Ok(None)`
    /// when nothing changed. Errors carry the file's hash when it was read.
    async fn load_changed(
        &self,
        spec: &ScriptSpec,
        existing: Option<&Script>,
    ) -> Result<Option<Vec<Instance>>, (Option<String>, ScriptError)> {
        let mut attempt = 0;
        loop {
            let (bytes, stamp) = read(spec).await.map_err(|e| (None, e))?;
            let sha256 = hex::encode(Sha256::digest(&bytes));
            if let Some(s) = existing {
                let cur = s.current();
                if cur.prepared.sha256 == sha256 && same_settings(&cur, spec) {
                    return Ok(None);
                }
            }
            match self.instantiate(spec, bytes).await {
                Ok(mut i) => {
                    let new = i.first().map(|n| n.version.clone());
                    if let Err(reason) = self.gate(spec, existing, new).await {
                        let e = ScriptError::Load {
                            script: spec.name.clone(),
                            stage: LoadStage::Gate,
                            reason,
                        };
                        return Err((Some(sha256), e));
                    }
                    self.send_init(&mut i);
                    return Ok(Some(i));
                }
                // A file still being written fails to compile; wait for it
                // to settle rather than rejecting a half-written file.
                Err(
                    e @ ScriptError::Load {
                        stage: LoadStage::Compile | LoadStage::Link,
                        ..
                    },
                ) if attempt < HALF_WRITTEN_RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(HALF_WRITTEN_PAUSE).await;
                    if settled(&spec.path, stamp).await {
                        return Err((Some(sha256), e));
                    }
                    tracing::info!(script = %spec.name, attempt, "file changed while loading; trying again");
                }
                Err(e) => return Err((Some(sha256), e)),
            }
        }
    }

    /// Compiles `bytes` (or loads them from the cache) and builds and
    /// initialises every instance `spec` asks for.
    async fn instantiate(
        &self,
        spec: &ScriptSpec,
        bytes: Vec<u8>,
    ) -> Result<Vec<Instance>, ScriptError> {
        let prepared = {
            let engine = self.engine.clone();
            let name = spec.name.clone();
            tokio::task::spawn_blocking(move || engine.prepare(&name, &bytes))
                .await
                .map_err(|e| ScriptError::Load {
                    script: spec.name.clone(),
                    stage: LoadStage::Compile,
                    reason: format!("compile task failed: {e}"),
                })??
        };
        tracing::info!(
            script = %spec.name,
            sha256 = %&prepared.sha256[..12],
            source = ?prepared.source,
            took_ms = prepared.load_time.as_millis() as u64,
            "script compiled"
        );
        // The bot's denials and send rate outlive its versions.
        let granted = Arc::new(match self.registry.get(&spec.name) {
            Some(old) => Granted::succeeding(spec.grants.clone(), &old.current().granted),
            None => Granted::new(spec.grants.clone()),
        });
        let version = Arc::new(LoadedScript::new(
            spec,
            prepared,
            granted,
            self.registry.timers().clone(),
        ));
        let mut instances = Vec::with_capacity(version.instances);
        for _ in 0..version.instances {
            instances.push(version.instantiate(self.registry.session().clone()).await?);
        }
        Ok(instances)
    }

    /// The swap gate of `spec`, if it has one and a version runs now:
    /// `Err` with why the new version is refused.
    async fn gate(
        &self,
        spec: &ScriptSpec,
        existing: Option<&Script>,
        new: Option<Arc<LoadedScript>>,
    ) -> Result<(), String> {
        let (Some(gate), Some(old), Some(new)) = (spec.gate, existing, new) else {
            return Ok(());
        };
        super::gate::check(
            gate,
            self.config.journal.path.as_deref(),
            &new,
            &old.current(),
            self.registry.session(),
        )
        .await
        .map(drop)
    }

    /// The version is kept: what its instances' `init`s sent goes out (a
    /// rejected version sends nothing).
    fn send_init(&self, instances: &mut [Instance]) {
        let queued: Vec<_> = instances
            .iter_mut()
            .flat_map(Instance::take_queued)
            .collect();
        if let (false, Some(first)) = (queued.is_empty(), instances.first()) {
            let session = self.registry.session().clone();
            let version = first.version.clone();
            tokio::spawn(async move {
                carry_out(&session, &version, queued, &crate::trace::Handle::off()).await
            });
        }
    }
}

fn same_settings(cur: &LoadedScript, spec: &ScriptSpec) -> bool {
    cur.config == spec.config
        && cur.deadline == spec.deadline
        && cur.wall == spec.wall
        && cur.sandbox == spec.sandbox
        && cur.granted.grants == spec.grants
        && cur.memory_mb == spec.memory_mb
        && cur.instances == spec.instances.max(1)
        && cur.path == spec.path
}

type Stamp = (u64, Option<SystemTime>);

async fn stamp_of(path: &Path) -> Option<Stamp> {
    tokio::fs::metadata(path)
        .await
        .ok()
        .map(|m| (m.len(), m.modified().ok()))
}

/// True when the file is as it was when read and has not been touched for
/// `SETTLED_AFTER`.
async fn settled(path: &Path, read_as: Stamp) -> bool {
    match stamp_of(path).await {
        Some(now) if now == read_as => now
            .1
            .and_then(|m| m.elapsed().ok())
            .is_none_or(|age| age >= SETTLED_AFTER),
        _ => false,
    }
}

async fn read(spec: &ScriptSpec) -> Result<(Vec<u8>, Stamp), ScriptError> {
    let fail = |e: std::io::Error| ScriptError::Load {
        script: spec.name.clone(),
        stage: LoadStage::Read,
        reason: format!("{}: {e}", spec.path.display()),
    };
    let meta = tokio::fs::metadata(&spec.path).await.map_err(fail)?;
    let bytes = tokio::fs::read(&spec.path).await.map_err(fail)?;
    Ok((bytes, (meta.len(), meta.modified().ok())))
}
