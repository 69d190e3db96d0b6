//! The `openqq` binary: parse flags, set up logging, run.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use openqq::config::Config;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[derive(Parser)]
#[command(
    name = "openqq",
    version,
    about = "A QQ bot gateway: the Openqq HTTP API with WebAssembly bots"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (the default).
    Serve(ServeArgs),
    /// Check whether this gateway can run a bot component, and why not.
    Check {
        /// The .wasm file to check.
        file: PathBuf,
    },
    /// Write a new bot project (outside this repository) that builds with
    /// its language's own toolchain.
    New {
        /// The bot's name: its project directory, crate and .wasm file.
        name: String,
        /// The project's language.
        #[arg(long, default_value = "rust")]
        lang: openqq::scaffold::Lang,
        /// Where to write it [default: ./NAME].
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Run a bot on journaled messages in a scratch instance (no sends,
    /// an empty in-memory KV, no HTTP) and print each decision — or, with
    /// --against, only the messages two versions decide differently.
    /// Exits 3 on a trap, 4 on a timeout, 5 on both, 1 on an error.
    Replay {
        /// The bot's .wasm file.
        bot: PathBuf,
        /// The journal ([journal] path): JSONL, one message per line.
        #[arg(long)]
        journal: PathBuf,
        /// Another version to compare with: only differences are printed.
        #[arg(long)]
        against: Option<PathBuf>,
        /// The gateway's config: its limits and the bot's [[scripts]] entry.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// The [[scripts]] entry whose settings apply [default: the entry
        /// whose path is BOT, else the defaults].
        #[arg(long = "bot")]
        name: Option<String>,
    },
}

#[derive(clap::Args, Default, Clone)]
struct ServeArgs {
    /// A TOML config file; flags override it.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Where to serve the HTTP API [default: 127.0.0.1:5000].
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// The simulated world (JSON or TOML) for the sim backend.
    #[arg(long)]
    world: Option<PathBuf>,
    /// The post_api webhook URL.
    #[arg(long)]
    post_api: Option<String>,
    /// A directory of .wasm bots.
    #[arg(long)]
    scripts: Option<PathBuf>,
    /// Networks whose clients may connect besides loopback, comma-separated
    /// CIDR (e.g. 192.168.1.0/24); replaces [http] allow_from.
    #[arg(long, value_delimiter = ',')]
    allow_from: Vec<String>,
    /// Where bots' KV stores and pending timers are kept; replaces
    /// `data_dir` [default: ~/.local/share/openqq].
    #[arg(long, env = "OPENQQ_DATA_DIR")]
    data_dir: Option<PathBuf>,
}

impl ServeArgs {
    /// The config, with a way to read it again (SIGHUP, admin reload).
    fn into_reloadable_config(self) -> anyhow::Result<Config> {
        let again = self.clone();
        let mut config = self.into_config()?;
        config.reload = Some(openqq::config::ReloadSource(std::sync::Arc::new(
            move || again.clone().into_config(),
        )));
        Ok(config)
    }

    fn into_config(self) -> anyhow::Result<Config> {
        let mut config = match &self.config {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        if let Some(l) = self.listen {
            config.listen = l;
        }
        if let Some(w) = self.world {
            config.backend.world = Some(w);
        }
        if let Some(p) = self.post_api {
            config.post_api = Some(p);
        }
        if let Some(s) = self.scripts {
            config.scripts_dir = Some(s);
        }
        if !self.allow_from.is_empty() {
            config.http.allow_from = self.allow_from;
        }
        if let Some(d) = self.data_dir {
            config.data_dir = Some(d);
        }
        Ok(config)
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // The log goes to stderr and, for `/admin/logs` and the console, into
    // the process's ring of recent lines; one filter for both.
    let cli = Cli::parse();
    // `replay` prints its decisions on stdout: its log goes to stderr.
    let writer = match cli.command {
        Some(Command::Replay { .. }) => BoxMakeWriter::new(std::io::stderr),
        _ => BoxMakeWriter::new(std::io::stdout),
    };
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with(tracing_subscriber::fmt::layer().with_writer(writer))
        .with(openqq::logring::layer())
        .init();
    match cli.command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Serve(args) => {
            let config = args.into_reloadable_config().context("bad configuration")?;
            openqq::run(config, shutdown_signal()).await
        }
        Command::Check { file } => {
            let report = openqq::scripts::check::check(&file)?;
            print!("{}", report.text);
            if !report.runnable {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Replay {
            bot,
            journal,
            against,
            config,
            name,
        } => {
            let args = openqq::replay::ReplayArgs {
                bot,
                journal,
                against,
                config,
                name,
            };
            let code =
                openqq::replay::run(&args, &mut std::io::stdout(), &mut std::io::stderr()).await?;
            std::process::exit(code as i32);
        }
        Command::New { name, lang, dir } => {
            let dir = dir.unwrap_or_else(|| PathBuf::from(&name));
            let written = openqq::scaffold::create(&dir, &name, lang)?;
            println!(
                "wrote a {lang} bot, {} files, in {}; see its README.md",
                written.len(),
                dir.display()
            );
            Ok(())
        }
    }
}
