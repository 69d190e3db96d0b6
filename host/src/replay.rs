//! `openqq replay BOT.wasm --journal FILE [--against OLD.wasm]`: a bot's
//! decision on each journaled message, or only where two versions differ.
//!
//! The bot runs as the swap gate runs it (`scripts::replay`): the
//! gateway's engine and limits (`[limits]` and the bot's `[[scripts]]`
//! entry from `--config`), a scratch instance whose sends, mutes and kicks
//! are dropped, whose KV starts empty in memory, and whose HTTP is denied.
//! Host look-ups answer from the simulated world (`[backend] world`, else
//! the embedded one).
//!
//! Exit codes: see `ExitCode`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;

use crate::config::Config;
use crate::grants::Granted;
use crate::model::InboundMessage;
use crate::scripts::replay::{self, chat_label, snippet};
use crate::scripts::{LoadedScript, ScriptEngine, ScriptSpec};
use crate::session::SessionHandle;

/// What `openqq replay` exits with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum ExitCode {
    /// Every message was decided (decisions may differ from `--against`).
    Clean = 0,
    /// A trap (or a memory or resource cap) in BOT.wasm on some message.
    Trap = 3,
    /// A timeout (deadline or wall clock) in BOT.wasm on some message.
    Timeout = 4,
    /// Both traps and timeouts.
    TrapAndTimeout = 5,
}

/// What to replay.
#[derive(Debug, Clone)]
pub struct ReplayArgs {
    pub bot: PathBuf,
    pub journal: PathBuf,
    pub against: Option<PathBuf>,
    pub config: Option<PathBuf>,
    /// The `[[scripts]]` entry whose settings apply; by default the one
    /// whose path is BOT.wasm, else the `[limits]` defaults.
    pub name: Option<String>,
}

/// Runs the replay, writing one line per message to `out` and a summary
/// to `summary`. Failures of the `--against` version show in its
/// decisions and do not change the exit code.
///
/// # Errors
/// A config, journal or component that cannot be read or loaded, or an
/// `init` that fails.
pub async fn run(
    args: &ReplayArgs,
    out: &mut impl Write,
    summary: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let config = match &args.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    let spec = spec_for(&config, &args.bot, args.name.as_deref())?;
    let engine = ScriptEngine::new(config.cache_dir.clone())?;
    let session = sim_session(&config).await?;
    let zone = config.zone()?;
    let new = version(&engine, &spec, &args.bot, zone).await?;
    let old = match &args.against {
        Some(p) => Some(version(&engine, &spec, p, zone).await?),
        None => None,
    };
    let journal = args.journal.clone();
    let all =
        tokio::task::spawn_blocking(move || crate::journal::read(&journal, usize::MAX, |_| true))
            .await
            .context("reading the journal")??;
    let total = all.len();
    let messages: Vec<InboundMessage> = all
        .into_iter()
        .filter(|m| replay::listens(&new, m))
        .collect();
    let decided = replay::run(&new, &session, &messages)
        .await
        .with_context(|| format!("{}", args.bot.display()))?;
    let before = match &old {
        Some(o) => Some(replay::run(o, &session, &messages).await.with_context(|| {
            format!(
                "{}",
                args.against.as_deref().unwrap_or(Path::new("")).display()
            )
        })?),
        None => None,
    };
    let mut differ = 0;
    for (i, (m, now)) in messages.iter().zip(&decided).enumerate() {
        let line = format!("#{} {} {:?}", m.id, chat_label(m), snippet(&m.content, 40));
        match &before {
            None => writeln!(out, "{line} → {now}")?,
            Some(b) => {
                if !b[i].same_as(now) {
                    differ += 1;
                    writeln!(out, "{line}: {} → {now}", b[i])?;
                }
            }
        }
    }
    let traps = decided.iter().filter(|o| o.is_trap()).count();
    let timeouts = decided.iter().filter(|o| o.is_timeout()).count();
    let mut text = format!(
        "replayed {} journaled messages: {traps} trapped, {timeouts} timed out",
        messages.len()
    );
    if total > messages.len() {
        text.push_str(&format!(
            " ({} others are not in the bot's chats)",
            total - messages.len()
        ));
    }
    if before.is_some() {
        text.push_str(&format!(", {differ} decided differently"));
    }
    writeln!(summary, "{text}")?;
    Ok(match (traps > 0, timeouts > 0) {
        (false, false) => ExitCode::Clean,
        (true, false) => ExitCode::Trap,
        (false, true) => ExitCode::Timeout,
        (true, true) => ExitCode::TrapAndTimeout,
    })
}

/// The settings BOT.wasm runs with: the entry named `name`, else the entry
/// whose file is `bot`, else the defaults of a scripts-directory file.
fn spec_for(config: &Config, bot: &Path, name: Option<&str>) -> anyhow::Result<ScriptSpec> {
    let all = crate::scripts::specs(config).specs;
    let found = match name {
        Some(n) => Some(
            all.into_iter()
                .find(|s| s.name == n)
                .with_context(|| format!("no [[scripts]] entry is named {n:?}"))?,
        ),
        None => all.into_iter().find(|s| same_file(&s.path, bot)),
    };
    Ok(found.unwrap_or_else(|| ScriptSpec::from_file(bot, config)))
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

/// `file` compiled by the gateway's engine with `spec`'s settings, as a
/// scratch copy.
async fn version(
    engine: &Arc<ScriptEngine>,
    spec: &ScriptSpec,
    file: &Path,
    zone: crate::timers::Zone,
) -> anyhow::Result<Arc<LoadedScript>> {
    let bytes = tokio::fs::read(file)
        .await
        .with_context(|| format!("cannot read {}", file.display()))?;
    let prepared = {
        let engine = engine.clone();
        let name = spec.name.clone();
        tokio::task::spawn_blocking(move || engine.prepare(&name, &bytes))
            .await
            .context("compile task failed")??
    };
    let timers = crate::timers::Timers::new(
        crate::storage::Storage::in_memory()?,
        crate::timers::Clock::new(false),
        zone,
    )?;
    let loaded = LoadedScript::new(
        spec,
        prepared,
        Arc::new(Granted::new(spec.grants.clone())),
        timers,
    );
    replay::scratch_copy(&loaded)
}

/// A session on the simulated world, for host look-ups; nothing it is
/// asked to send is ever handed to it (the replay drops actions).
async fn sim_session(config: &Config) -> anyhow::Result<SessionHandle> {
    let world = match &config.backend.world {
        Some(p) => crate::backend::sim::World::load(p)?,
        None => crate::backend::sim::World::default_world(),
    };
    // The sim's events have no reader: the session's task never runs.
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let sim = Arc::new(crate::backend::sim::Sim::new(world, tx));
    let (session, _task) =
        crate::session::Session::start(sim, config.outbox.to_outbox_config(), rx)
            .await
            .context("the simulated world's login failed")?;
    Ok(session)
}
