//! Benchmark 7, a real peer: the same echo bot (`ping` → `pong`) on openqq
//! (`onebot` backend + `echo.wasm`), NoneBot2 and Koishi, each driven by the
//! same OneBot v11 load generator (`onebot_load`) over a reverse WebSocket,
//! in one run, the subjects interleaved in every round.
//!
//! The peers are installed by `bench/peers/setup.sh` under `target/peers/`;
//! one that is not installed is skipped with a note in its row.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::Settings;
use crate::onebot_load::{Peer, Run, Tally, World};
use crate::util::{self, Section, Table};

/// The markers of this section in BENCHMARKS.md (`peers` rewrites only it).
pub const BEGIN: &str = "<!-- peers: written by `openqq-bench peers` and `all` -->";
pub const END: &str = "<!-- /peers -->";
/// What the section's title contains (`all` finds it by this).
pub const TITLE: &str = "A real peer";

const TOKEN: &str = "bench";
const WORLD: World = World {
    self_id: 1_234_567,
    groups: 32,
    users: 4,
};

/// What the numbers mean, and the frameworks' quirks met on the way.
const CAVEATS: &[&str] = &[
    "Reading the ratios: NoneBot2 (asyncio) and Koishi (Node) each run on one event loop, so one \
     core is their ceiling (\"1.0 cores busy\" is saturated); openqq spreads a message's work over \
     threads. On this 2-core machine that is part of the messages/s ratio; CPU per message is the \
     comparison that does not depend on cores. The one-at-a-time latencies are each framework's \
     own path: event parsed, bot run, send written and its answer read.",
    "NoneBot2 reads nothing at connect (its bot is ready as soon as the socket is); openqq reads \
     the account, friends, groups and every member list first; Koishi reads the account. All of \
     it happens before the warm-up and is not timed.",
    "Koishi: the adapter is `koishi-plugin-adapter-onebot` (6.x, the one for Koishi 4.18); \
     `@koishijs/plugin-adapter-onebot` 5.8.1 is built for an older Satori and never registers its \
     route under Koishi 4.18. Started without Koishi's loader, `echo.js` plugs in `http` and \
     `server` itself (without `http` the adapter silently never starts). In `ws-reverse` mode \
     Koishi checks `X-Client-Role` and `X-Self-ID` but not the token. It asks for \
     `get_guild_service_profile` (a go-cqhttp guild extension) and carries on when it is refused.",
    "NoneBot2 answers with `send_msg` (`message_type: group`), openqq and Koishi with \
     `send_group_msg`; the generator answers both the same way.",
];

/// Where `bench/peers/setup.sh` installs.
fn peers_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| util::root().join("target"), PathBuf::from)
        .join("peers")
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Openqq,
    NoneBot,
    Koishi,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Openqq => "openqq",
            Kind::NoneBot => "NoneBot2",
            Kind::Koishi => "Koishi",
        }
    }
}

/// One framework, started and connected.
struct Live {
    child: tokio::process::Child,
    pid: u32,
    peer: Peer,
    ready_after: Duration,
}

/// One framework's measurements over the rounds.
struct Subject {
    kind: Kind,
    what: String,
    version: String,
    /// Why it is not measured, when it is not.
    skipped: Option<String>,
    live: Option<Live>,
    rate: Vec<f64>,
    load_p50: Vec<f64>,
    load_p99: Vec<f64>,
    cpu_per_msg: Vec<f64>,
    cores: Vec<f64>,
    /// CPU of this process (the load generator) per message, and its cores busy.
    gen_cpu_per_msg: Vec<f64>,
    gen_cores: Vec<f64>,
    p50: Vec<f64>,
    p99: Vec<f64>,
    rss_kib: Option<u64>,
    tally: Tally,
}

impl Subject {
    fn new(kind: Kind, what: String, version: String, skipped: Option<String>) -> Subject {
        Subject {
            kind,
            what,
            version,
            skipped,
            live: None,
            rate: vec![],
            load_p50: vec![],
            load_p99: vec![],
            cpu_per_msg: vec![],
            cores: vec![],
            gen_cpu_per_msg: vec![],
            gen_cores: vec![],
            p50: vec![],
            p99: vec![],
            rss_kib: None,
            tally: Tally::default(),
        }
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn log_file(name: &str) -> anyhow::Result<std::fs::File> {
    let path = util::work("peers").join(format!("{name}.log"));
    std::fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))
}

/// What to start for each subject, or why it cannot be: (command, the
/// WebSocket URL the generator dials).
fn command(kind: Kind, port: u16) -> anyhow::Result<(tokio::process::Command, String)> {
    let root = util::root();
    let peers = peers_dir();
    let log = log_file(kind.name())?;
    let mut cmd = match kind {
        Kind::Openqq => {
            let bin = root.join("target/release/openqq");
            let echo = util::bot("echo");
            for f in [&bin, &echo] {
                if !f.exists() {
                    bail!("{} is missing (run without --no-build)", f.display());
                }
            }
            let config = util::work("peers").join("openqq.toml");
            std::fs::write(
                &config,
                format!(
                    "cache_dir = {:?}\n\n[backend]\nkind = \"onebot\"\nmode = \"reverse\"\n\
                     url = \"ws://127.0.0.1:{port}/onebot/v11/ws\"\naccess_token = {TOKEN:?}\n\n\
                     [[scripts]]\npath = {:?}\n",
                    util::work("cache").display().to_string(),
                    echo.display().to_string()
                ),
            )?;
            let mut c = tokio::process::Command::new(bin);
            c.args(["serve", "--config"])
                .arg(&config)
                .args(["--listen", &format!("127.0.0.1:{}", free_port()?)])
                .env("RUST_LOG", "warn");
            c
        }
        Kind::NoneBot => {
            let python = peers.join("nonebot/venv/bin/python");
            if !python.exists() {
                bail!("not installed: run `bash bench/peers/setup.sh`");
            }
            let mut c = tokio::process::Command::new(python);
            c.arg(root.join("bench/peers/nonebot/bot.py"))
                .current_dir(util::work("peers"))
                .env("DRIVER", "~fastapi")
                .env("HOST", "127.0.0.1")
                .env("PORT", port.to_string())
                .env("ONEBOT_ACCESS_TOKEN", TOKEN)
                .env("LOG_LEVEL", "WARNING");
            c
        }
        Kind::Koishi => {
            let modules = peers.join("koishi/node_modules");
            if !modules.join("koishi").exists() {
                bail!("not installed: run `bash bench/peers/setup.sh`");
            }
            let mut c = tokio::process::Command::new("node");
            c.arg(root.join("bench/peers/koishi/echo.js"))
                .current_dir(peers.join("koishi"))
                .env("NODE_PATH", &modules)
                .env("NODE_ENV", "production")
                .env("HOST", "127.0.0.1")
                .env("PORT", port.to_string())
                .env("SELF_ID", WORLD.self_id.to_string())
                .env("ONEBOT_ACCESS_TOKEN", TOKEN);
            c
        }
    };
    cmd.stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true);
    let url = match kind {
        Kind::Openqq | Kind::NoneBot => format!("ws://127.0.0.1:{port}/onebot/v11/ws"),
        Kind::Koishi => format!("ws://127.0.0.1:{port}/onebot"),
    };
    Ok((cmd, url))
}

/// Versions, for the table: (what runs, the versions).
fn describe(kind: Kind) -> (String, String) {
    match kind {
        Kind::Openqq => (
            "`openqq serve`, `onebot` backend (`mode = \"reverse\"`), `echo.wasm`".into(),
            format!(
                "{} (commit {}); wasmtime 48",
                util::command_line(
                    util::root()
                        .join("target/release/openqq")
                        .to_str()
                        .unwrap_or("openqq"),
                    &["--version"]
                ),
                util::command_line("git", &["rev-parse", "--short", "HEAD"])
            ),
        ),
        Kind::NoneBot => {
            let python = peers_dir().join("nonebot/venv/bin/python");
            let v = util::command_line(
                python.to_str().unwrap_or("python3"),
                &[
                    "-c",
                    "import importlib.metadata as m, platform; print(', '.join(f'{p} {m.version(p)}' for p in \
                     ['nonebot2', 'nonebot-adapter-onebot', 'fastapi', 'uvicorn', 'websockets']) + ', CPython ' + platform.python_version())",
                ],
            );
            (
                "`bench/peers/nonebot/bot.py`: an `on_message` matcher, FastAPI driver (uvicorn), reverse WebSocket".into(),
                v,
            )
        }
        Kind::Koishi => {
            let dir = peers_dir().join("koishi");
            let v = util::command_line(
                "node",
                &[
                    "-e",
                    "const d=process.argv[1]+'/node_modules/';const v=p=>p+' '+require(d+p+'/package.json').version;\
                     console.log(['koishi','koishi-plugin-adapter-onebot','@koishijs/plugin-server'].map(v).join(', ')+', Node '+process.version)",
                    dir.to_str().unwrap_or("."),
                ],
            );
            (
                "`bench/peers/koishi/echo.js`: a middleware, `@koishijs/plugin-server`, `ws-reverse`".into(),
                v,
            )
        }
    }
}

async fn start(kind: Kind) -> anyhow::Result<Live> {
    let port = free_port()?;
    let (mut cmd, url) = command(kind, port)?;
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start {}", kind.name()))?;
    let pid = child.id().context("child pid")?;
    let started = std::time::Instant::now();
    let dialled = tokio::select! {
        p = Peer::dial(&url, TOKEN, WORLD, Duration::from_secs(90)) => p,
        st = child.wait() => Err(anyhow::anyhow!("{} exited at start: {st:?} (see target/bench/peers/{}.log)", kind.name(), kind.name())),
    };
    let mut peer = dialled?;
    peer.ready(Duration::from_secs(90)).await.with_context(|| {
        format!(
            "{} never answered (see target/bench/peers/{}.log)",
            kind.name(),
            kind.name()
        )
    })?;
    Ok(Live {
        child,
        pid,
        peer,
        ready_after: started.elapsed(),
    })
}

/// `VmRSS` of a process, in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn secs(mut run: Run) -> (f64, f64, f64, usize) {
    let n = run.latencies.len();
    let p50 = util::quantile(&mut run.latencies, 0.50);
    let p99 = util::quantile(&mut run.latencies, 0.99);
    (run.elapsed.as_secs_f64(), p50, p99, n)
}

async fn measure(sub: &mut Subject, s: &Settings, round: usize) -> anyhow::Result<()> {
    let Some(live) = sub.live.as_mut() else {
        return Ok(());
    };
    let (cpu0, gen0, t0) = (
        util::cpu_of(live.pid),
        util::cpu_self(),
        std::time::Instant::now(),
    );
    let run = live.peer.window(s.peer_messages, s.peer_window).await?;
    let (cpu1, gen1, wall) = (
        util::cpu_of(live.pid),
        util::cpu_self(),
        t0.elapsed().as_secs_f64(),
    );
    let (elapsed, lp50, lp99, n) = secs(run);
    sub.rate.push(n as f64 / elapsed);
    sub.load_p50.push(lp50);
    sub.load_p99.push(lp99);
    sub.cpu_per_msg.push((cpu1 - cpu0) / n as f64);
    sub.cores.push((cpu1 - cpu0) / wall);
    sub.gen_cpu_per_msg.push((gen1 - gen0) / n as f64);
    sub.gen_cores.push((gen1 - gen0) / wall);
    let (_, p50, p99, _) = secs(live.peer.one_by_one(s.latency_messages).await?);
    sub.p50.push(p50);
    sub.p99.push(p99);
    eprintln!(
        "peers round {round}: {:<9} {:>9}  under load p50 {} p99 {}; one at a time p50 {} p99 {}; {} CPU/msg",
        sub.kind.name(),
        util::rate(n as f64 / elapsed),
        util::t(lp50),
        util::t(lp99),
        util::t(p50),
        util::t(p99),
        util::t((cpu1 - cpu0) / n as f64)
    );
    Ok(())
}

pub async fn run(s: &Settings) -> anyhow::Result<Section> {
    let mut subjects = Vec::new();
    for kind in [Kind::Openqq, Kind::NoneBot, Kind::Koishi] {
        let (what, version) = describe(kind);
        let mut sub = Subject::new(kind, what, version, None);
        eprintln!("peers: starting {}", kind.name());
        match start(kind).await {
            Ok(live) => {
                eprintln!(
                    "peers: {} answered its first ping {:.1} s after its start",
                    kind.name(),
                    live.ready_after.as_secs_f64()
                );
                sub.live = Some(live);
            }
            // openqq is the reference: without it there is nothing to compare.
            Err(e) if kind == Kind::Openqq => return Err(e),
            Err(e) => {
                eprintln!("peers: {} skipped: {e:#}", kind.name());
                sub.skipped = Some(format!("{e:#}"));
            }
        }
        subjects.push(sub);
    }
    // Warm-up (unmeasured): JITs, caches and pools settle.
    for sub in &mut subjects {
        if let Some(live) = sub.live.as_mut() {
            live.peer
                .window((s.peer_messages / 5).max(500), s.peer_window)
                .await
                .with_context(|| format!("{} warm-up", sub.kind.name()))?;
        }
    }
    for round in 0..s.peer_rounds {
        for sub in &mut subjects {
            let name = sub.kind.name();
            measure(sub, s, round)
                .await
                .with_context(|| format!("{name}, round {round}"))?;
        }
    }
    for sub in &mut subjects {
        if let Some(mut live) = sub.live.take() {
            sub.rss_kib = rss_kib(live.pid);
            sub.tally = live.peer.tally.clone();
            live.peer.close().await;
            let _ = live.child.kill().await;
        }
    }
    Ok(section(&subjects, s))
}

fn section(subjects: &[Subject], s: &Settings) -> Section {
    let mut table = Table::new(&[
        "framework (the same echo bot)",
        "throughput run: messages/s",
        "throughput run: p50 / p99",
        "CPU per message (the framework's process)",
        "one at a time: p50",
        "one at a time: p99",
        "the generator's CPU per message",
        "RSS after the run",
    ]);
    for sub in subjects {
        if let Some(why) = &sub.skipped {
            table.row(vec![
                format!("**{}**", sub.kind.name()),
                format!("not measured: {}", why.replace('|', "\\|")),
                "–".into(),
                "–".into(),
                "–".into(),
                "–".into(),
                "–".into(),
                "–".into(),
            ]);
            continue;
        }
        table.row(vec![
            format!("**{}**", sub.kind.name()),
            util::rate_spread(&sub.rate),
            format!(
                "{} / {}",
                util::t(util::median(&sub.load_p50)),
                util::t(util::median(&sub.load_p99))
            ),
            format!(
                "{}; {:.2} cores busy",
                util::time_spread(&sub.cpu_per_msg),
                util::median(&sub.cores)
            ),
            util::time_spread(&sub.p50),
            util::time_spread(&sub.p99),
            format!(
                "{}; {:.2} cores busy",
                util::t(util::median(&sub.gen_cpu_per_msg)),
                util::median(&sub.gen_cores)
            ),
            sub.rss_kib
                .map_or("–".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0)),
        ]);
    }
    let mut ratios = Table::new(&["ratio (medians)", "NoneBot2", "Koishi"]);
    let base = &subjects[0];
    let cell = |f: &dyn Fn(&Subject) -> f64| -> Vec<String> {
        subjects[1..]
            .iter()
            .map(|o| {
                if o.skipped.is_some() {
                    "not measured".into()
                } else {
                    format!("**{:.1}×**", f(o))
                }
            })
            .collect()
    };
    let m = util::median;
    let mut row = |label: &str, f: &dyn Fn(&Subject) -> f64| {
        let mut r = vec![label.to_string()];
        r.extend(cell(f));
        ratios.row(r);
    };
    row("openqq ÷ it, messages/s", &|o| m(&base.rate) / m(&o.rate));
    row("it ÷ openqq, CPU per message", &|o| {
        m(&o.cpu_per_msg) / m(&base.cpu_per_msg)
    });
    row("it ÷ openqq, p50 one at a time", &|o| {
        m(&o.p50) / m(&base.p50)
    });
    row("it ÷ openqq, p99 one at a time", &|o| {
        m(&o.p99) / m(&base.p99)
    });
    row("it ÷ openqq, p50 in the throughput run", &|o| {
        m(&o.load_p50) / m(&base.load_p50)
    });

    let mut versions = Table::new(&["framework", "what runs", "versions"]);
    for sub in subjects {
        versions.row(vec![
            sub.kind.name().into(),
            sub.what.clone(),
            sub.version.clone(),
        ]);
    }
    let mut notes = Vec::new();
    for sub in subjects.iter().filter(|s| s.skipped.is_none()) {
        let (fw, load) = (util::median(&sub.cores), util::median(&sub.gen_cores));
        if fw + load > 1.7 {
            notes.push(format!(
                "{}: the framework ({fw:.2} cores) and the generator ({load:.2} cores) together kept the \
                 machine's 2 cores busy in the throughput run: its messages/s is bounded by the machine, \
                 not by the framework alone; CPU per message is the comparable figure.",
                sub.kind.name()
            ));
        }
    }
    for sub in subjects.iter().filter(|s| s.skipped.is_none()) {
        let t = &sub.tally;
        let calls: Vec<String> = t.calls.iter().map(|(k, v)| format!("`{k}` ×{v}")).collect();
        let sends: Vec<String> = t.sends.iter().map(|(k, v)| format!("`{k}` ×{v}")).collect();
        let unsupported: Vec<String> = t.unsupported.keys().map(|k| format!("`{k}`")).collect();
        notes.push(format!(
            "{}: replies sent with {}; other calls: {}{}; sends whose text was not `pong`: {}; sends to a group with nothing in flight: {}.",
            sub.kind.name(),
            sends.join(", "),
            if calls.is_empty() { "none".into() } else { calls.join(", ") },
            if unsupported.is_empty() {
                String::new()
            } else {
                format!(" (answered \"not supported\", retcode 1404: {})", unsupported.join(", "))
            },
            t.wrong_text,
            t.unexpected
        ));
    }
    notes.extend(CAVEATS.iter().map(|c| c.to_string()));
    Section {
        title: format!("7. {TITLE}: openqq, NoneBot2 and Koishi over OneBot v11"),
        how: format!(
            "- **Command**: `bash bench/peers/setup.sh` once (pip and npm into `target/peers/`; never in CI), then \
             `cargo run --release -p openqq-bench -- peers` (this section alone; `all` runs it too and marks a \
             framework that is not installed as not measured)\n\
             - **Date**: {}; **machine**: {}; 1-minute load {} at the end\n\n\
             The same echo bot three times — `ping` gets `pong` in the chat it came from, anything else passes — \
             as openqq's `echo.wasm`, a NoneBot2 plugin and a Koishi middleware (sources in `bench/peers/`). \
             Each framework runs as its own process and serves a OneBot v11 reverse WebSocket; the load \
             generator in this process (`bench/src/onebot_load.rs`) dials it as NapCat would (Universal role, \
             `X-Self-ID`, `Authorization: Bearer`), answers every call with small valid data (`get_login_info`, \
             `get_group_list`, `get_group_member_list`, … — {} groups of {} members and the account) and \
             `send_group_msg`/`send_msg` with `{{\"status\":\"ok\",\"retcode\":0,\"data\":{{\"message_id\":N}}}}`, \
             and sends group `message` events (array segments, `raw_message`, `sender`, a new `message_id` each). \
             Every `ping` is timed from its event frame written to the framework's send for that group read; \
             each group has at most one `ping` in flight, so the match is exact. **Throughput run**: {} messages \
             with one in flight in each of {} groups (each answer sends that group's next); messages/s = N ÷ \
             (first event → last answer). **One at a time**: {} messages, each sent when the last was answered. \
             CPU per message: the framework's process (`/proc/<pid>/task/*/schedstat`) during the throughput run \
             ÷ N, and the generator's (this process) beside it. All three log at warning level. A warm-up of {} messages \
             first; then {} rounds, the frameworks interleaved in every round; median (min–max). The generator \
             and the framework share the machine's cores, as a OneBot implementation on the same host would.",
            util::command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
            util::machine(),
            util::load(),
            WORLD.groups,
            WORLD.users,
            util::thousands(s.peer_messages as u64),
            s.peer_window.min(WORLD.groups as usize),
            s.latency_messages,
            util::thousands((s.peer_messages / 5).max(500) as u64),
            s.peer_rounds,
        ),
        tables: vec![table, ratios, versions],
        notes,
    }
}
