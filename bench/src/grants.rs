//! Benchmark 9, the cost of grants: what checking a bot's grants adds to a
//! message. Two measures side by side:
//! - through the whole pipeline (sim backend, in-process): echo.wasm's
//!   `ping` → `pong` with no `chats` grant (every chat) and with a 16-entry
//!   `chats` list the message matches only at the end; keeper answering
//!   `seen x` (no host call) and `send friend … x` (a `host.send` to the
//!   chat being handled: the grant check and both send rates);
//! - the checks alone, in a loop: `Granted::listens` and `Granted::may_send`
//!   per call, in nanoseconds.

use std::time::{Duration, Instant};

use openqq::config::{LimitsSection, ScriptEntry};
use openqq::grants::{Chat, Granted, Grants, Handling};
use openqq::model::ChatKind;

use crate::Settings;
use crate::kv::{Subject, entry, one_until, start_with};
use crate::util::{self, Section, Table, quantile};

/// The markers of this benchmark's own section of BENCHMARKS.md.
pub const BEGIN: &str = "<!-- grants: written by `openqq-bench grants` -->";
pub const END: &str = "<!-- /grants -->";

/// The friend of the default world the messages come from.
const FRIEND: u64 = 123456;

/// 15 groups that never match, then the friend: the worst case of a list.
fn long_chats() -> Vec<String> {
    (1..=15)
        .map(|g| format!("group:{}", 100_000 + g))
        .chain(std::iter::once(format!("friend:{FRIEND}")))
        .collect()
}

struct Case {
    label: &'static str,
    /// Which subject answers (index into the subjects).
    subject: usize,
    content: &'static str,
    reply: &'static str,
}

const CASES: [Case; 4] = [
    Case {
        label: "echo.wasm `ping` → `pong`, no grants (every chat)",
        subject: 0,
        content: "ping",
        reply: "pong",
    },
    Case {
        label: "echo.wasm `ping` → `pong`, `chats` of 16 entries, matched by the last",
        subject: 1,
        content: "ping",
        reply: "pong",
    },
    Case {
        label: "keeper `seen x` → `seen: x` (no host call)",
        subject: 2,
        content: "seen x",
        reply: "seen: x",
    },
    Case {
        label: "keeper `send friend … x`: `host.send` to the handled chat (grant check + rates), the send, then the reply `sent`",
        subject: 2,
        content: "send friend 123456 x",
        reply: "sent",
    },
];

#[derive(Default)]
struct Samples {
    p50: Vec<f64>,
    p99: Vec<f64>,
}

/// Nanoseconds per call of `check`, over `n` calls.
fn per_call(n: u32, mut check: impl FnMut() -> bool) -> f64 {
    let t0 = Instant::now();
    let mut yes = 0u32;
    for _ in 0..n {
        yes += u32::from(std::hint::black_box(check()));
    }
    std::hint::black_box(yes);
    t0.elapsed().as_nanos() as f64 / f64::from(n)
}

pub async fn run(s: &Settings) -> anyhow::Result<Section> {
    let long = ScriptEntry {
        name: Some("echo-confined".into()),
        chats: Some(long_chats()),
        ..entry("echo")
    };
    // Generous quotas: the benchmark sends far more than a minute's worth.
    let keeper = ScriptEntry {
        sends_per_minute: Some(1_000_000),
        sends_per_minute_per_chat: Some(1_000_000),
        ..entry("keeper")
    };
    let mut subjects: Vec<Subject> = vec![
        start_with(entry("echo"), "grants-echo").await?,
        start_with(long, "grants-echo-confined").await?,
        start_with(keeper, "grants-keeper").await?,
    ];
    for _ in 0..20 {
        for c in &CASES {
            one_until(&mut subjects[c.subject], c.content, c.reply).await?;
        }
    }
    let n = s.latency_messages;
    let mut samples: Vec<Samples> = CASES.iter().map(|_| Samples::default()).collect();
    for round in 0..s.rounds {
        let mut lat: Vec<Vec<Duration>> = CASES.iter().map(|_| Vec::with_capacity(n)).collect();
        for _ in 0..n {
            for (k, c) in CASES.iter().enumerate() {
                lat[k].push(one_until(&mut subjects[c.subject], c.content, c.reply).await?);
            }
        }
        for (k, l) in lat.iter_mut().enumerate() {
            samples[k].p50.push(quantile(l, 0.5));
            samples[k].p99.push(quantile(l, 0.99));
        }
        eprintln!(
            "grants round {round}: p50 {}",
            samples
                .iter()
                .map(|m| util::t(*m.p50.last().unwrap_or(&f64::NAN)))
                .collect::<Vec<_>>()
                .join(" / ")
        );
    }
    for sub in subjects {
        sub.gw.stop().await;
    }

    // The checks alone.
    let limits = LimitsSection::default();
    let e = ScriptEntry {
        chats: Some(long_chats()),
        sends_per_minute: Some(1_000_000),
        sends_per_minute_per_chat: Some(1_000_000),
        ..entry("echo")
    };
    let granted = Granted::new(Grants::from_entry(&e, &limits).map_err(anyhow::Error::msg)?);
    let everyone = Granted::new(Grants::least(&limits));
    let friend = Chat {
        kind: ChatKind::Friend,
        number: FRIEND,
    };
    let handling = Handling {
        chat: Some(friend),
        sender: Some(FRIEND),
    };
    let calls = 1_000_000;
    let listens_every = per_call(calls, || everyone.listens(friend));
    let listens_long = per_call(calls, || granted.listens(friend));
    let may_send = per_call(calls, || granted.may_send(handling, friend).is_ok());

    let med = util::median;
    let base = [
        med(&samples[0].p50),
        med(&samples[0].p50),
        med(&samples[2].p50),
        med(&samples[2].p50),
    ];
    let mut table = Table::new(&["message", "per message: p50", "p99", "÷ its baseline (p50)"]);
    for (k, c) in CASES.iter().enumerate() {
        let m = &samples[k];
        table.row(vec![
            c.label.into(),
            util::time_spread(&m.p50),
            util::time_spread(&m.p99),
            if k % 2 == 0 {
                "1× (baseline)".into()
            } else {
                format!("{:.2}×", med(&m.p50) / base[k])
            },
        ]);
    }
    let mut checks = Table::new(&["check alone", "per call"]);
    checks.row(vec![
        "`listens`, no `chats` grant (every chat)".into(),
        format!("{listens_every:.1} ns"),
    ]);
    checks.row(vec![
        "`listens`, 16 entries, the last matches".into(),
        format!("{listens_long:.1} ns"),
    ]);
    checks.row(vec![
        "`may_send` to the handled chat (the check and both rate limiters)".into(),
        format!("{may_send:.1} ns"),
    ]);
    Ok(Section {
        title: "9. The cost of grants".into(),
        how: format!(
            "Three gateways in this process on the `sim` backend: echo.wasm with no grants, \
             echo.wasm with a 16-entry `chats` list that matches the friend last, and the keeper \
             fixture (0.2.0). One friend message at a time: inject, wait for the first message the \
             account sends, next; latency = injection → that send's `Record::at` (the whole \
             pipeline). {} messages per row per round, the rows interleaved message by message; \
             p50 and p99 of each round, median of {} rounds (min–max), after 20 warm-up messages \
             of each. Then each check alone, {} calls in a loop.",
            n, s.rounds, calls
        ),
        tables: vec![table, checks],
        notes: vec![format!(
            "Reproduce: `cargo run --release -p openqq-bench -- grants` (this run: {} rounds, {}; \
             1-minute load {} at the end, on a shared 2-core machine). The `chats` check is about \
             10 ns and a send's check with both rate limiters (`governor`) about 0.3 µs, against \
             about 9 µs for a whole message: the `chats` rows differ by no more than their own \
             spread, and the send row's extra is mostly the send and its second reply.",
            s.rounds,
            util::machine(),
            util::load()
        )],
    })
}
