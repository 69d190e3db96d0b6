//! `openqq-bench`: openqq measured against its peers and its limits, side by
//! side in one process run, as ratios (issue 7).
//!
//! ```sh
//! cargo build --release -p openqq-bench -p openqq
//! cargo run --release -p openqq-bench -- all          # writes BENCHMARKS.md
//! cargo run --release -p openqq-bench -- pipeline --quick
//! cargo run --release -p openqq-bench -- soak         # 1,000,000 messages; its own section
//! ```
//!
//! Nothing here asserts anything about time; the numbers go to the table.

mod http;
mod memory;
mod pipeline;
mod scripts;
mod soak;
mod swap;
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
                Command::All | Command::Receiver | Command::SoakReceiver => unreachable!(),
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
        (matches!(cli.command, Command::All | Command::Soak) && !cli.opts.quick)
            .then(|| util::root().join("BENCHMARKS.md"))
    });
    if let (Some(out), Command::Soak) = (&out, cli.command) {
        // The soak has its own section; the rest of the file stays.
        let old = std::fs::read_to_string(out).unwrap_or_default();
        let text = with_soak(&old, &soak_block(&sections[0].markdown()));
        std::fs::write(out, text).with_context(|| format!("cannot write {}", out.display()))?;
        eprintln!("wrote the soak section of {}", out.display());
    } else if let Some(out) = out {
        // Keep the soak section of the last `soak` run: `all` does not run it.
        let old = std::fs::read_to_string(&out).unwrap_or_default();
        let text = report(
            &sections,
            &settings,
            &built,
            &load_before,
            started.elapsed(),
        );
        let text = match soak_section(&old) {
            Some(block) => with_soak(&text, block),
            None => text,
        };
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

/// The soak's bots: misbehave (`scripts/build.sh rust`) and both builds of
/// the soak bot (`bench/bots/soak`) as `target/bots/soak-v1.wasm`, `soak-v2.wasm`.
fn build_soak() -> anyhow::Result<String> {
    let root = util::root();
    eprintln!("== building the bots: scripts/build.sh rust");
    let st = std::process::Command::new("bash")
        .arg(root.join("scripts/build.sh"))
        .arg("rust")
        .current_dir(&root)
        .status()
        .context("cannot run scripts/build.sh")?;
    anyhow::ensure!(st.success(), "scripts/build.sh rust failed");
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

/// The soak section between its markers, as written into BENCHMARKS.md.
fn soak_block(markdown: &str) -> String {
    format!(
        "{}

{}{}

",
        soak::BEGIN,
        markdown,
        soak::END
    )
}

/// The soak block of a BENCHMARKS.md, markers included.
fn soak_section(text: &str) -> Option<&str> {
    let start = text.find(soak::BEGIN)?;
    let end = text[start..].find(soak::END)? + start + soak::END.len();
    Some(&text[start..end])
}

/// `text` with its soak block replaced by `block`, or with `block` put
/// before the analysis (or at the end) when it has none.
fn with_soak(text: &str, block: &str) -> String {
    let block = block.trim_end();
    if let Some(old) = soak_section(text) {
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
