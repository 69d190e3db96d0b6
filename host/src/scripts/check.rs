//! `openqq check FILE.wasm`: load a component the way `serve` would and say
//! whether this gateway can run it — or exactly what is missing.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

use super::engine::{ScriptEngine, capabilities, is_component, world_version};

/// The worlds this gateway runs.
pub const WORLDS: &str = "openqq:bot/bot@0.1.0 or @0.2.0";

/// What each `openqq:bot` import lets a bot do, for the report.
fn capability(iface: &str) -> &'static str {
    match iface {
        "host" => "host: log, send messages, look up contacts, the time",
        "kv" => "kv: a durable key-value store of its own (quotas: [limits] kv_max_*)",
        "timers" => "timers: declared (every, cron) and one-shot timers, on-timer",
        "moderation" => {
            "moderation: mute, unmute, kick group members (grant: moderate; muting a message's sender needs none)"
        }
        "addressing" => {
            "addressing: who a message addresses (sender's role, mentions, at-me, the quoted message)"
        }
        "http" => {
            "http: outbound HTTP requests through wasi:http (grant: http, the origins it may reach)"
        }
        _ => "unknown to this gateway",
    }
}

/// The result of a check: a report for people, and the verdict.
#[derive(Debug)]
pub struct CheckReport {
    pub text: String,
    pub runnable: bool,
}

/// Checks the file at `path`.
///
/// # Errors
/// Only when the file cannot be read or the engine cannot start; anything
/// wrong with the file itself is a verdict in the report.
pub fn check(path: &Path) -> anyhow::Result<CheckReport> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut out = String::new();
    let _ = writeln!(out, "file:     {} ({} bytes)", path.display(), bytes.len());
    let verdict = |mut out: String, ok: bool, why: &str| {
        let _ = writeln!(
            out,
            "verdict:  {} — {why}",
            if ok { "OK" } else { "CANNOT RUN" }
        );
        CheckReport {
            text: out,
            runnable: ok,
        }
    };
    if !bytes.starts_with(b"\0asm") {
        return Ok(verdict(out, false, "not a WebAssembly file"));
    }
    if !is_component(&bytes) {
        let _ = writeln!(out, "kind:     core module");
        return Ok(verdict(
            out,
            false,
            "a core wasm module, not a component: build for wasm32-wasip2 (Rust) or wrap it with `wasm-tools component new --adapt …`",
        ));
    }
    let _ = writeln!(out, "kind:     component");
    let engine = ScriptEngine::new(Some(std::env::temp_dir().join("openqq-check-cache")))?;
    let component = match engine.compile(&bytes) {
        Ok(c) => c,
        Err(e) => return Ok(verdict(out, false, &format!("does not compile: {e:#}"))),
    };
    let ty = component.component_type();
    let imports: Vec<String> = ty
        .imports(engine.engine())
        .map(|(n, _)| n.to_string())
        .collect();
    let exports: Vec<String> = ty
        .exports(engine.engine())
        .map(|(n, _)| n.to_string())
        .collect();
    let version = world_version(engine.engine(), &component);
    let world = match &version {
        Some(v) => format!("openqq:bot/bot@{v}"),
        None if exports.iter().any(|e| e == "on-message") => {
            "openqq:bot/bot (imports no openqq interface)".to_string()
        }
        None => "not openqq:bot (a foreign world)".to_string(),
    };
    let _ = writeln!(out, "world:    {world}");
    let _ = writeln!(
        out,
        "version:  {}",
        version.as_deref().unwrap_or("none (no openqq:bot import)")
    );
    let (uses, _) = capabilities(engine.engine(), &component);
    let _ = writeln!(out, "capabilities:");
    if uses.is_empty() {
        let _ = writeln!(out, "  (none: it only answers messages)");
    }
    for u in &uses {
        let _ = writeln!(out, "  - {}", capability(u));
    }
    let _ = writeln!(out, "imports:");
    for i in &imports {
        let _ = writeln!(out, "  - {i}");
    }
    let _ = writeln!(out, "exports:");
    for e in &exports {
        let _ = writeln!(out, "  - {e}");
    }
    let missing: Vec<&str> = ["init", "on-message"]
        .into_iter()
        .filter(|n| !exports.iter().any(|e| e == n))
        .collect();
    if !missing.is_empty() {
        return Ok(verdict(
            out,
            false,
            &format!(
                "does not export {} of {WORLDS}; this component targets another world",
                missing.join(" and ")
            ),
        ));
    }
    match engine.link(&component) {
        Ok(_) => Ok(verdict(
            out,
            true,
            &format!("this gateway can run it ({world})"),
        )),
        Err(reason) => Ok(verdict(out, false, &format!("cannot be linked: {reason}"))),
    }
}
