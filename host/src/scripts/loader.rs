//! Turning config entries and files into running scripts: read, compile off
//! the runtime (or load from the cache), instantiate, `init`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::{Config, ScriptEntry};

/// What to load: one script's file and settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptSpec {
    pub name: String,
    pub path: PathBuf,
    pub config: Vec<(String, String)>,
    pub deadline: Duration,
    pub memory_mb: u64,
    /// Instances side by side (`instances`, 1 to 8).
    pub instances: usize,
}

impl ScriptSpec {
    fn from_entry(e: &ScriptEntry, cfg: &Config) -> ScriptSpec {
        ScriptSpec {
            name: e.name.clone().unwrap_or_else(|| stem(&e.path)),
            path: e.path.clone(),
            config: flatten(&e.config),
            deadline: Duration::from_millis(e.timeout_ms.unwrap_or(cfg.limits.timeout_ms)),
            memory_mb: e.memory_mb.unwrap_or(cfg.limits.memory_mb),
            instances: e.instances.unwrap_or(cfg.limits.instances),
        }
    }

    /// A script found in the scripts directory, with the default limits.
    pub fn from_file(path: &Path, cfg: &Config) -> ScriptSpec {
        ScriptSpec {
            name: stem(path),
            path: path.to_path_buf(),
            config: Vec::new(),
            deadline: Duration::from_millis(cfg.limits.timeout_ms),
            memory_mb: cfg.limits.memory_mb,
            instances: cfg.limits.instances,
        }
    }
}

fn stem(p: &Path) -> String {
    p.file_stem().map_or_else(
        || p.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    )
}

/// Every script the config names, in pipeline order: the `[[scripts]]`
/// entries, then the scripts directory's other `*.wasm` files in file-name
/// order. A directory file that an entry already names (by path or by name)
/// is the entry's: that is how a directory script gets a config table.
///
/// # Errors
/// When the scripts directory cannot be read.
pub fn specs(cfg: &Config) -> std::io::Result<Vec<ScriptSpec>> {
    let mut out: Vec<ScriptSpec> = cfg
        .scripts
        .iter()
        .map(|e| ScriptSpec::from_entry(e, cfg))
        .collect();
    if let Some(dir) = &cfg.scripts_dir {
        for f in wasm_files(dir)? {
            let taken = out
                .iter()
                .any(|s| s.name == stem(&f) || same_file(&s.path, &f));
            if !taken {
                out.push(ScriptSpec::from_file(&f, cfg));
            }
        }
    }
    Ok(out)
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

/// The `*.wasm` files of a directory, sorted by name.
pub fn wasm_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wasm") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// Flattens a TOML table to dotted keys (the world's `init` config):
/// `{ reply = { ping = "pong" } }` → `[("reply.ping", "pong")]`; arrays are
/// indexed; non-strings are their TOML text. Order is the file's.
pub fn flatten(table: &toml::Table) -> Vec<(String, String)> {
    fn walk(prefix: &str, v: &toml::Value, out: &mut Vec<(String, String)>) {
        match v {
            toml::Value::Table(t) => {
                for (k, v) in t {
                    walk(&join(prefix, k), v, out);
                }
            }
            toml::Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(&join(prefix, &i.to_string()), v, out);
                }
            }
            toml::Value::String(s) => out.push((prefix.to_string(), s.clone())),
            other => out.push((prefix.to_string(), other.to_string())),
        }
    }
    fn join(prefix: &str, k: &str) -> String {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    }
    let mut out = Vec::new();
    for (k, v) in table {
        walk(k, v, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flatten_makes_dotted_keys_in_file_order() {
        let t: toml::Table = toml::from_str("z = 1\nreply = { ping = \"pong\", \"你好\" = \"hi\" }\nbanned = [\"a\", \"b\"]\nflag = true").unwrap();
        assert_eq!(
            flatten(&t),
            vec![
                ("z".to_string(), "1".to_string()),
                ("reply.ping".to_string(), "pong".to_string()),
                ("reply.你好".to_string(), "hi".to_string()),
                ("banned.0".to_string(), "a".to_string()),
                ("banned.1".to_string(), "b".to_string()),
                ("flag".to_string(), "true".to_string()),
            ]
        );
    }
}
