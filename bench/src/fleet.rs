//! Benchmark 13, the fleet bus (issue 19): the same decision (`v1:<content>`)
//! made by a `post_api` receiver in another process and by a NATS worker
//! (`workers/rust`) in another process, side by side in one run — messages
//! injected into the `sim` backend, latency taken to the reply's
//! `Record::at`, as in the pipeline benchmark.
//!
//! The bus path: gateway → JetStream publish (acknowledged) → the stream →
//! the worker's pull consumer → its answer, a request to the gateway →
//! `SessionHandle::act` → the worker's ack. The webhook path: gateway →
//! HTTP POST → the receiver's JSON answer → `act`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context;
use openqq::Gateway;
use openqq::config::BusSection;

use crate::Settings;
use crate::pipeline::{self, Subject, Variant, base_config, spawn_receiver, throughput};
use crate::util::{self, Section, Table, quantile, world};

/// The markers of this benchmark's own section of BENCHMARKS.md.
pub const BEGIN: &str = "<!-- fleet: written by `openqq-bench fleet` -->";
pub const END: &str = "<!-- /fleet -->";

/// A `nats-server` with JetStream on a free loopback port and a fresh
/// store, killed when dropped.
struct NatsServer {
    child: Child,
    url: String,
}

impl NatsServer {
    fn start() -> anyhow::Result<NatsServer> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let store = util::fresh_dir("nats");
        let child = Command::new("nats-server")
            .args(["-js", "-sd"])
            .arg(&store)
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start nats-server (scripts/toolchains.sh nats installs it)")?;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "nats-server did not listen"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(NatsServer {
            child,
            url: format!("nats://127.0.0.1:{port}"),
        })
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where `fleet-worker` finds NATS.
const URL_VAR: &str = "OPENQQ_BENCH_NATS_URL";

/// `fleet-worker`: the example worker, answering `v1:<content>`.
pub fn worker_main() -> anyhow::Result<()> {
    let url = std::env::var(URL_VAR).with_context(|| format!("{URL_VAR} is not set"))?;
    tokio::runtime::Runtime::new()?.block_on(async {
        let opts = openqq_worker::Options {
            url,
            ..Default::default()
        };
        let counts = std::sync::Arc::new(openqq_worker::Counts::default());
        openqq_worker::run(
            opts,
            openqq_worker::echo_v1(),
            counts,
            std::future::pending(),
        )
        .await
    })
}

fn spawn_worker(url: &str) -> anyhow::Result<tokio::process::Child> {
    tokio::process::Command::new(std::env::current_exe()?)
        .arg("fleet-worker")
        .env(URL_VAR, url)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start the worker process")
}

pub async fn run(s: &Settings) -> anyhow::Result<Section> {
    let load_before = util::load();
    let w = world::LARGE;
    let chats = pipeline::chats(&w);
    let nats = NatsServer::start()?;
    let receiver = spawn_receiver("receiver").await?;
    let worker = spawn_worker(&nats.url)?;
    let worker_pid = worker.id().context("worker pid")?;
    let nats_pid = nats.child.id();

    let mut hook_cfg = base_config(&w)?;
    hook_cfg.post_api = Some(receiver.url.clone());
    hook_cfg.webhook.queue = s.messages * 2 + 10_000;
    let hook_gw = Gateway::start(hook_cfg).await?;
    let mut bus_cfg = base_config(&w)?;
    bus_cfg.bus = Some(BusSection {
        url: nats.url.clone(),
        // Room for a whole throughput run: nothing may be dropped.
        buffer: s.messages * 2 + 10_000,
        answers_kept: s.messages * 2 + 10_000,
        ..BusSection::default()
    });
    let bus_gw = Gateway::start(bus_cfg).await?;
    if let Some(b) = &bus_gw.bus {
        tokio::time::timeout(Duration::from_secs(10), b.ready())
            .await
            .context("the gateway did not connect to NATS")?;
    }
    let subject = |variant, gw: Gateway| -> anyhow::Result<Subject> {
        let sim = gw.sim.clone().context("sim backend")?;
        Ok(Subject {
            variant,
            gw,
            sim,
            seq: 0,
        })
    };
    let mut subjects = [
        (subject(Variant::Webhook, hook_gw)?, receiver.pid, None),
        (subject(Variant::Bus, bus_gw)?, worker_pid, Some(nats_pid)),
    ];
    for (sub, pid, _) in subjects.iter_mut() {
        throughput(sub, &chats, s.messages.min(2_000), "w", *pid).await?;
        pipeline::latency(sub, &chats, 20, "wl").await?;
    }
    let n = subjects.len();
    let (mut rates, mut cpus, mut p50, mut p99) = (
        vec![Vec::new(); n],
        vec![Vec::new(); n],
        vec![Vec::new(); n],
        vec![Vec::new(); n],
    );
    for round in 0..s.rounds {
        for (k, (sub, pid, server)) in subjects.iter_mut().enumerate() {
            let server0 = server.map_or(0.0, util::cpu_of);
            let (r, c) = throughput(sub, &chats, s.messages, &format!("r{round}-"), *pid).await?;
            let c = c + (server.map_or(0.0, util::cpu_of) - server0) / s.messages as f64;
            eprintln!(
                "fleet round {round}: {:<60} {:>10.0} msg/s, CPU {}/msg",
                sub.variant.label(),
                r,
                util::t(c)
            );
            rates[k].push(r);
            cpus[k].push(c);
        }
        for (k, (sub, _, _)) in subjects.iter_mut().enumerate() {
            let mut l =
                pipeline::latency(sub, &chats, s.latency_messages, &format!("l{round}-")).await?;
            let (a, b) = (quantile(&mut l, 0.50), quantile(&mut l, 0.99));
            eprintln!(
                "fleet round {round}: {:<60} p50 {} p99 {}",
                sub.variant.label(),
                util::t(a),
                util::t(b)
            );
            p50[k].push(a);
            p99[k].push(b);
        }
    }
    let mut notes = vec![
        "What the difference buys: per report the bus makes three hops instead of one (gateway → \
         nats-server → worker, then the answer as a request back, then the ack), and JetStream \
         writes every report to its file store and acknowledges it before it counts as published. \
         In exchange a report survives a dead worker (redelivered), a dead receiver (it waits in \
         the stream) and a NATS outage (it waits in the gateway's buffer), and any number of \
         gateways and workers share one stream; the webhook drops what its receiver never answered."
            .to_string(),
    ];
    if let Some(b) = &subjects[1].0.gw.bus {
        let [published, dropped, retried, acted, ..] = b.stats().snapshot();
        notes.push(format!(
            "Bus counters after the run: {} published, {} acted on, {dropped} dropped, {retried} publishes retried.",
            util::thousands(published),
            util::thousands(acted)
        ));
    }
    notes.push(format!(
        "Machine: {}; 1-minute load {load_before} at the start, {} at the end. On a shared \
         machine the absolute numbers drift from run to run, and so does the ratio (0.5–0.7× \
         throughput over this machine's runs).",
        util::machine(),
        util::load()
    ));
    for (sub, _, _) in subjects {
        sub.gw.stop().await;
    }
    drop(worker);
    let mut table = Table::new(&[
        "decided by",
        "throughput run: messages/s",
        "throughput run: CPU per message",
        "latency run: p50",
        "latency run: p99",
    ]);
    for (k, label) in [Variant::Webhook.label(), Variant::Bus.label()]
        .into_iter()
        .enumerate()
    {
        table.row(vec![
            label.into(),
            util::rate_spread(&rates[k]),
            util::time_spread(&cpus[k]),
            util::time_spread(&p50[k]),
            util::time_spread(&p99[k]),
        ]);
    }
    let m = util::median;
    let mut ratios = Table::new(&["ratio", "measured"]);
    ratios.row(vec![
        "bus ÷ webhook throughput".into(),
        format!("**{:.2}×**", m(&rates[1]) / m(&rates[0])),
    ]);
    ratios.row(vec![
        "bus ÷ webhook latency p50".into(),
        format!("{:.2}×", m(&p50[1]) / m(&p50[0])),
    ]);
    ratios.row(vec![
        "bus ÷ webhook CPU per message".into(),
        format!("{:.2}×", m(&cpus[1]) / m(&cpus[0])),
    ]);
    Ok(Section {
        title: "13. Fleet bus: NATS JetStream worker vs post_api webhook".into(),
        how: format!(
            "Two gateways in this process on the `sim` backend with the large world, each answering \
             every message with `v1:<content>` decided outside the gateway: one by `post_api` to the \
             pipeline benchmark's axum receiver in a child process (keep-alive, webhook concurrency \
             64), one through `[bus]` to a local `nats-server` (Debian's {}, JetStream on a file \
             store) and the example worker (`workers/rust`, `openqq-bench fleet-worker`: a durable pull \
             consumer, 64 reports in hand, the answer a NATS request to the gateway, the ack after \
             its reply) in a child process. Every report is persisted by JetStream and acknowledged \
             before it counts as published; the webhook keeps nothing. Messages come from {} chats \
             through `Sim::receive`; a reply's time is `Record::at`. **Throughput run**: {} messages \
             back to back; messages/s = N ÷ (last reply − first injection). **Latency run**: {} \
             messages one at a time. CPU per message: this process, the receiver or the worker, and \
             for the bus the nats-server too, ÷ N. Median of {} rounds (min–max), the two \
             interleaved in every round.",
            util::command_line("nats-server", &["--version"]),
            chats.len(),
            util::thousands(s.messages as u64),
            s.latency_messages,
            s.rounds
        ),
        tables: vec![table, ratios],
        notes,
    })
}
