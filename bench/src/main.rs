//! `openqq-bench`: openqq measured against its peers and its limits, side by
//! side in one process run, as ratios (issue 7).
//!
//! ```sh
//! cargo build --release -p openqq-bench -p openqq
//! cargo run --release -p openqq-bench -- all          # writes BENCHMARKS.md
//! cargo run --release -p openqq-bench -- pipeline --quick
//! cargo run --release -p openqq-bench -- soak         # 1,000,000 messages; its own section
//! bash bench/peers/setup.sh                            # NoneBot2 and Koishi into target/peers/
//! cargo run --release -p openqq-bench -- peers        # openqq vs NoneBot2 vs Koishi; its own section
//! cargo run --release -p openqq-bench -- slow-chat    # one slow chat beside many; prints its section
//! cargo run --release -p openqq-bench -- trace        # the trace's cost, on vs off; its own section
//! ```
//!
//! Nothing here asserts anything about time; the numbers go to the table.

mod fleet;
mod grants;
mod http;
mod http_wait;
mod kv;
mod memory;
mod onebot_load;
mod peers;
mod pipeline;
mod scripts;
mod slow_chat;
mod soak;
mod swap;
mod trace;
mod util;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "openqq-bench", about = "openqq benchmarks, side by side")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    opts: Opts,
}

#[derive(Subcommand, Clone, Copy, PartialEq)]
enum Command {
    /// Every benchmark below; writes BENCHMARKS.md (unless --quick).
    All,
    /// Native handler vs WebAssembly bot vs post_api webhook.
    Pipeline,
    /// send_message and get_friend_info vs a bare axum handler.
    Http,
    /// Reused vs fresh instances; cold vs warm loads; per language.
    Scripts,
    /// VmRSS of `openqq serve` with 0, 3, 10 scripts.
    Memory,
    /// Hot swap: file written → first reply by the new version.
    Swap,
    /// Soak (not part of `all`): 1,000,000 messages (`--messages`) through hot
    /// swaps every 100 ms and a hostile bot; 0 lost, 0 duplicated, RSS over
    /// time. Rewrites only its own section of BENCHMARKS.md (unless --quick).
    Soak,
    /// openqq (onebot backend + echo.wasm) vs NoneBot2 vs Koishi, the same
    /// echo bot driven by one OneBot v11 load generator. Part of `all` too;
    /// alone it rewrites only its own section of BENCHMARKS.md (unless
    /// --quick). The peers come from `bench/peers/setup.sh`; missing ones
    /// are marked as not measured.
    Peers,
    /// KV cost (not part of `all`): a plain reply vs `kv get`, `kv set`,
    /// `kv incr` from the keeper fixture, per message through the pipeline.
    /// Rewrites only its own section of BENCHMARKS.md (unless --quick).
    Kv,
    /// The cost of grants (not part of `all`): a message with and without a
    /// `chats` list and a `host.send` grant check, through the pipeline,
    /// and each check alone. Rewrites only its own section of BENCHMARKS.md
    /// (unless --quick).
    Grants,
    /// A bot waiting on HTTP and the other chats (not part of `all`): a
    /// ping's reply time alone and while the fetcher fixture waits 2 s on a
    /// slow server for other chats. Rewrites only its own section of
    /// BENCHMARKS.md (unless --quick).
    HttpWait,
    /// One slow chat beside many (not part of `all`): ordinary chats' reply
    /// latency alone and while one chat's every message takes 2 s to decide.
    SlowChat,
    /// The per-message trace's cost (not part of `all`): pipeline
    /// throughput with tracing on (1,000 kept) vs off. Rewrites only its
    /// own section of BENCHMARKS.md (unless --quick).
    Trace,
    /// The fleet bus (not part of `all`): messages/s and p50/p99 through
    /// NATS JetStream to a worker vs the post_api webhook to the same
    /// decision. Needs `nats-server` (scripts/toolchains.sh nats). Rewrites
    /// only its own section of BENCHMARKS.md (unless --quick).
    Fleet,
    /// (internal) The NATS worker the fleet benchmark starts.
    #[command(hide = true)]
    FleetWorker,
    /// (internal) The post_api receiver the pipeline benchmark starts.
    #[command(hide = true)]
    Receiver,
    /// (internal) The post_api receiver the soak starts.
    #[command(hide = true)]
    SoakReceiver,
}

#[derive(clap::Args)]
struct Opts {
    /// Small sizes and one round: a smoke run, not for the record.
    #[arg(long, global = true)]
    quick: bool,
    /// Rounds per measurement (the tables show medians) [default: 5; 1 with --quick].
    #[arg(long, global = true)]
    rounds: Option<usize>,
    /// Messages per pipeline throughput run [default: 100000]; messages of the
    /// soak run [default: 1000000; 20000 with --quick].
    #[arg(long, short = 'n', global = true)]
    messages: Option<usize>,
    /// Messages per throughput run of `peers` [default: 10000; 2000 with --quick].
    #[arg(long, global = true)]
    peer_messages: Option<usize>,
    /// Rounds of `peers` [default: 3; 1 with --quick].
    #[arg(long, global = true)]
    peer_rounds: Option<usize>,
    /// OneBot groups with a message in flight in the `peers` throughput run (1–32) [default: 32].
    #[arg(long, global = true)]
    peer_window: Option<usize>,
    /// Seconds per HTTP measurement [default: 2].
    #[arg(long, global = true)]
    secs: Option<f64>,
    /// Concurrent keep-alive HTTP connections [default: 16].
    #[arg(long, global = true)]
    conns: Option<usize>,
    /// Threads of the HTTP client runtime [default: 2].
    #[arg(long, global = true)]
    client_threads: Option<usize>,
    /// Do not build the bots (scripts/build.sh all) and the openqq binary first.
    #[arg(long, global = true)]
    no_build: bool,
    /// (profiling) Run only case K of `pipeline` (0 native, 1 WASM, 2 WASM per lane, 3 webhook)
    /// or `http` (0 bare, 1 send_message, 2 get_friend_info); no tables.
    #[arg(long, global = true, hide = true)]
    only: Option<usize>,
    /// (experiment) Run the pipeline on the small world instead of the large one.
    #[arg(long, global = true, hide = true)]
    small_world: bool,
    /// Where to write the report [default: BENCHMARKS.md for `all`; none otherwise].
    #[arg(long, global = true)]
    out: Option<PathBuf>,
}

/// The sizes of this run.
pub struct Settings {
    pub rounds: usize,
    pub messages: usize,
    pub soak_messages: usize,
    pub peer_messages: usize,
    pub peer_rounds: usize,
    pub peer_window: usize,
    pub latency_messages: usize,
    pub http_secs: f64,
    pub conns: usize,
    pub client_threads: usize,
    pub calls: usize,
    pub fresh: usize,
    pub only: Option<usize>,
    pub small_world: bool,
}

impl Settings {
    fn from(o: &Opts) -> Settings {
        let q = o.quick;
        Settings {
            rounds: o.rounds.unwrap_or(if q { 1 } else { 5 }).max(1),
            messages: o.messages.unwrap_or(if q { 5_000 } else { 100_000 }).max(1),
            soak_messages: o
                .messages
                .unwrap_or(if q { 20_000 } else { 1_000_000 })
                .max(1),
            peer_messages: o
                .peer_messages
                .unwrap_or(if q { 2_000 } else { 10_000 })
                .max(1),
            peer_rounds: o.peer_rounds.unwrap_or(if q { 1 } else { 3 }).max(1),
            peer_window: o.peer_window.unwrap_or(32).clamp(1, 32),
            latency_messages: if q { 50 } else { 300 },
            http_secs: o.secs.unwrap_or(if q { 0.5 } else { 2.0 }),
            conns: o.conns.unwrap_or(16).max(1),
            client_threads: o.client_threads.unwrap_or(2).max(1),
            calls: if q { 2_000 } else { 20_000 },
            fresh: if q { 50 } else { 300 },
            only: o.only,
            small_world: o.small_world,
        }
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if cli.command == Command::Receiver {
        return pipeline::receiver_main();
    }
    if cli.command == Command::SoakReceiver {
        return soak::receiver_main();
    }
    if cli.command == Command::FleetWorker {
        return fleet::worker_main();
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let settings = Settings::from(&cli.opts);
    let built = if cli.opts.no_build {
        "not rebuilt (`--no-build`)".to_string()
    } else {
        build(cli.command)?
    };
    let load_before = util::load();
    let started = std::time::Instant::now();
    let rt = tokio::runtime::Runtime::new()?;
    let run = |c: Command| -> anyhow::Result<util::Section> {
        rt.block_on(async {
            match c {
                Command::Pipeline => pipeline::run(&settings).await,
                Command::Http => http::run(&settings).await,
                Command::Scripts => scripts::run(&settings).await,
                Command::Memory => memory::run(&settings).await,
                Command::Swap => swap::run(&settings).await,
                Command::Soak => soak::run(&settings).await,
                Command::Peers => peers::run(&settings).await,
                Command::Kv => kv::run(&settings).await,
                Command::Grants => grants::run(&settings).await,
                Command::HttpWait => http_wait::run(&settings).await,
                Command::SlowChat => slow_chat::run(&settings).await,
                Command::Trace => trace::run(&settings).await,
                Command::Fleet => fleet::run(&settings).await,
                Command::All | Command::Receiver | Command::SoakReceiver | Command::FleetWorker => {
                    unreachable!()
                }
            }
        })
        .with_context(|| format!("benchmark {}", name(c)))
    };
    let commands = match cli.command {
        Command::All => vec![
            Command::Pipeline,
            Command::Http,
            Command::Scripts,
            Command::Memory,
            Command::Swap,
            Command::Peers,
        ],
        c => vec![c],
    };
    let mut sections = Vec::new();
    for c in commands {
        eprintln!("== {} (load {})", name(c), util::load());
        let s = run(c)?;
        println!("{}", s.markdown());
        sections.push(s);
    }
    let out = cli.opts.out.clone().or_else(|| {
        (matches!(
            cli.command,
            Command::All
                | Command::Soak
                | Command::Peers
                | Command::Kv
                | Command::Grants
                | Command::HttpWait
                | Command::Trace
                | Command::Fleet
        ) && !cli.opts.quick)
            .then(|| util::root().join("BENCHMARKS.md"))
    });
    let own = |c: Command| match c {
        Command::Soak => Some((soak::BEGIN, soak::END)),
        Command::Peers => Some((peers::BEGIN, peers::END)),
        Command::Kv => Some((kv::BEGIN, kv::END)),
        Command::Grants => Some((grants::BEGIN, grants::END)),
        Command::HttpWait => Some((http_wait::BEGIN, http_wait::END)),
        Command::SlowChat => Some((slow_chat::BEGIN, slow_chat::END)),
        Command::Trace => Some((trace::BEGIN, trace::END)),
        Command::Fleet => Some((fleet::BEGIN, fleet::END)),
        _ => None,
    };
    if let (Some(out), Some((begin, end))) = (&out, own(cli.command)) {
        // The soak and the peers have their own sections; the rest of the file stays.
        let old = std::fs::read_to_string(out).unwrap_or_default();
        let block = marked(begin, end, &sections[0].markdown());
        let text = with_block(&old, begin, end, &block);
        std::fs::write(out, text).with_context(|| format!("cannot write {}", out.display()))?;
        eprintln!(
            "wrote the {} section of {}",
            name(cli.command),
            out.display()
        );
    } else if let Some(out) = out {
        // Keep the soak section of the last `soak` run: `all` does not run
        // it. The peers section goes after it, between its own markers.
        let old = std::fs::read_to_string(&out).unwrap_or_default();
        let (peer_sections, sections): (Vec<util::Section>, Vec<util::Section>) = sections
            .into_iter()
            .partition(|s| s.title.contains(peers::TITLE));
        let text = report(
            &sections,
            &settings,
            &built,
            &load_before,
            started.elapsed(),
        );
        let mut text = match section_of(&old, soak::BEGIN, soak::END) {
            Some(block) => with_block(&text, soak::BEGIN, soak::END, block),
            None => text,
        };
        for p in &peer_sections {
            let block = marked(peers::BEGIN, peers::END, &p.markdown());
            text = with_block(&text, peers::BEGIN, peers::END, &block);
        }
        // The sections of the last `kv` and `grants` runs, after the peers.
        for (begin, end) in [
            (kv::BEGIN, kv::END),
            (grants::BEGIN, grants::END),
            (http_wait::BEGIN, http_wait::END),
            (slow_chat::BEGIN, slow_chat::END),
            (trace::BEGIN, trace::END),
            (fleet::BEGIN, fleet::END),
        ] {
            if let Some(block) = section_of(&old, begin, end) {
                text = with_block(&text, begin, end, block);
            }
        }
        std::fs::write(&out, text).with_context(|| format!("cannot write {}", out.display()))?;
        eprintln!("wrote {}", out.display());
    }
    Ok(())
}

fn name(c: Command) -> &'static str {
    match c {
        Command::All => "all",
        Command::Pipeline => "pipeline",
        Command::Http => "http",
        Command::Scripts => "scripts",
        Command::Memory => "memory",
        Command::Swap => "swap",
        Command::Soak => "soak",
        Command::Peers => "peers",
        Command::Kv => "kv",
        Command::Grants => "grants",
        Command::HttpWait => "http-wait",
        Command::SlowChat => "slow-chat",
        Command::Trace => "trace",
        Command::Fleet => "fleet",
        Command::FleetWorker => "fleet-worker",
        Command::Receiver => "receiver",
        Command::SoakReceiver => "soak-receiver",
    }
}

/// Builds the bots (every language whose toolchain is installed) and, for
/// the memory benchmark, the release `openqq` binary. Returns what was built.
fn build(c: Command) -> anyhow::Result<String> {
    let root = util::root();
    if c == Command::Soak {
        return build_soak();
    }
    if c == Command::Peers {
        return build_peers();
    }
    if c == Command::SlowChat {
        return Ok("none (a native handler)".into());
    }
    if c == Command::Fleet {
        return Ok("none (the webhook receiver and the NATS worker decide)".into());
    }
    if matches!(
        c,
        Command::Kv | Command::Grants | Command::HttpWait | Command::Trace
    ) {
        build_rust_bots(&root)?;
        return Ok("`scripts/build.sh rust` (echo.wasm, keeper.wasm)".into());
    }
    eprintln!("== building the bots: scripts/build.sh all");
    let out = std::process::Command::new("bash")
        .arg(root.join("scripts/build.sh"))
        .arg("all")
        .current_dir(&root)
        .output()
        .context("cannot run scripts/build.sh")?;
    let text = String::from_utf8_lossy(&out.stdout);
    eprint!("{text}{}", String::from_utf8_lossy(&out.stderr));
    anyhow::ensure!(out.status.success(), "scripts/build.sh all failed");
    let skipped: Vec<String> = text
        .lines()
        .filter(|l| l.contains("skipped"))
        .map(|l| l.trim().to_string())
        .collect();
    if matches!(c, Command::All | Command::Memory) {
        eprintln!("== building target/release/openqq");
        let st = std::process::Command::new("cargo")
            .args(["build", "--release", "-p", "openqq", "--bin", "openqq"])
            .current_dir(&root)
            .status()?;
        anyhow::ensure!(st.success(), "cargo build --release -p openqq failed");
    }
    Ok(if skipped.is_empty() {
        "`scripts/build.sh all` built every bot in every language (Rust, Python, JavaScript, C, Zig)".into()
    } else {
        format!("`scripts/build.sh all`: {}", skipped.join("; "))
    })
}

/// `scripts/build.sh rust`: the Rust bots into `target/bots`.
fn build_rust_bots(root: &std::path::Path) -> anyhow::Result<()> {
    eprintln!("== building the bots: scripts/build.sh rust");
    let st = std::process::Command::new("bash")
        .arg(root.join("scripts/build.sh"))
        .arg("rust")
        .current_dir(root)
        .status()
        .context("cannot run scripts/build.sh")?;
    anyhow::ensure!(st.success(), "scripts/build.sh rust failed");
    Ok(())
}

/// The peers benchmark's: `echo.wasm` (`scripts/build.sh rust`) and the
/// release `openqq` binary. The peers themselves: `bench/peers/setup.sh`.
fn build_peers() -> anyhow::Result<String> {
    let root = util::root();
    build_rust_bots(&root)?;
    eprintln!("== building target/release/openqq");
    let st = std::process::Command::new("cargo")
        .args(["build", "--release", "-p", "openqq", "--bin", "openqq"])
        .current_dir(&root)
        .status()?;
    anyhow::ensure!(st.success(), "cargo build --release -p openqq failed");
    Ok("`scripts/build.sh rust` and `target/release/openqq`".into())
}

/// The soak's bots: misbehave (`scripts/build.sh rust`) and both builds of
/// the soak bot (`bench/bots/soak`) as `target/bots/soak-v1.wasm`, `soak-v2.wasm`.
fn build_soak() -> anyhow::Result<String> {
    let root = util::root();
    build_rust_bots(&root)?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), std::path::PathBuf::from);
    for (version, features) in [("v1", None), ("v2", Some("soak-bot/v2"))] {
        eprintln!("== building the soak bot {version}");
        let mut cmd = std::process::Command::new("cargo");
        cmd.args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "-p",
            "soak-bot",
        ])
        .current_dir(&root);
        if let Some(f) = features {
            cmd.args(["--features", f]);
        }
        anyhow::ensure!(
            cmd.status()?.success(),
            "building the soak bot {version} failed"
        );
        let from = target.join("wasm32-wasip2/release/soak_bot.wasm");
        let to = util::bot(&format!("soak-{version}"));
        std::fs::copy(&from, &to)
            .with_context(|| format!("copy {} to {}", from.display(), to.display()))?;
    }
    Ok("`scripts/build.sh rust`, and the soak bot (`bench/bots/soak`) built twice".into())
}

/// A section between its markers, as written into BENCHMARKS.md.
fn marked(begin: &str, end: &str, markdown: &str) -> String {
    format!("{begin}\n\n{markdown}{end}\n\n")
}

/// The block between `begin` and `end` of a BENCHMARKS.md, markers included.
fn section_of<'a>(text: &'a str, begin: &str, end: &str) -> Option<&'a str> {
    let start = text.find(begin)?;
    let stop = text[start..].find(end)? + start + end.len();
    Some(&text[start..stop])
}

/// `text` with its `begin`…`end` block replaced by `block`, or with `block`
/// put before the analysis (or at the end) when it has none.
fn with_block(text: &str, begin: &str, end: &str, block: &str) -> String {
    let block = block.trim_end();
    if let Some(old) = section_of(text, begin, end) {
        return text.replacen(old, block, 1);
    }
    let at = text.find("## Analysis").unwrap_or(text.len());
    let (head, tail) = text.split_at(at);
    let sep = if head.is_empty() || head.ends_with("\n\n") {
        ""
    } else {
        "\n"
    };
    format!("{head}{sep}{block}\n\n{tail}")
}

fn report(
    sections: &[util::Section],
    s: &Settings,
    built: &str,
    load_before: &str,
    took: std::time::Duration,
) -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let date = util::command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let rustc = util::command_line("rustc", &["-V"]);
    let mut text = format!(
        "# openqq benchmarks\n\n\
         Generated by `openqq-bench` (`bench/`); do not edit by hand — the analysis at the end is \
         `bench/ANALYSIS.md`.\n\n\
         - **Command**: `cargo run --release -p openqq-bench -- {}`\n\
         - **Date**: {date}; the whole run took {:.0} s\n\
         - **Machine**: {}; a shared machine (1-minute load {load_before} at the start, {} at the end)\n\
         - **Toolchain**: {rustc}; openqq release profile; wasmtime 48\n\
         - **Bots**: {built}\n\
         - **Rounds**: every number is the median of {} rounds (min–max in parentheses); \
         ratios are of medians. Absolute times drift on this machine; the ratios are the claim.\n\n",
        args.join(" "),
        took.as_secs_f64(),
        util::machine(),
        util::load(),
        s.rounds,
    );
    let world = format!(
        "The large world (generated, in `target/bench/world/`): {}.\n\n",
        util::world::LARGE.describe()
    );
    text.push_str(&world);
    for sec in sections {
        text.push_str(&sec.markdown());
    }
    // Read at run time: the analysis is written from profiles, separately.
    match std::fs::read_to_string(util::root().join("bench/ANALYSIS.md")) {
        Ok(a) => text.push_str(&a),
        Err(e) => text.push_str(&format!("(bench/ANALYSIS.md unreadable: {e})\n")),
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_sections_are_replaced_in_place_or_put_before_the_analysis() {
        let doc = "# B\n\n## 1. x\n\n## Analysis\n\ntext\n";
        let soak = marked(soak::BEGIN, soak::END, "## 6. Soak\n\none\n");
        let with_soak = with_block(doc, soak::BEGIN, soak::END, &soak);
        let peers1 = marked(peers::BEGIN, peers::END, "## 7. Peers\n\nfirst\n");
        let both = with_block(&with_soak, peers::BEGIN, peers::END, &peers1);
        let (s, p, a) = (
            both.find("## 6. Soak").unwrap(),
            both.find("## 7. Peers").unwrap(),
            both.find("## Analysis").unwrap(),
        );
        assert!(s < p && p < a, "{both}");
        // A second run replaces its own block and nothing else.
        let peers2 = marked(peers::BEGIN, peers::END, "## 7. Peers\n\nsecond\n");
        let again = with_block(&both, peers::BEGIN, peers::END, &peers2);
        assert_eq!(again, both.replace("first", "second"));
        assert_eq!(
            section_of(&again, soak::BEGIN, soak::END),
            section_of(&both, soak::BEGIN, soak::END)
        );
    }
}
