//! Configuration: a TOML file (`--config`) with command-line overrides.
//!
//! Every default runs offline: the `sim` backend with the embedded world, on
//! 127.0.0.1:5000, no webhook. Durations are seconds or milliseconds in the
//! file (the key says which) and `Duration` everywhere else.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;

/// Which side of the OneBot WebSocket dials; defined by the backend, read
/// here from `[backend] mode`.
pub use crate::backend::onebot::OnebotMode;
pub use bus::{BusKind, BusMessages, BusSection};
pub use console::{ConsoleSection, MAX_TRACE_SIZE};
pub use delivery::{OutboxSection, WebhookSection};
pub use http::{Cidr, HttpRules, HttpSection};
pub use journal::{Gate, JournalSection};
pub use limits::{LimitsSection, default_wall};

mod bus;
mod console;
mod delivery;
mod http;
mod journal;
mod limits;

/// The gateway's whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the HTTP API listens.
    pub listen: SocketAddr,
    /// The `post_api` webhook URL; none means unhandled messages are only logged.
    pub post_api: Option<String>,
    pub backend: BackendConfig,
    pub outbox: OutboxSection,
    pub webhook: WebhookSection,
    /// Default limits for every script.
    pub limits: LimitsSection,
    /// Scripts to load, in order.
    pub scripts: Vec<ScriptEntry>,
    /// A directory of `*.wasm` scripts, loaded in file-name order after
    /// `scripts`.
    pub scripts_dir: Option<PathBuf>,
    /// Where compiled scripts are cached.
    pub cache_dir: Option<PathBuf>,
    /// Where the gateway keeps bots' KV stores and pending timers (one
    /// database file, `openqq.redb`). Default: `$XDG_DATA_HOME/openqq`,
    /// else `~/.local/share/openqq`.
    pub data_dir: Option<PathBuf>,
    /// The time zone of bots' cron timers, an IANA name such as
    /// `"Asia/Shanghai"`; none means the machine's.
    pub timezone: Option<String>,
    /// The Openqq dialect: 1 (default) or 2 (v2 shapes, reports and events).
    pub api_version: crate::render::Dialect,
    /// When set, every `/openqq/*` request must carry it
    /// (`Authorization: Bearer …` or `?access_token=`).
    pub access_token: Option<String>,
    /// The v2 events posted to `post_api`; none means the original's list.
    pub post_event_list: Option<Vec<String>>,
    /// How many reports `check_event` keeps (the oldest are dropped).
    pub check_event_size: usize,
    /// When set, `/admin/*` answers any address that presents it (as
    /// `Authorization: Bearer …` or `?token=`); when not, only loopback.
    pub admin_token: Option<String>,
    /// `[http]`: which web origins, host names and networks may use the
    /// API (the cross-site guard, `api::guard`).
    pub http: HttpSection,
    /// `[console]`: the web console and what it keeps to show (the trace
    /// ring, the log lines).
    pub console: ConsoleSection,
    /// `[journal]`: the opt-in record of inbound messages that
    /// `openqq replay` and swap gates replay (off by default).
    pub journal: JournalSection,
    /// `[bus]`: the fleet bus (NATS JetStream); none means no bus.
    pub bus: Option<BusSection>,
    /// How to read the configuration again on SIGHUP or
    /// `POST /admin/scripts/reload`; `None` keeps this one.
    #[serde(skip)]
    pub reload: Option<ReloadSource>,
}

/// Re-reads the configuration: the file plus the command-line overrides.
#[derive(Clone)]
pub struct ReloadSource(pub std::sync::Arc<dyn Fn() -> anyhow::Result<Config> + Send + Sync>);

impl std::fmt::Debug for ReloadSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReloadSource(..)")
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 5000)),
            post_api: None,
            backend: BackendConfig::default(),
            outbox: OutboxSection::default(),
            webhook: WebhookSection::default(),
            limits: LimitsSection::default(),
            scripts: Vec::new(),
            scripts_dir: None,
            cache_dir: None,
            data_dir: None,
            timezone: None,
            admin_token: None,
            http: HttpSection::default(),
            console: ConsoleSection::default(),
            journal: JournalSection::default(),
            bus: None,
            reload: None,
            api_version: crate::render::Dialect::V1,
            access_token: None,
            post_event_list: None,
            check_event_size: 20,
        }
    }
}

/// `[backend]`: how the gateway reaches QQ.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackendConfig {
    pub kind: BackendKind,
    /// The simulator's world file (JSON or TOML); none means the embedded one.
    pub world: Option<PathBuf>,
    /// `onebot`: the implementation's WebSocket (`forward`), or where openqq
    /// listens for it (`reverse`), e.g. `ws://127.0.0.1:3001/`.
    pub url: Option<String>,
    /// `onebot`: the implementation's access token; empty means none.
    pub access_token: String,
    /// `onebot`: who dials whom.
    pub mode: OnebotMode,
    /// `onebot`: how long a read or a mute/kick may wait for an answer.
    pub timeout_secs: u64,
    /// `onebot`: how long a send may wait; past it the outcome is unknown.
    pub send_timeout_secs: u64,
    /// `onebot`: how often friends, groups and members are re-read in the
    /// background (0 = only at login and after a reconnect).
    pub refresh_secs: u64,
    /// `sim`: how long QQ takes to confirm each send (real QQ: hundreds of
    /// ms; with the original's spacing, seconds). For tests and benchmarks.
    pub send_latency_ms: u64,
}

impl Default for BackendConfig {
    fn default() -> Self {
        BackendConfig {
            kind: BackendKind::default(),
            world: None,
            url: None,
            access_token: String::new(),
            mode: OnebotMode::default(),
            timeout_secs: 15,
            send_timeout_secs: 30,
            refresh_secs: 600,
            send_latency_ms: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    #[default]
    Sim,
    /// A OneBot v11 implementation (NapCat, Lagrange.OneBot, LLOneBot,
    /// go-cqhttp) over WebSocket.
    Onebot,
}

impl BackendConfig {
    /// The `onebot` backend's settings, checked.
    ///
    /// # Errors
    /// No `url`, or one that is not `ws://host:port/...`.
    pub fn to_onebot_config(&self) -> anyhow::Result<crate::backend::onebot::OnebotConfig> {
        let url = self
            .url
            .clone()
            .context("[backend] url is required when kind = \"onebot\"")?;
        let cfg = crate::backend::onebot::OnebotConfig {
            url,
            access_token: self.access_token.clone(),
            mode: self.mode,
            timeout: Duration::from_secs(self.timeout_secs.max(1)),
            send_timeout: Duration::from_secs(self.send_timeout_secs.max(1)),
            refresh: (self.refresh_secs > 0).then(|| Duration::from_secs(self.refresh_secs)),
        };
        cfg.check()?;
        Ok(cfg)
    }
}

/// One `[[scripts]]` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptEntry {
    pub path: PathBuf,
    /// A name for logs; defaults to the file stem.
    pub name: Option<String>,
    /// The table handed to the script's `init`.
    #[serde(default)]
    pub config: toml::Table,
    pub timeout_ms: Option<u64>,
    pub wall_ms: Option<u64>,
    pub memory_mb: Option<u64>,
    /// How many instances of the bot run side by side (1 to 8). One keeps
    /// all its state in one place; more let chats run in parallel, each
    /// chat (and the events about it) always on the same instance.
    pub instances: Option<usize>,
    /// This bot's KV total, instead of `[limits] kv_max_total_bytes`.
    pub kv_max_total_bytes: Option<u64>,
    /// Grants (see `grants`): where the bot listens and acts (default
    /// every chat), where else it may send, which groups it moderates,
    /// which origins it may call.
    pub chats: Option<Vec<String>>,
    #[serde(default)]
    pub send_to: Vec<String>,
    #[serde(default)]
    pub moderate: Vec<String>,
    #[serde(default)]
    pub http: Vec<String>,
    /// This bot's grant quotas, instead of `[limits]`'s.
    pub sends_per_call: Option<u64>,
    pub sends_per_minute: Option<u64>,
    pub sends_per_minute_per_chat: Option<u64>,
    pub http_requests_per_call: Option<u64>,
    pub http_timeout_ms: Option<u64>,
    pub http_max_request_bytes: Option<u64>,
    pub http_max_response_bytes: Option<u64>,
    /// Replay the journal before a new version takes over
    /// (`"replay:N"`, `"replay:N:same"`; see `journal::Gate`).
    pub gate: Option<Gate>,
}

impl ScriptEntry {
    /// The script's name: `name`, or the file stem.
    pub fn script_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| stem(&self.path))
    }
}

/// A script file's name without `.wasm`: the name of a script that has none.
pub fn stem(p: &Path) -> String {
    p.file_stem().map_or_else(
        || p.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    )
}

/// The range each duration setting must be in, so a huge value cannot
/// overflow the arithmetic on it (`timeout * 2`, `now + deadline`) and a
/// typo is refused rather than waited out: (key, unit, min, max).
const DURATIONS: [(&str, &str, u64, u64); 13] = [
    ("[backend] timeout_secs", "s", 1, 3600),
    ("[backend] send_timeout_secs", "s", 1, 3600),
    ("[backend] refresh_secs", "s", 0, 7 * 24 * 3600),
    ("[backend] send_latency_ms", "ms", 0, 600_000),
    ("[outbox] spacing_ms", "ms", 0, 60_000),
    ("[webhook] connect_timeout_secs", "s", 1, 3600),
    ("[webhook] timeout_secs", "s", 1, 3600),
    ("[limits] timeout_ms", "ms", 1, 60_000),
    ("[[scripts]] timeout_ms", "ms", 1, 60_000),
    ("[limits] wall_ms", "ms", 1, 600_000),
    ("[limits] backoff_ms", "ms", 1, 3_600_000),
    ("[limits] backoff_max_ms", "ms", 1, 86_400_000),
    ("[[scripts]] wall_ms", "ms", 1, 600_000),
];

/// The range of each count in `[limits]`: (key, min, max).
const COUNTS: [(&str, u64, u64); 8] = [
    ("[limits] max_reply_chars", 1, 1 << 20),
    ("[limits] log_lines_per_call", 1, 1_000_000),
    ("[limits] log_lines_per_sec", 1, 1_000_000),
    ("[limits] max_resources", 16, 1_000_000),
    ("[limits] kv_max_key_bytes", 1, 1 << 16),
    ("[limits] kv_max_value_bytes", 1, 1 << 30),
    ("[limits] kv_max_total_bytes", 0, 1 << 40),
    ("[limits] timers_max_pending", 0, 1_000_000),
];

impl Config {
    /// Reads a TOML config file; errors name the file and the line.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let config: Config = toml::from_str(&text).map_err(|e| {
            anyhow::anyhow!(
                "{}: {}",
                path.display(),
                crate::toml_error::describe(&text, &e)
            )
        })?;
        config
            .check()
            .with_context(|| format!("{}: invalid settings", path.display()))?;
        Ok(config)
    }

    /// Checks what the types alone cannot say: ranges, unique script names,
    /// and that `scripts_dir` is a directory (a typo there would otherwise
    /// run the gateway without its bots). `[http]` is checked by the API's
    /// guard, which owns its rules (`api::guard::Policy::new`).
    ///
    /// # Errors
    /// A setting out of its range, two scripts of one name, or a missing
    /// scripts directory, named.
    pub fn check(&self) -> anyhow::Result<()> {
        self.check_durations()?;
        self.check_script_names()?;
        crate::grants::Quotas::check(&self.limits, None).map_err(anyhow::Error::msg)?;
        for e in &self.scripts {
            let what = || format!("[[scripts]] {}", e.path.display());
            crate::grants::Quotas::check(&self.limits, Some(e))
                .map_err(|m| anyhow::anyhow!("{}: {m}", what()))?;
            crate::grants::Grants::from_entry(e, &self.limits)
                .map_err(|m| anyhow::anyhow!("{}: {m}", what()))?;
        }
        self.http.rules()?;
        self.webhook.check()?;
        self.console.check()?;
        self.journal.check(&self.scripts)?;
        if let Some(bus) = &self.bus {
            bus.check()?;
        }
        self.zone()?;
        if let Some(dir) = &self.scripts_dir {
            match std::fs::metadata(dir) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => anyhow::bail!("scripts_dir {} is not a directory", dir.display()),
                Err(e) => anyhow::bail!("scripts_dir {}: {e}", dir.display()),
            }
        }
        let max = crate::pipeline::LANES;
        let entries = self.scripts.iter().map(|e| {
            (
                e.name
                    .clone()
                    .unwrap_or_else(|| e.path.display().to_string()),
                e.instances,
            )
        });
        for (what, n) in
            std::iter::once(("[limits]".to_string(), Some(self.limits.instances))).chain(entries)
        {
            if let Some(n) = n.filter(|n| !(1..=max).contains(n)) {
                anyhow::bail!(
                    "{what}: instances = {n}, but it must be 1 to {max} (the pipeline has {max} lanes)"
                );
            }
        }
        Ok(())
    }

    /// The time zone of cron timers (`timezone`).
    ///
    /// # Errors
    /// A name that is not an IANA time zone.
    pub fn zone(&self) -> anyhow::Result<crate::timers::Zone> {
        crate::timers::Zone::parse(self.timezone.as_deref().unwrap_or(""))
            .map_err(anyhow::Error::msg)
    }

    /// Where bots' data lives (`data_dir`, or the user's data directory).
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(crate::storage::default_dir)
    }

    fn check_durations(&self) -> anyhow::Result<()> {
        let b = &self.backend;
        let w = &self.webhook;
        let values = [
            b.timeout_secs,
            b.send_timeout_secs,
            b.refresh_secs,
            b.send_latency_ms,
            self.outbox.spacing_ms,
            w.connect_timeout_secs,
            w.timeout_secs,
            self.limits.timeout_ms,
            0, // per script, below
            self.limits.wall_ms(None, None),
            self.limits.backoff_ms,
            self.limits.backoff_max_ms,
        ];
        let scripts = self.scripts.iter().flat_map(|e| {
            let key = |k: &str| format!("[[scripts]] {}: {k}", e.path.display());
            [
                e.timeout_ms.map(|v| (key("timeout_ms"), v, DURATIONS[7])),
                e.wall_ms.map(|v| (key("wall_ms"), v, DURATIONS[11])),
            ]
            .into_iter()
            .flatten()
        });
        let fixed = DURATIONS
            .iter()
            .zip(values)
            .filter(|(d, _)| !d.0.starts_with("[[scripts]]"))
            .map(|(d, v)| (d.0.to_string(), v, *d));
        for (key, v, (_, unit, min, max)) in fixed.chain(scripts) {
            if !(min..=max).contains(&v) {
                anyhow::bail!("{key} = {v}, but it must be {min} to {max} ({unit})");
            }
        }
        let l = &self.limits;
        if l.backoff_max_ms < l.backoff_ms {
            anyhow::bail!(
                "[limits] backoff_max_ms = {}, but it must be at least backoff_ms ({})",
                l.backoff_max_ms,
                l.backoff_ms
            );
        }
        let counts = [
            l.max_reply_chars as u64,
            u64::from(l.log_lines_per_call),
            u64::from(l.log_lines_per_sec),
            l.max_resources as u64,
            l.kv_max_key_bytes as u64,
            l.kv_max_value_bytes as u64,
            l.kv_max_total_bytes,
            l.timers_max_pending as u64,
        ];
        for ((key, min, max), v) in COUNTS.iter().zip(counts) {
            if !(*min..=*max).contains(&v) {
                anyhow::bail!("{key} = {v}, but it must be {min} to {max}");
            }
        }
        // The wall-clock limit includes the guest's running time: one
        // shorter than the deadline would make the deadline meaningless.
        let pairs = std::iter::once(("[limits]".to_string(), l.timeout_ms, l.wall_ms(None, None)))
            .chain(self.scripts.iter().map(|e| {
                (
                    format!("[[scripts]] {}:", e.path.display()),
                    e.timeout_ms.unwrap_or(l.timeout_ms),
                    l.wall_ms(e.timeout_ms, e.wall_ms),
                )
            }));
        for (what, timeout, wall) in pairs {
            if wall < timeout {
                anyhow::bail!(
                    "{what} wall_ms = {wall}, but it must be at least timeout_ms ({timeout})"
                );
            }
        }
        Ok(())
    }

    /// Scripts are found again by name at each reload: two of one name
    /// would merge into one.
    fn check_script_names(&self) -> anyhow::Result<()> {
        for (i, e) in self.scripts.iter().enumerate() {
            let name = e.script_name();
            if let Some(first) = self.scripts[..i].iter().find(|f| f.script_name() == name) {
                anyhow::bail!(
                    "[[scripts]] {} and {} are both named `{name}`; give one of them another `name`",
                    first.path.display(),
                    e.path.display()
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Config::check` of a config file's text.
    fn with(toml: &str) -> anyhow::Result<()> {
        toml::from_str::<Config>(toml).unwrap().check()
    }

    #[test]
    fn empty_file_means_defaults() {
        let c: Config = toml::from_str("").unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:5000");
        assert_eq!(c.backend.kind, BackendKind::Sim);
        assert_eq!(c.webhook.timeout_secs, 120);
    }

    /// The example config the README's run command uses must load, with
    /// the grants its bots need.
    #[test]
    fn the_example_config_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../openqq.toml");
        let c = Config::load(&path).unwrap_or_else(|e| panic!("{e:#}"));
        let entry = |stem: &str| {
            c.scripts
                .iter()
                .find(|e| e.script_name() == stem)
                .unwrap_or_else(|| panic!("{stem} is in openqq.toml"))
        };
        assert_eq!(entry("forward").send_to, ["group:552603"]);
        assert_eq!(entry("daily-checkin").send_to, ["group:552603"]);
    }

    #[test]
    fn scripts_keep_their_config_tables() {
        let c: Config = toml::from_str(
            "post_api = \"http://127.0.0.1:9/x\"\n[[scripts]]\npath = \"a.wasm\"\nconfig = { reply = { ping = \"pong\" } }\n",
        )
        .unwrap();
        assert_eq!(c.scripts[0].config["reply"]["ping"].as_str(), Some("pong"));
        assert!(toml::from_str::<Config>("lisen = 1").is_err());
    }

    #[test]
    fn instances_must_be_one_to_eight() {
        assert!(with("").is_ok());
        assert!(with("[limits]\ninstances = 8\n").is_ok());
        let zero = with("[limits]\ninstances = 0\n").unwrap_err().to_string();
        assert!(zero.contains("instances = 0"), "{zero}");
        let nine = with("[[scripts]]\npath = \"a.wasm\"\ninstances = 9\n")
            .unwrap_err()
            .to_string();
        assert!(nine.contains("a.wasm") && nine.contains("1 to 8"), "{nine}");
    }

    #[test]
    fn the_webhook_backlog_is_bounded_by_bytes_and_count() {
        let c: Config = toml::from_str("").unwrap();
        assert_eq!((c.webhook.backlog, c.webhook.backlog_mb), (1_000_000, 256));
        assert!(with("[webhook]\nqueue = 100\nbacklog = 1\nbacklog_mb = 1\n").is_ok());
        let zero = with("[webhook]\nbacklog_mb = 0\n").unwrap_err().to_string();
        assert!(zero.contains("[webhook] backlog_mb = 0"), "{zero}");
        let none = with("[webhook]\nbacklog = 0\n").unwrap_err().to_string();
        assert!(none.contains("[webhook] backlog = 0"), "{none}");
    }

    #[test]
    fn durations_out_of_range_are_refused_by_name() {
        let huge = with("[backend]\ntimeout_secs = 18446744073709551615\n")
            .unwrap_err()
            .to_string();
        assert!(
            huge.contains("[backend] timeout_secs") && huge.contains("1 to 3600"),
            "{huge}"
        );
        let zero = with("[webhook]\ntimeout_secs = 0\n")
            .unwrap_err()
            .to_string();
        assert!(zero.contains("[webhook] timeout_secs = 0"), "{zero}");
        let script = with("[[scripts]]\npath = \"a.wasm\"\ntimeout_ms = 18446744073709551615\n")
            .unwrap_err()
            .to_string();
        assert!(script.contains("a.wasm: timeout_ms"), "{script}");
        assert!(with("[limits]\ntimeout_ms = 60000\n[outbox]\nspacing_ms = 3000\n[backend]\nrefresh_secs = 0\n").is_ok());
        assert!(with("[limits]\ntimeout_ms = 60001\n").is_err());
    }

    #[test]
    fn sandbox_limits_are_checked_by_name() {
        assert!(with("[limits]\nwall_ms = 5000\nbackoff_ms = 10\nbackoff_max_ms = 10\n").is_ok());
        let short = with("[limits]\ntimeout_ms = 500\nwall_ms = 200\n")
            .unwrap_err()
            .to_string();
        assert!(short.contains("[limits] wall_ms = 200"), "{short}");
        let script =
            with("[limits]\nwall_ms = 1000\n[[scripts]]\npath = \"a.wasm\"\ntimeout_ms = 2000\n")
                .unwrap_err()
                .to_string();
        assert!(script.contains("a.wasm: wall_ms = 1000"), "{script}");
        // Unset, the wall-clock limit follows the deadline.
        assert!(with("[[scripts]]\npath = \"a.wasm\"\ntimeout_ms = 2000\n").is_ok());
        let c: Config = toml::from_str("").unwrap();
        assert_eq!(c.limits.wall_ms(None, None), 1000);
        assert_eq!(c.limits.wall_ms(Some(2000), None), 4000);
        let backoff = with("[limits]\nbackoff_ms = 100\nbackoff_max_ms = 10\n")
            .unwrap_err()
            .to_string();
        assert!(backoff.contains("backoff_max_ms = 10"), "{backoff}");
        let none = with("[limits]\nmax_resources = 0\n")
            .unwrap_err()
            .to_string();
        assert!(none.contains("[limits] max_resources = 0"), "{none}");
    }

    #[test]
    fn two_scripts_of_one_name_are_refused_naming_both_paths() {
        let same = with("[[scripts]]\npath = \"a/bot.wasm\"\n[[scripts]]\npath = \"b/bot.wasm\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            same.contains("a/bot.wasm") && same.contains("b/bot.wasm") && same.contains("`bot`"),
            "{same}"
        );
        let named =
            with("[[scripts]]\npath = \"a.wasm\"\nname = \"b\"\n[[scripts]]\npath = \"b.wasm\"\n");
        assert!(named.is_err());
        assert!(with("[[scripts]]\npath = \"a/bot.wasm\"\n[[scripts]]\npath = \"b/bot.wasm\"\nname = \"bot2\"\n").is_ok());
    }

    #[test]
    fn a_missing_scripts_dir_is_refused_naming_it() {
        let missing =
            std::env::temp_dir().join(format!("openqq-no-such-dir-{}", std::process::id()));
        let c = Config {
            scripts_dir: Some(missing.clone()),
            ..Config::default()
        };
        let e = c.check().unwrap_err().to_string();
        assert!(e.contains(&missing.display().to_string()), "{e}");
        let here = Config {
            scripts_dir: Some(std::env::temp_dir()),
            ..Config::default()
        };
        assert!(here.check().is_ok());
    }

    #[test]
    fn onebot_section_is_read_and_checked() {
        let c: Config = toml::from_str(
            "[backend]\nkind = \"onebot\"\nurl = \"ws://127.0.0.1:3001/\"\naccess_token = \"t\"\nmode = \"reverse\"\n",
        )
        .unwrap();
        assert_eq!(c.backend.kind, BackendKind::Onebot);
        assert_eq!(c.backend.mode, OnebotMode::Reverse);
        let o = c.backend.to_onebot_config().unwrap();
        assert_eq!(o.access_token, "t");
        assert_eq!(o.send_timeout, Duration::from_secs(30));
        let no_url: Config = toml::from_str("[backend]\nkind = \"onebot\"\n").unwrap();
        assert!(no_url.backend.to_onebot_config().is_err());
        let bad: Config =
            toml::from_str("[backend]\nkind = \"onebot\"\nurl = \"http://x/\"\n").unwrap();
        assert!(bad.backend.to_onebot_config().is_err());
        assert!(toml::from_str::<Config>("[backend]\nmode = \"sideways\"\n").is_err());
    }
}

#[cfg(test)]
mod props;
