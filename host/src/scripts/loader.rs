//! Turning config entries and files into running scripts: read, compile off
//! the runtime (or load from the cache), instantiate, `init`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::limits::Sandbox;
use crate::config::{Config, ScriptEntry, default_wall, stem};
use crate::grants::Grants;

/// The default `instances` of a bot with `http` grants: how many of its
/// calls may wait on HTTP at once before other chats wait for one.
pub const HTTP_INSTANCES: usize = 4;

/// What to load: one script's file and settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptSpec {
    pub name: String,
    pub path: PathBuf,
    pub config: Vec<(String, String)>,
    pub deadline: Duration,
    /// The wall-clock limit per call (`wall_ms`).
    pub wall: Duration,
    pub memory_mb: u64,
    /// Instances side by side (`instances`, 1 to 8).
    pub instances: usize,
    /// The caps of `[limits]`.
    pub sandbox: Sandbox,
    /// What the bot may do beyond replying.
    pub grants: Grants,
    /// Replay the journal before a new version takes over (`gate.rs`).
    pub gate: Option<crate::config::Gate>,
}

impl ScriptSpec {
    fn from_entry(e: &ScriptEntry, cfg: &Config) -> ScriptSpec {
        // `Config::check` refuses entries that do not parse; were one to
        // slip through (a `Config` built in code), the bot hears nothing.
        let grants = Grants::from_entry(e, &cfg.limits).unwrap_or_else(|why| {
            tracing::error!(script = %e.script_name(), "{why}; the bot gets no chat at all");
            Grants::nothing(&cfg.limits)
        });
        let timeout = e.timeout_ms.unwrap_or(cfg.limits.timeout_ms);
        let wall = match e.wall_ms.or(cfg.limits.wall_ms) {
            Some(w) => {
                let request = grants.quotas.http_timeout.as_millis() as u64;
                if !grants.http.is_empty() && w < request {
                    tracing::warn!(script = %e.script_name(), wall_ms = w, http_timeout_ms = request,
                        "wall_ms is shorter than one HTTP request may take: a slow answer will stop the call");
                }
                w
            }
            None => grants.default_wall_ms(default_wall(timeout)),
        };
        ScriptSpec {
            name: e.script_name(),
            path: e.path.clone(),
            config: flatten(&e.config),
            deadline: Duration::from_millis(timeout),
            wall: Duration::from_millis(wall),
            memory_mb: e.memory_mb.unwrap_or(cfg.limits.memory_mb),
            // A bot that waits on HTTP serves other chats meanwhile from
            // its other instances (`Script::hold_for_message`).
            instances: e.instances.unwrap_or(if grants.http.is_empty() {
                cfg.limits.instances
            } else {
                cfg.limits.instances.max(HTTP_INSTANCES)
            }),
            sandbox: {
                let mut s = Sandbox::from(&cfg.limits);
                if let Some(total) = e.kv_max_total_bytes {
                    s.kv.max_total_bytes = total;
                }
                s
            },
            grants,
            gate: e.gate,
        }
    }

    /// A script found in the scripts directory, with the default limits.
    pub fn from_file(path: &Path, cfg: &Config) -> ScriptSpec {
        ScriptSpec {
            name: stem(path),
            path: path.to_path_buf(),
            config: Vec::new(),
            deadline: Duration::from_millis(cfg.limits.timeout_ms),
            wall: Duration::from_millis(cfg.limits.wall_ms(None, None)),
            memory_mb: cfg.limits.memory_mb,
            instances: cfg.limits.instances,
            sandbox: Sandbox::from(&cfg.limits),
            grants: Grants::least(&cfg.limits),
            gate: None,
        }
    }
}

/// What the config and the scripts directory ask to run.
#[derive(Debug, Default)]
pub struct Specs {
    /// Every script to run, in pipeline order.
    pub specs: Vec<ScriptSpec>,
    /// Files refused before loading (a name another script has), with why.
    pub refused: Vec<(ScriptSpec, String)>,
    /// The scripts directory, when it could not be listed, and why.
    pub dir_error: Option<(PathBuf, String)>,
}

impl Specs {
    /// Adds `spec`, or refuses it with `why(the script that has its name)`.
    fn add(&mut self, spec: ScriptSpec, why: impl FnOnce(&ScriptSpec) -> String) {
        match self.specs.iter().find(|s| s.name == spec.name) {
            Some(first) => {
                let why = why(first);
                self.refused.push((spec, why));
            }
            None => self.specs.push(spec),
        }
    }
}

/// Every script the config names, in pipeline order: the `[[scripts]]`
/// entries, then the scripts directory's other `*.wasm` files in file-name
/// order. A directory file that an entry already names by path is the
/// entry's: that is how a directory script gets a config table.
///
/// Names are unique: a script is found again by its name at each reload, so
/// two scripts of one name would merge into one. A directory file (or, when
/// `Config::check` was skipped, an entry) whose name is taken is refused
/// with the reason. A directory that cannot be listed does not stop the
/// entries: they are all still here, and the error is in `dir_error`.
pub fn specs(cfg: &Config) -> Specs {
    let mut out = Specs::default();
    for e in &cfg.scripts {
        out.add(ScriptSpec::from_entry(e, cfg), |first| {
            format!(
                "another [[scripts]] entry ({}) is already named `{}`; give one of them another `name`",
                first.path.display(),
                first.name
            )
        });
    }
    let Some(dir) = &cfg.scripts_dir else {
        return out;
    };
    let files = match wasm_files(dir) {
        Ok(f) => f,
        Err(e) => {
            out.dir_error = Some((
                dir.clone(),
                format!("cannot list the scripts directory {}: {e}", dir.display()),
            ));
            return out;
        }
    };
    for f in files {
        if out.specs.iter().any(|s| same_file(&s.path, &f)) {
            continue;
        }
        out.add(ScriptSpec::from_file(&f, cfg), |entry| {
            format!(
                "the [[scripts]] entry {} is already named `{}`; rename the file or give the entry another `name`",
                entry.path.display(),
                entry.name
            )
        });
    }
    out
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

    fn entry(path: &str, name: Option<&str>) -> ScriptEntry {
        ScriptEntry {
            path: PathBuf::from(path),
            name: name.map(str::to_string),
            config: toml::Table::new(),
            timeout_ms: None,
            wall_ms: None,
            memory_mb: None,
            instances: None,
            kv_max_total_bytes: None,
            ..Default::default()
        }
    }

    /// A fresh directory under the system's temp dir.
    fn temp_dir(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("openqq-loader-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[test]
    fn a_directory_file_named_like_an_entry_is_refused_and_its_own_file_is_not() {
        let dir = temp_dir("collide");
        for f in ["bot.wasm", "mine.wasm", "other.wasm"] {
            std::fs::write(dir.join(f), b"").expect("write");
        }
        let cfg = Config {
            scripts: vec![
                entry("elsewhere/bot.wasm", None),
                entry(&dir.join("mine.wasm").display().to_string(), Some("m")),
            ],
            scripts_dir: Some(dir.clone()),
            ..Config::default()
        };
        let s = specs(&cfg);
        let names: Vec<&str> = s.specs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["bot", "m", "other"]);
        assert_eq!(s.refused.len(), 1, "{:?}", s.refused);
        let (refused, why) = &s.refused[0];
        assert_eq!(refused.path, dir.join("bot.wasm"));
        assert!(
            why.contains("elsewhere/bot.wasm") && why.contains("`bot`"),
            "{why}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn entries_load_when_the_directory_cannot_be_listed() {
        let dir = std::env::temp_dir().join(format!("openqq-loader-gone-{}", std::process::id()));
        let cfg = Config {
            scripts: vec![entry("a/bot.wasm", None), entry("b/bot.wasm", None)],
            scripts_dir: Some(dir.clone()),
            ..Config::default()
        };
        let s = specs(&cfg);
        assert_eq!(s.specs.len(), 1);
        assert_eq!(s.specs[0].path, PathBuf::from("a/bot.wasm"));
        // Two entries of one name: the second is refused, never merged.
        assert_eq!(s.refused[0].0.path, PathBuf::from("b/bot.wasm"));
        let (path, why) = s.dir_error.expect("a listing error");
        assert_eq!(path, dir);
        assert!(why.contains(&dir.display().to_string()), "{why}");
    }

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
