//! The on-disk cache of compiled scripts, so a restart or a swap back to a
//! known version does not recompile (Python and JS components take seconds).
//!
//! Artifacts are keyed by the SHA-256 of the component and the engine's
//! compatibility hash: a `.cwasm` belongs to one engine configuration and one
//! wasmtime build. This file holds the crate's only `unsafe`.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

/// A directory of compiled components.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
    engine_key: String,
}

/// Where a component came from, for logs and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Compiled now (and written to the cache).
    Compiled,
    /// Loaded from a cached artifact.
    Cached,
}

impl Cache {
    pub fn new(dir: PathBuf, engine: &Engine) -> Cache {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        Cache {
            dir,
            engine_key: format!("{:016x}", h.finish()),
        }
    }

    /// The default place: `$XDG_CACHE_HOME/openqq`, `~/.cache/openqq`, or the
    /// temp dir.
    pub fn default_dir() -> PathBuf {
        if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
            return PathBuf::from(x).join("openqq");
        }
        if let Some(h) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            return PathBuf::from(h).join(".cache").join("openqq");
        }
        std::env::temp_dir().join("openqq-cache")
    }

    fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}-{}.cwasm", self.engine_key))
    }

    /// Loads the compiled form of `bytes` (whose hash is `sha256`), compiling
    /// and caching it on a miss. Blocking: call it off the async runtime.
    ///
    /// # Errors
    /// When the bytes do not compile. A broken or unwritable cache is only
    /// logged: it costs a compile, never a load.
    pub fn load(
        &self,
        engine: &Engine,
        sha256: &str,
        bytes: &[u8],
    ) -> wasmtime::Result<(Component, Source)> {
        let path = self.path(sha256);
        if path.exists() {
            // SAFETY: `deserialize_file` trusts its input to be a component
            // that this engine compiled. The file is named by the SHA-256 of
            // the wasm it was compiled from and by this engine's
            // compatibility hash, and only `store` below writes such names,
            // into a directory that belongs to the gateway. Wasmtime also
            // checks the header and refuses artifacts of another version or
            // configuration.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(c) => return Ok((c, Source::Cached)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "cached artifact unusable; recompiling")
                }
            }
        }
        let component = Component::new(engine, bytes)?;
        if let Err(e) = self.store(&path, &component) {
            tracing::warn!(path = %path.display(), error = %format!("{e:#}"), "cannot write the compile cache");
        }
        Ok((component, Source::Compiled))
    }

    fn store(&self, path: &Path, component: &Component) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let bytes = component.serialize()?;
        // Write then rename, so a reader never maps a half-written file.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }
}
