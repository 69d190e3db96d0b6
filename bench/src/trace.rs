//! Benchmark 12, the cost of the per-message trace (issue 17): the
//! pipeline benchmark's throughput run with tracing on (`[console]
//! trace_size`, the default 1,000 kept) and off (0), side by side in one
//! run — a native handler (a trace begun and a send step per message) and
//! the marker-v1 bot with `instances = 8` (a bot step too).

use std::sync::Arc;

use openqq::Gateway;

use crate::Settings;
use crate::pipeline::{self, Native, Subject, Variant, base_config, throughput};
use crate::util::{self, Section, Table, world};

/// The markers of this benchmark's own section of BENCHMARKS.md.
pub const BEGIN: &str = "<!-- trace: written by `openqq-bench trace` -->";
pub const END: &str = "<!-- /trace -->";

/// The ring's default size.
const ON: usize = 1000;

/// (decided by, trace kept) in table order: each pair off then on.
const CASES: [(Variant, usize); 4] = [
    (Variant::Native, 0),
    (Variant::Native, ON),
    (Variant::WasmPerLane, 0),
    (Variant::WasmPerLane, ON),
];

async fn start(variant: Variant, trace_size: usize, w: &world::Shape) -> anyhow::Result<Subject> {
    let mut cfg = base_config(w)?;
    cfg.console.trace_size = trace_size;
    let gw = match variant {
        Variant::Native => Gateway::start_with_handlers(cfg, vec![Arc::new(Native)]).await?,
        _ => pipeline::with_marker(cfg, Some(8)).await?,
    };
    Subject::new(variant, gw)
}

pub async fn run(s: &Settings) -> anyhow::Result<Section> {
    let w = world::LARGE;
    let chats = pipeline::chats(&w);
    // The throughput run counts the receiver's CPU: one that gets nothing.
    let receiver = pipeline::spawn_receiver("receiver").await?;
    let mut subjects = Vec::new();
    for (v, size) in CASES {
        subjects.push(start(v, size, &w).await?);
    }
    for sub in subjects.iter_mut() {
        throughput(sub, &chats, s.messages.min(2_000), "w", receiver.pid).await?;
    }
    let mut rates = vec![Vec::new(); CASES.len()];
    let mut cpus = vec![Vec::new(); CASES.len()];
    for round in 0..s.rounds {
        for (k, sub) in subjects.iter_mut().enumerate() {
            let (r, c) =
                throughput(sub, &chats, s.messages, &format!("r{round}-"), receiver.pid).await?;
            eprintln!(
                "trace round {round}: {:<50} trace_size {:>4}: {r:>10.0} msg/s, CPU {}/msg",
                CASES[k].0.label(),
                CASES[k].1,
                util::t(c)
            );
            rates[k].push(r);
            cpus[k].push(c);
        }
    }
    // What the rings hold at the end: the traces were really kept.
    let kept: Vec<usize> = subjects
        .iter()
        .map(|sub| {
            let q = openqq::trace::Query {
                limit: usize::MAX,
                ..Default::default()
            };
            sub.gw.scripts.traces().list(&q).0.len()
        })
        .collect();
    for sub in subjects {
        sub.gw.stop().await;
    }

    let med = util::median;
    let mut table = Table::new(&[
        "decided by",
        "trace off (`trace_size = 0`): messages/s",
        "trace on (1,000 kept): messages/s",
        "on ÷ off",
        "CPU per message: off",
        "on",
    ]);
    for pair in [0, 2] {
        let (off, on) = (pair, pair + 1);
        table.row(vec![
            CASES[pair].0.label().into(),
            util::rate_spread(&rates[off]),
            util::rate_spread(&rates[on]),
            format!("**{:.2}×**", med(&rates[on]) / med(&rates[off])),
            util::time_spread(&cpus[off]),
            util::time_spread(&cpus[on]),
        ]);
    }
    Ok(Section {
        title: "12. The cost of the per-message trace".into(),
        how: format!(
            "The pipeline benchmark's throughput run (§1: the large world, {} chats, {} messages \
             injected back to back through `Sim::receive`, messages/s = N ÷ (last reply − first \
             injection)) on four gateways in this process: a native handler and the marker-v1 bot \
             with `instances = 8`, each with tracing off (`[console] trace_size = 0`) and on (the \
             default, the newest {ON} traces kept). With tracing on every message gets a trace (its \
             header, content cut to 500 characters), a step for the bot's call and one for the \
             reply's send, each appended under the trace's own short mutex, and the trace is \
             pushed into the ring under the ring's; no live viewer is attached. Median of {} \
             rounds (min–max), the four gateways interleaved in every round.",
            chats.len(),
            util::thousands(s.messages as u64),
            s.rounds
        ),
        tables: vec![table],
        notes: vec![format!(
            "Reproduce: `cargo run --release -p openqq-bench -- trace` (this run: {} rounds, {}; \
             1-minute load {} at the end, on a shared 2-core machine). Traces in each ring at the \
             end (off, on, off, on): {:?}. What tracing costs is a few allocations per message (the \
             header's texts packed in one string, the trace, its steps, made and freed on the session's \
             thread) and two short locks; `trace_size = 0` leaves only a check per step.",
            s.rounds,
            util::machine(),
            util::load(),
            kept
        )],
    })
}
