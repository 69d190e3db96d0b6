//! `openqq-worker`: the fleet worker example. Answers every message report
//! as the benchmarks' post_api receiver does (`v1:<content>`).
//!
//! ```sh
//! openqq-worker --url nats://127.0.0.1:4222 --stream OPENQQ --consumer workers
//! ```
//! Run as many as you like: they share the consumer.

use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "openqq-worker",
    about = "An openqq fleet worker (NATS JetStream)"
)]
struct Cli {
    #[arg(long, env = "OPENQQ_NATS_URL", default_value = "nats://127.0.0.1:4222")]
    url: String,
    #[arg(long, default_value = "OPENQQ")]
    stream: String,
    #[arg(long, default_value = "workers")]
    consumer: String,
    /// Only these subjects, e.g. `openqq.*.message.>`.
    #[arg(long)]
    filter: Option<String>,
    /// Seconds a report may stay unacked before another worker gets it.
    #[arg(long, default_value_t = 30)]
    ack_wait_secs: u64,
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let opts = openqq_worker::Options {
        url: cli.url,
        stream: cli.stream,
        consumer: cli.consumer,
        filter: cli.filter,
        ack_wait: Duration::from_secs(cli.ack_wait_secs.max(1)),
        concurrency: cli.concurrency,
        work: Duration::ZERO,
    };
    let counts = Arc::new(openqq_worker::Counts::default());
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    openqq_worker::run(opts, openqq_worker::echo_v1(), counts, stop).await
}
