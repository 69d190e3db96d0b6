//! Benchmark 8, KV cost: what a bot's `kv` call adds to a message, through
//! the whole gateway pipeline (sim backend, in-process). The keeper fixture
//! (`tests/bots/keeper`, 0.2.0) answers `kv get`, `kv set` and `kv incr`
//! with what the host said; beside it, echo.wasm's `ping` → `pong` is the
//! same pipeline with no KV call.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use openqq::Gateway;
use openqq::backend::RawChat;
use openqq::backend::sim::{Action, Sim};
use openqq::config::{Config, ScriptEntry};
use openqq::model::Qq;

use crate::Settings;
use crate::util::{self, Section, Table, quantile};

/// The markers of this benchmark's own section of BENCHMARKS.md.
pub const BEGIN: &str = "<!-- kv: written by `openqq-bench kv`; `all` keeps it -->";
pub const END: &str = "<!-- /kv -->";

/// A friend of the default simulated world.
const FRIEND: Qq = Qq(123456);

struct Case {
    /// Which gateway answers: the echo one (false) or the keeper one.
    keeper: bool,
    content: &'static str,
    reply: &'static str,
    label: &'static str,
}

const CASES: [Case; 4] = [
    Case {
        keeper: false,
        content: "ping",
        reply: "pong",
        label: "plain reply: echo.wasm `ping` → `pong` (no KV call)",
    },
    Case {
        keeper: true,
        content: "kv get k",
        reply: "v",
        label: "keeper `kv get k` → value (a read transaction)",
    },
    Case {
        keeper: true,
        content: "kv set k v",
        reply: "ok",
        label: "keeper `kv set k v` → `ok` (a durable write: redb commit + fsync)",
    },
    Case {
        keeper: true,
        content: "kv incr n 1",
        reply: "",
        label: "keeper `kv incr n 1` → new value (read-modify-write, one commit)",
    },
];

/// A gateway with one bot, driven one message at a time.
pub(crate) struct Subject {
    pub gw: Gateway,
    sim: Arc<Sim>,
    seq: u64,
}

pub(crate) fn entry(bot: &str) -> ScriptEntry {
    ScriptEntry {
        path: util::bot(bot),
        name: Some(bot.into()),
        config: Default::default(),
        timeout_ms: None,
        wall_ms: None,
        memory_mb: None,
        instances: None,
        kv_max_total_bytes: None,
        ..Default::default()
    }
}

async fn start(bot: &str) -> anyhow::Result<Subject> {
    start_with(entry(bot), bot).await
}

/// A gateway running `bot` (its entry), with its own empty `data_dir`
/// named after `tag`.
pub(crate) async fn start_with(bot: ScriptEntry, tag: &str) -> anyhow::Result<Subject> {
    if !bot.path.exists() {
        bail!("{} is missing (scripts/build.sh rust)", bot.path.display());
    }
    let gw = Gateway::start(Config {
        listen: "127.0.0.1:0".parse()?,
        cache_dir: Some(util::work("cache")),
        // Its own, empty database: every run starts from nothing.
        data_dir: Some(util::fresh_dir(&format!("kv/{tag}-data"))),
        scripts: vec![bot],
        ..Config::default()
    })
    .await?;
    if gw.scripts.list().is_empty() {
        bail!("{tag} did not load");
    }
    let sim = gw.sim.clone().context("sim backend")?;
    let seq = sim.sent_after(0).last().map_or(0, |r| r.seq);
    Ok(Subject { gw, sim, seq })
}

/// Injects `content` and waits for the one reply; injection → `Record::at`.
pub(crate) async fn one(sub: &mut Subject, content: &str) -> anyhow::Result<(Duration, String)> {
    first_sent(sub, content, |_| true).await
}

/// Injects `content` and waits for the account to send `want` (other
/// sends before it are skipped); injection → that send's `Record::at`.
pub(crate) async fn one_until(
    sub: &mut Subject,
    content: &str,
    want: &str,
) -> anyhow::Result<Duration> {
    Ok(first_sent(sub, content, |text| text == want).await?.0)
}

/// Injects `content` from the friend and waits for the first thing the
/// account does after it whose text `wanted` accepts (a send's content,
/// any other action's debug form); the subject's position moves past it.
async fn first_sent(
    sub: &mut Subject,
    content: &str,
    wanted: impl Fn(&str) -> bool,
) -> anyhow::Result<(Duration, String)> {
    let t0 = Instant::now();
    sub.sim
        .receive(RawChat::Friend, FRIEND, content.to_string())
        .await
        .map_err(|e| anyhow::anyhow!("inject: {e}"))?;
    let deadline = t0 + Duration::from_secs(30);
    loop {
        let mut got = None;
        let mut seq = sub.seq;
        sub.sim.visit_sent_after(sub.seq, |r| {
            if got.is_some() {
                return;
            }
            seq = r.seq;
            let text = match &r.action {
                Action::Send { content, .. } => content.clone(),
                other => format!("{other:?}"),
            };
            if wanted(&text) {
                got = Some((r.at, text));
            }
        });
        sub.seq = seq;
        if let Some((at, text)) = got {
            return Ok((at - t0, text));
        }
        if Instant::now() > deadline {
            bail!("no answer to {content:?} after 30 s");
        }
        // Yield, not sleep: a 1 ms sleep would round every sample up.
        tokio::task::yield_now().await;
    }
}

#[derive(Default)]
struct Samples {
    p50: Vec<f64>,
    p99: Vec<f64>,
}

pub async fn run(s: &Settings) -> anyhow::Result<Section> {
    let mut echo = start("echo").await?;
    let mut keeper = start("keeper").await?;
    // Warm both (instances, caches, the database file) and give `k` its value.
    for _ in 0..20 {
        one(&mut echo, "ping").await?;
        one(&mut keeper, "kv set k v").await?;
        one(&mut keeper, "kv get k").await?;
        one(&mut keeper, "kv incr n 1").await?;
    }
    let n = s.latency_messages;
    let mut samples: Vec<Samples> = CASES.iter().map(|_| Samples::default()).collect();
    for round in 0..s.rounds {
        // The cases interleaved within the round: drift hits them alike.
        let mut lat: Vec<Vec<Duration>> = CASES.iter().map(|_| Vec::with_capacity(n)).collect();
        for _ in 0..n {
            for (k, c) in CASES.iter().enumerate() {
                let sub = if c.keeper { &mut keeper } else { &mut echo };
                let (d, text) = one(sub, c.content).await?;
                let right = if c.reply.is_empty() {
                    text.parse::<i64>().is_ok()
                } else {
                    text == c.reply
                };
                if !right {
                    bail!("{:?}: unexpected reply {text:?}", c.content);
                }
                lat[k].push(d);
            }
        }
        for (k, l) in lat.iter_mut().enumerate() {
            samples[k].p50.push(quantile(l, 0.5));
            samples[k].p99.push(quantile(l, 0.99));
        }
        eprintln!(
            "kv round {round}: p50 plain {} get {} set {} incr {}",
            util::t(*samples[0].p50.last().unwrap_or(&f64::NAN)),
            util::t(*samples[1].p50.last().unwrap_or(&f64::NAN)),
            util::t(*samples[2].p50.last().unwrap_or(&f64::NAN)),
            util::t(*samples[3].p50.last().unwrap_or(&f64::NAN)),
        );
    }
    echo.gw.stop().await;
    keeper.gw.stop().await;

    let med = util::median;
    let base = (med(&samples[0].p50), med(&samples[0].p99));
    let mut table = Table::new(&[
        "message",
        "per message: p50",
        "p99",
        "÷ plain reply (p50)",
        "÷ plain reply (p99)",
        "added by the KV call (p50)",
    ]);
    for (k, c) in CASES.iter().enumerate() {
        let m = &samples[k];
        table.row(vec![
            c.label.into(),
            util::time_spread(&m.p50),
            util::time_spread(&m.p99),
            format!("{:.1}×", med(&m.p50) / base.0),
            format!("{:.1}×", med(&m.p99) / base.1),
            match med(&m.p50) - base.0 {
                _ if k == 0 => "–".into(),
                d if d < 0.0 => format!("−{} (none measurable)", util::t(-d)),
                d => util::t(d),
            },
        ]);
    }
    Ok(Section {
        title: "8. KV cost per call from a bot".into(),
        how: format!(
            "Two gateways in this process on the `sim` backend (default world), each with its own \
             empty `data_dir`: one runs echo.wasm (0.1.0), one the keeper fixture \
             (`tests/bots/keeper`, 0.2.0), which turns `kv …` chat commands into one `kv` host call \
             each and replies with the result. One friend message at a time: inject, wait for the \
             reply, next; latency = injection → the reply's `Record::at`, so every row is the whole \
             pipeline (lane, script call, send). {} messages per row per round, the four rows \
             interleaved message by message; p50 and p99 of each round, median of {} rounds \
             (min–max). After 20 warm-up messages of each kind.",
            n, s.rounds
        ),
        tables: vec![table],
        notes: vec![
            format!(
                "Reproduce: `cargo run --release -p openqq-bench -- kv` (this run: {} rounds, {}; \
                 1-minute load {} at the end, on a shared 2-core machine: the write rows' p50 \
                 spread is the disk's, not the gateway's).",
                s.rounds,
                util::machine(),
                util::load()
            ),
            "What dominates a write: the redb commit with `Durability::Immediate`, i.e. the \
             fsync of the database file before `set`/`increment` returns (a write is on disk \
             when the bot sees `ok`). A read is a read transaction on an MVCC snapshot, a few \
             µs, lost in the pipeline's own noise. The write runs on a blocking thread \
             (`spawn_blocking`) and the wait is off the guest's CPU deadline (`off_clock` moves \
             the epoch deadline by the time waited), so a slow disk does not get a bot stopped \
             at its 100 ms budget; only the call's wall-clock limit bounds it. The bot's instance stays busy for that wait, so its next message waits for the fsync too."
                .into(),
        ],
    })
}
