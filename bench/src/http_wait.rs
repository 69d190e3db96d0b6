//! Benchmark 10, what a bot waiting on HTTP costs other chats: the reply
//! time of echo.wasm's `ping` in one friend chat, alone and while the
//! fetcher fixture (`tests/bots/fetcher`, granted `http` to a local server
//! that answers after 2 s) waits on that server for three other chats.
//! Fetcher comes first in the chain, so every `ping` is offered to it
//! before echo answers: with its default 4 instances (a bot granted
//! `http` takes any free one) the ping is not held up; with `instances = 1`
//! it waits for the one instance the slow answers hold.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use openqq::Gateway;
use openqq::backend::RawChat;
use openqq::backend::sim::{Action, Sim};
use openqq::config::{Config, ScriptEntry};
use openqq::model::{GroupNumber, Qq};

use crate::Settings;
use crate::kv::entry;
use crate::util::{self, Section, Table, quantile};

pub const BEGIN: &str = "<!-- http-wait: written by `openqq-bench http-wait` -->";
pub const END: &str = "<!-- /http-wait -->";

/// How long the slow server takes to answer.
const SLOW: Duration = Duration::from_secs(2);
/// The friend whose pings are timed.
const PINGER: Qq = Qq(123456);

/// A server on loopback whose `/slow` answers after `SLOW`.
async fn slow_server() -> anyhow::Result<String> {
    let app = axum::Router::new().route(
        "/slow",
        axum::routing::get(|| async {
            tokio::time::sleep(SLOW).await;
            "ok"
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}"))
}

async fn start(
    origin: &str,
    instances: Option<usize>,
    tag: &str,
) -> anyhow::Result<(Gateway, Arc<Sim>)> {
    let fetcher = ScriptEntry {
        http: vec![origin.to_string()],
        instances,
        ..entry("fetcher")
    };
    let gw = Gateway::start(Config {
        listen: "127.0.0.1:0".parse()?,
        cache_dir: Some(util::work("cache")),
        data_dir: Some(util::fresh_dir(&format!("http-wait/{tag}"))),
        scripts: vec![fetcher, entry("echo")],
        ..Config::default()
    })
    .await?;
    if gw.scripts.list().len() != 2 {
        bail!("fetcher and echo did not both load (scripts/build.sh rust)");
    }
    let sim = gw.sim.clone().context("sim backend")?;
    Ok((gw, sim))
}

/// One ping from `PINGER`, timed until echo's `pong` is recorded.
async fn ping(sim: &Sim) -> anyhow::Result<Duration> {
    let seq = sim.sent_after(0).last().map_or(0, |r| r.seq);
    let t0 = Instant::now();
    sim.receive(RawChat::Friend, PINGER, "ping".into())
        .await
        .map_err(|e| anyhow::anyhow!("inject: {e}"))?;
    let deadline = t0 + Duration::from_secs(30);
    loop {
        let mut at = None;
        sim.visit_sent_after(seq, |r| {
            if at.is_none()
                && matches!(&r.action, Action::Send { content, .. } if content == "pong")
            {
                at = Some(r.at);
            }
        });
        if let Some(at) = at {
            return Ok(at - t0);
        }
        if Instant::now() > deadline {
            bail!("no pong after 30 s");
        }
        tokio::task::yield_now().await;
    }
}

/// Keeps three chats' fetcher calls waiting on the slow server until
/// `stop`: each chat asks again as soon as its last answer is due.
fn keep_waiting(
    sim: Arc<Sim>,
    origin: String,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let chats = [
            (RawChat::Group(GroupNumber(552603)), Qq(888888)),
            (RawChat::Group(GroupNumber(661234)), Qq(888888)),
            (RawChat::Friend, Qq(7891234)),
        ];
        while !stop.load(Ordering::Relaxed) {
            for (chat, who) in &chats {
                let _ = sim
                    .receive(chat.clone(), *who, format!("/get {origin}/slow"))
                    .await;
            }
            tokio::time::sleep(SLOW + Duration::from_millis(100)).await;
        }
    })
}

struct Row {
    label: &'static str,
    p50: Vec<f64>,
    p99: Vec<f64>,
}

pub async fn run(s: &Settings) -> anyhow::Result<Section> {
    let origin = slow_server().await?;
    let (pooled_gw, pooled) = start(&origin, None, "pooled").await?;
    let (single_gw, single) = start(&origin, Some(1), "single").await?;
    for _ in 0..20 {
        ping(&pooled).await?;
        ping(&single).await?;
    }
    let mut rows = [
        Row {
            label: "alone: nothing waits on HTTP",
            p50: vec![],
            p99: vec![],
        },
        Row {
            label: "while fetcher (4 instances, the default with `http`) waits 2 s for three other chats",
            p50: vec![],
            p99: vec![],
        },
        Row {
            label: "while fetcher with `instances = 1` waits 2 s for three other chats",
            p50: vec![],
            p99: vec![],
        },
    ];
    let n = s.latency_messages;
    // The held-up case costs up to 2 s a ping: fewer of them.
    let n_single = (n / 50).clamp(5, 20);
    for round in 0..s.rounds {
        let mut alone = Vec::with_capacity(n);
        for _ in 0..n {
            alone.push(ping(&pooled).await?);
        }
        let measure = async |sim: &Arc<Sim>, count: usize| -> anyhow::Result<Vec<Duration>> {
            let stop = Arc::new(AtomicBool::new(false));
            let driver = keep_waiting(sim.clone(), origin.clone(), stop.clone());
            // Let the first slow calls start.
            tokio::time::sleep(Duration::from_millis(300)).await;
            let mut lat = Vec::with_capacity(count);
            for _ in 0..count {
                lat.push(ping(sim).await?);
            }
            stop.store(true, Ordering::Relaxed);
            let _ = driver.await;
            // Let the last slow calls end before the next phase.
            tokio::time::sleep(SLOW + Duration::from_millis(300)).await;
            Ok(lat)
        };
        let mut waiting = measure(&pooled, n).await?;
        let mut held = measure(&single, n_single).await?;
        for (row, lat) in rows.iter_mut().zip([&mut alone, &mut waiting, &mut held]) {
            row.p50.push(quantile(lat, 0.5));
            row.p99.push(quantile(lat, 0.99));
        }
        eprintln!(
            "http-wait round {round}: p50 alone {} waiting {} single {}",
            util::t(*rows[0].p50.last().unwrap_or(&f64::NAN)),
            util::t(*rows[1].p50.last().unwrap_or(&f64::NAN)),
            util::t(*rows[2].p50.last().unwrap_or(&f64::NAN)),
        );
    }
    pooled_gw.stop().await;
    single_gw.stop().await;

    let med = util::median;
    let base = (med(&rows[0].p50), med(&rows[0].p99));
    let mut table = Table::new(&[
        "echo's `ping` → `pong` in another chat",
        "p50",
        "p99",
        "÷ alone (p50)",
        "÷ alone (p99)",
    ]);
    for r in &rows {
        table.row(vec![
            r.label.into(),
            util::time_spread(&r.p50),
            util::time_spread(&r.p99),
            format!("{:.1}×", med(&r.p50) / base.0),
            format!("{:.1}×", med(&r.p99) / base.1),
        ]);
    }
    Ok(Section {
        title: "10. A bot waiting on HTTP and the other chats".into(),
        how: format!(
            "Two gateways in this process on the `sim` backend, each running the fetcher fixture \
             (granted `http` to a local server whose `/slow` answers after 2 s) and then echo.wasm. \
             A driver keeps three chats (two groups, a friend) asking fetcher `/get …/slow`, so three \
             of its calls are always waiting; meanwhile another friend's `ping`s are timed, one at \
             a time, injection → echo's `pong` recorded (each is offered to fetcher first, which \
             passes it). {n} pings per round alone and with the default instances, {n_single} with \
             `instances = 1`; p50 and p99 per round, median of {} rounds (min–max).",
            s.rounds
        ),
        tables: vec![table],
        notes: vec![format!(
            "Reproduce: `cargo run --release -p openqq-bench -- http-wait` (this run: {}; 1-minute \
             load {} at the end, on a shared 2-core machine). The wait is off the CPU deadline and \
             the waiting instance holds nothing else: the pipeline decides other chats meanwhile, \
             and a bot granted `http` serves a message from any free instance. With one instance, \
             every message offered to the bot waits for it — that is what `instances` is for.",
            util::machine(),
            util::load()
        )],
    })
}
