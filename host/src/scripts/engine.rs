//! `ScriptEngine`: the one wasmtime engine of the process, its linker and its
//! compile cache.
//!
//! The configuration is fixed here (after spin's `crates/core`): the
//! component model, epoch interruption for deadlines, and the pooling
//! allocator (with a fallback to on-demand allocation where the machine
//! refuses the reservation). `component-model-async` is compiled out: it
//! costs about 1 µs per call (`wasm-notes.md` §3).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::bindings::{v1, v2};
use super::cache::{Cache, Source};
use super::error::{LoadStage, ScriptError};
use super::limits::TICK;
use super::state::BotState;

/// The engine, linker and cache shared by every script.
pub struct ScriptEngine {
    engine: Engine,
    linker: Linker<BotState>,
    cache: Cache,
}

/// A component linked against the world version it targets.
pub enum Linked {
    /// `openqq:bot@0.1.0`: `on-event` is optional, looked up by name.
    V1(v1::BotPre<BotState>),
    /// `openqq:bot@0.2.0`: every export is typed.
    V2(v2::BotPre<BotState>),
}

impl Clone for Linked {
    fn clone(&self) -> Linked {
        match self {
            Linked::V1(p) => Linked::V1(p.clone()),
            Linked::V2(p) => Linked::V2(p.clone()),
        }
    }
}

impl Linked {
    pub fn instance_pre(&self) -> &wasmtime::component::InstancePre<BotState> {
        match self {
            Linked::V1(p) => p.instance_pre(),
            Linked::V2(p) => p.instance_pre(),
        }
    }

    pub fn engine(&self) -> &Engine {
        match self {
            Linked::V1(p) => p.engine(),
            Linked::V2(p) => p.engine(),
        }
    }
}

/// A compiled and linked component, ready to instantiate (one version of
/// one file). Built off the async runtime. A clone shares the compiled
/// code (a replay's scratch copy of a running version).
#[derive(Clone)]
pub struct Prepared {
    pub pre: Linked,
    pub sha256: String,
    /// The world version it was built for, e.g. `openqq:bot/bot@0.1.0`.
    pub world: String,
    pub source: Source,
    /// How long compiling (or loading from the cache) took.
    pub load_time: std::time::Duration,
}

impl ScriptEngine {
    /// Creates the engine and starts its epoch ticker. The ticker thread ends
    /// when the engine is dropped.
    ///
    /// # Errors
    /// When wasmtime cannot create an engine on this machine.
    pub fn new(cache_dir: Option<PathBuf>) -> anyhow::Result<Arc<ScriptEngine>> {
        let engine = match Engine::new(&config(true)) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "pooling allocator unavailable; using on-demand allocation");
                Engine::new(&config(false))
                    .map_err(anyhow::Error::from)
                    .context("cannot create the wasm engine")?
            }
        };
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(anyhow::Error::from)
            .context("cannot link WASI")?;
        // Both world versions, side by side: a 0.1.0 component finds
        // `openqq:bot/host@0.1.0`, a 0.2.0 one `…@0.2.0`, `kv`, `timers`,
        // `moderation` and `wasi:http`.
        v1::Bot::add_to_linker::<BotState, wasmtime::component::HasSelf<BotState>>(
            &mut linker,
            |s| s,
        )
        .map_err(anyhow::Error::from)
        .context("cannot link the openqq host (0.1.0)")?;
        link_v2(&mut linker)
            .map_err(anyhow::Error::from)
            .context("cannot link the openqq host (0.2.0)")?;
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("openqq-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(TICK);
                }
            })
            .context("cannot start the epoch ticker")?;
        let cache = Cache::new(cache_dir.unwrap_or_else(Cache::default_dir), &engine);
        Ok(Arc::new(ScriptEngine {
            engine,
            linker,
            cache,
        }))
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn linker(&self) -> &Linker<BotState> {
        &self.linker
    }

    /// Compiles (or loads from the cache) and links a component. Blocking:
    /// compiling an interpreter component takes seconds, so call this from
    /// `spawn_blocking`.
    ///
    /// # Errors
    /// `ScriptError::Load` at the compile or link stage.
    pub fn prepare(&self, name: &str, bytes: &[u8]) -> Result<Prepared, ScriptError> {
        let started = std::time::Instant::now();
        let fail = |stage, reason: String| ScriptError::Load {
            script: name.to_string(),
            stage,
            reason,
        };
        let sha256 = hex::encode(Sha256::digest(bytes));
        if !is_component(bytes) {
            let what = if bytes.starts_with(b"\0asm") {
                "a core wasm module, not a component"
            } else {
                "not a wasm file"
            };
            return Err(fail(
                LoadStage::Compile,
                format!(
                    "{what} (build with --target wasm32-wasip2, or `wasm-tools component new`)"
                ),
            ));
        }
        let (component, source) = self
            .cache
            .load(&self.engine, &sha256, bytes)
            .map_err(|e| fail(LoadStage::Compile, format!("{e:#}")))?;
        let pre = self
            .link(&component)
            .map_err(|e| fail(LoadStage::Link, e))?;
        let world = world_of(&self.engine, &component);
        Ok(Prepared {
            pre,
            sha256,
            world,
            source,
            load_time: started.elapsed(),
        })
    }

    /// Links a component against the gateway's host, as the world version
    /// it targets, explaining what is missing when it cannot.
    pub fn link(&self, component: &Component) -> Result<Linked, String> {
        let pre = self
            .linker
            .instantiate_pre(component)
            .map_err(|e| format!("{e:#}"))?;
        if world_version(&self.engine, component).as_deref() == Some("0.2.0") {
            v2::BotPre::new(pre)
                .map(Linked::V2)
                .map_err(|e| format!("{e:#} (an openqq:bot@0.2.0 component exports init, on-message, on-event and on-timer)"))
        } else {
            v1::BotPre::new(pre)
                .map(Linked::V1)
                .map_err(|e| format!("{e:#}"))
        }
    }

    /// Compiles without caching (for `openqq check`).
    pub fn compile(&self, bytes: &[u8]) -> wasmtime::Result<Component> {
        Component::new(&self.engine, bytes)
    }
}

/// 0.2.0's imports: its own interfaces and `wasi:http` (`http.rs`). Not
/// `v2::Bot::add_to_linker`, which would link the WASI interfaces `wasi:http`
/// uses a second time.
fn link_v2(linker: &mut Linker<BotState>) -> wasmtime::Result<()> {
    use v2::openqq::bot::{addressing, host, kv, moderation, timers};
    use wasmtime::component::HasSelf;
    host::add_to_linker::<BotState, HasSelf<BotState>>(linker, |s| s)?;
    kv::add_to_linker::<BotState, HasSelf<BotState>>(linker, |s| s)?;
    timers::add_to_linker::<BotState, HasSelf<BotState>>(linker, |s| s)?;
    moderation::add_to_linker::<BotState, HasSelf<BotState>>(linker, |s| s)?;
    addressing::add_to_linker::<BotState, HasSelf<BotState>>(linker, |s| s)?;
    super::http::add_to_linker(linker)
}

/// The `openqq:bot` world a component targets, from the version of its
/// `openqq:bot/…` imports (`openqq:bot/host@0.1.0` → `openqq:bot/bot@0.1.0`).
pub fn world_of(engine: &Engine, component: &Component) -> String {
    match world_version(engine, component) {
        Some(v) => format!("openqq:bot/bot@{v}"),
        None => "openqq:bot/bot (no openqq import)".to_string(),
    }
}

/// The newest version of the `openqq:bot` package a component imports; one that
/// imports none but exports `on-timer` is 0.2.0 (only that world has it).
pub fn world_version(engine: &Engine, component: &Component) -> Option<String> {
    let ty = component.component_type();
    // The newest version imported: a component mixing `host@0.1.0` with
    // `kv@0.2.0` is a 0.2.0 bot (it must export `on-timer`).
    let imported = ty
        .imports(engine)
        .filter_map(|(name, _)| {
            let rest = name.strip_prefix("openqq:bot/")?;
            rest.split_once('@').map(|(_, v)| v.to_string())
        })
        .max();
    imported.or_else(|| {
        ty.exports(engine)
            .any(|(name, _)| name == "on-timer")
            .then(|| "0.2.0".to_string())
    })
}

/// The `openqq:bot` interfaces a component imports (`host`, `kv`,
/// `timers`, `moderation`), plus `http` when it imports
/// `wasi:http/outgoing-handler`, and the functions it exports: what it can
/// ask for and answer.
pub fn capabilities(engine: &Engine, component: &Component) -> (Vec<String>, Vec<String>) {
    let ty = component.component_type();
    let imports = ty
        .imports(engine)
        .filter_map(|(name, _)| {
            if name.starts_with("wasi:http/outgoing-handler@") {
                return Some("http".to_string());
            }
            let rest = name.strip_prefix("openqq:bot/")?;
            let iface = rest.split('@').next().unwrap_or(rest);
            (iface != "types").then(|| iface.to_string())
        })
        .collect();
    let exports = ty.exports(engine).map(|(n, _)| n.to_string()).collect();
    (imports, exports)
}

/// A component (not a core module): the `\0asm` magic with the component
/// layer's version bytes.
pub fn is_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && &bytes[..4] == b"\0asm" && bytes[6..8] == [1, 0]
}

fn config(pooling: bool) -> Config {
    let mut c = Config::new();
    c.wasm_component_model(true).epoch_interruption(true);
    if pooling {
        let mut p = PoolingAllocationConfig::default();
        // Enough for a few dozen scripts and their rebuilds; interpreted
        // guests (Python, JS) need several core instances and memories each.
        p.total_component_instances(256)
            .total_core_instances(2048)
            .total_memories(512)
            .total_tables(1024)
            .max_memories_per_component(16)
            .max_tables_per_component(64)
            .max_core_instance_size(1 << 20)
            .max_component_instance_size(1 << 20)
            .max_memory_size(1 << 30);
        c.allocation_strategy(InstanceAllocationStrategy::Pooling(p));
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_magic() {
        assert!(is_component(b"\0asm\x0d\0\x01\0rest"));
        assert!(!is_component(b"\0asm\x01\0\0\0rest"));
        assert!(!is_component(b"hello"));
    }

    #[test]
    fn core_modules_are_refused_with_a_hint() {
        let e = ScriptEngine::new(Some(std::env::temp_dir().join("openqq-test-cache"))).unwrap();
        let err = e
            .prepare("m", b"\0asm\x01\0\0\0")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("core wasm module"), "{err}");
    }
}
