//! Benchmark 10, one slow chat beside many (issue 16): a bot that waits
//! seconds on one chat's messages (an LLM over HTTP, say) must not hold up
//! the other chats. Two gateways in this process with the same native
//! handler; in one of them a chat whose every message takes `SLOW` to
//! decide is kept busy the whole time. The reply latency of ordinary chats
//! is measured on both, message by message, side by side.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use async_trait::async_trait;
use openqq::Gateway;
use openqq::backend::RawChat;
use openqq::backend::sim::{Action, Sim};
use openqq::config::Config;
use openqq::model::{Decided, DecidedBy, Decision, InboundMessage, Qq};
use openqq::pipeline::{Effects, Handler, LANES, spread};

use crate::Settings;
use crate::util::{self, Section, Table, quantile, world};

/// How long the slow chat's every message takes to decide.
const SLOW: Duration = Duration::from_secs(2);
/// What the slow chat's messages start with.
const SLOW_MARK: &str = "slow";
/// Slow messages kept held (one being decided, one waiting behind it), so
/// the slow chat is mid-decision throughout the measurement.
const SLOW_HELD: usize = 2;

/// Answers `lane <k>: <content>` (`k`: the message's pipeline lane) at
/// once, or after `SLOW` for the slow chat's messages.
#[derive(Default)]
struct SlowChat {
    /// Slow messages injected and not decided yet.
    held: AtomicUsize,
    /// Slow messages being decided right now.
    deciding: AtomicUsize,
    /// The slow chat's lane, once one of its messages was seen.
    lane: AtomicUsize,
}

#[async_trait]
impl Handler for SlowChat {
    async fn handle(&self, msg: &InboundMessage, _: &mut Effects) -> Option<Decided> {
        let lane = spread(&msg.chat_key(), LANES);
        if msg.content.starts_with(SLOW_MARK) {
            self.lane.store(lane, Ordering::SeqCst);
            self.deciding.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(SLOW).await;
            self.deciding.fetch_sub(1, Ordering::SeqCst);
            self.held.fetch_sub(1, Ordering::SeqCst);
        }
        Some(Decided {
            by: DecidedBy::Native("slow-chat"),
            decision: Decision {
                reply: Some(format!("lane {lane}: {}", msg.content)),
                shutup: None,
            },
        })
    }
}

/// A gateway under test and how far its sent records were read.
struct Subject {
    gw: Gateway,
    sim: Arc<Sim>,
    handler: Arc<SlowChat>,
    seq: u64,
}

async fn start(w: &world::Shape) -> anyhow::Result<Subject> {
    let mut cfg = Config {
        listen: "127.0.0.1:0".parse()?,
        cache_dir: Some(util::work("cache")),
        data_dir: Some(util::work("data")),
        ..Config::default()
    };
    cfg.backend.world = Some(w.file()?);
    let handler = Arc::new(SlowChat::default());
    let gw = Gateway::start_with_handlers(cfg, vec![handler.clone()]).await?;
    let sim = gw.sim.clone().context("sim backend")?;
    Ok(Subject {
        gw,
        sim,
        handler,
        seq: 0,
    })
}

/// One ordinary message: injects it, waits for its reply (skipping the slow
/// chat's); injection → the reply's `Record::at`, and the reply's lane.
async fn one(
    sub: &mut Subject,
    chat: RawChat,
    qq: Qq,
    body: &str,
) -> anyhow::Result<(Duration, usize)> {
    let t0 = Instant::now();
    sub.sim
        .receive(chat, qq, body.to_string())
        .await
        .map_err(|e| anyhow::anyhow!("inject: {e}"))?;
    let deadline = t0 + Duration::from_secs(30);
    loop {
        let (mut seq, mut got) = (sub.seq, None);
        sub.sim.visit_sent_after(sub.seq, |r| {
            seq = r.seq;
            if let Action::Send { content, .. } = &r.action
                && let Some((lane, text)) = parse(content)
                && !text.starts_with(SLOW_MARK)
            {
                got = Some((r.at, lane, text == body));
            }
        });
        sub.seq = seq;
        match got {
            Some((at, lane, true)) => return Ok((at - t0, lane)),
            Some(_) => bail!("unexpected reply to {body:?}"),
            None if Instant::now() > deadline => bail!("no reply to {body:?} after 30 s"),
            // Yield, not sleep: a 1 ms sleep would round every sample up.
            None => tokio::task::yield_now().await,
        }
    }
}

/// `lane <k>: <text>` → `(k, text)`.
fn parse(reply: &str) -> Option<(usize, &str)> {
    let (lane, text) = reply.strip_prefix("lane ")?.split_once(": ")?;
    Some((lane.parse().ok()?, text))
}

/// Keeps `SLOW_HELD` of the slow chat's messages held in `sub` until
/// `stop` is set; how many it injected.
fn keep_busy(
    sub: &Subject,
    slow: Qq,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<anyhow::Result<usize>> {
    let (sim, handler) = (sub.sim.clone(), sub.handler.clone());
    tokio::spawn(async move {
        let mut sent = 0;
        while !stop.load(Ordering::SeqCst) {
            while handler.held.load(Ordering::SeqCst) < SLOW_HELD {
                handler.held.fetch_add(1, Ordering::SeqCst);
                sim.receive(RawChat::Friend, slow, format!("{SLOW_MARK}{sent}"))
                    .await
                    .map_err(|e| anyhow::anyhow!("inject: {e}"))?;
                sent += 1;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(sent)
    })
}

/// `1.02×`, or `120,000×` when a chat was held up by the slow one.
fn ratio(r: f64) -> String {
    if r < 100.0 {
        format!("**{r:.2}×**")
    } else {
        format!("**{}×**", util::thousands(r.round() as u64))
    }
}

/// p50 and p99 per round, for the ordinary chats alone and beside the slow one.
#[derive(Default)]
struct Samples {
    p50: Vec<f64>,
    p99: Vec<f64>,
}

impl Samples {
    fn add(&mut self, mut l: Vec<Duration>) {
        self.p50.push(quantile(&mut l, 0.5));
        self.p99.push(quantile(&mut l, 0.99));
    }
}

/// The markers of this benchmark's own section of BENCHMARKS.md.
pub const BEGIN: &str = "<!-- slow-chat: written by `openqq-bench slow-chat` -->";
pub const END: &str = "<!-- /slow-chat -->";

pub async fn run(s: &Settings) -> anyhow::Result<Section> {
    let w = world::LARGE;
    let chats = crate::pipeline::chats(&w);
    // A friend none of the ordinary chats is.
    let slow = Qq(w.friend(1));
    let mut alone = start(&w).await?;
    let mut beside = start(&w).await?;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let injector = keep_busy(&beside, slow, stop.clone());
    let waited = Instant::now();
    while beside.handler.deciding.load(Ordering::SeqCst) == 0 {
        if waited.elapsed() > Duration::from_secs(10) {
            bail!("the slow chat's first message is not being decided after 10 s");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let slow_lane = beside.handler.lane.load(Ordering::SeqCst);
    // Warm up both.
    for (i, (chat, qq)) in chats.iter().enumerate().take(20) {
        one(&mut alone, chat.clone(), *qq, &format!("w{i}")).await?;
        one(&mut beside, chat.clone(), *qq, &format!("w{i}")).await?;
    }
    let n = s.latency_messages;
    let (mut all, mut lane) = (
        [Samples::default(), Samples::default()],
        [Samples::default(), Samples::default()],
    );
    let (mut measured, mut mid_decision) = (0, 0);
    let mut lane_chats = std::collections::BTreeSet::new();
    for round in 0..s.rounds {
        let mut lat: [Vec<Duration>; 2] = Default::default();
        let mut in_lane: [Vec<Duration>; 2] = Default::default();
        // Interleaved message by message: drift hits both alike.
        for i in 0..n {
            let k = (i * 7) % chats.len();
            let (chat, qq) = chats[k].clone();
            let body = format!("r{round}-{i}");
            for (side, sub) in [&mut alone, &mut beside].into_iter().enumerate() {
                if side == 1 {
                    measured += 1;
                    mid_decision += usize::from(sub.handler.deciding.load(Ordering::SeqCst) > 0);
                }
                let (d, l) = one(sub, chat.clone(), qq, &body).await?;
                lat[side].push(d);
                if l == slow_lane {
                    in_lane[side].push(d);
                    lane_chats.insert(k);
                }
            }
        }
        for side in 0..2 {
            all[side].add(std::mem::take(&mut lat[side]));
            lane[side].add(std::mem::take(&mut in_lane[side]));
        }
        eprintln!(
            "slow-chat round {round}: p50/p99 alone {}/{}, beside the slow chat {}/{} (its lane: {}/{} vs {}/{})",
            util::t(all[0].p50[round]),
            util::t(all[0].p99[round]),
            util::t(all[1].p50[round]),
            util::t(all[1].p99[round]),
            util::t(lane[0].p50[round]),
            util::t(lane[0].p99[round]),
            util::t(lane[1].p50[round]),
            util::t(lane[1].p99[round]),
        );
    }
    stop.store(true, Ordering::SeqCst);
    let slow_sent = injector.await??;
    alone.gw.stop().await;
    beside.gw.stop().await;

    let med = util::median;
    let mut table = Table::new(&[
        "ordinary chats measured",
        "alone: p50",
        "alone: p99",
        "beside the slow chat: p50",
        "beside: p99",
        "beside ÷ alone (p50)",
        "beside ÷ alone (p99)",
    ]);
    for (label, m) in [
        format!("all {} chats", chats.len()),
        format!("the {} of them in the slow chat's lane", lane_chats.len()),
    ]
    .into_iter()
    .zip([&all, &lane])
    {
        table.row(vec![
            label,
            util::time_spread(&m[0].p50),
            util::time_spread(&m[0].p99),
            util::time_spread(&m[1].p50),
            util::time_spread(&m[1].p99),
            ratio(med(&m[1].p50) / med(&m[0].p50)),
            ratio(med(&m[1].p99) / med(&m[0].p99)),
        ]);
    }
    Ok(Section {
        title: "11. One slow chat beside many".into(),
        how: format!(
            "Two gateways in this process on the `sim` backend (the large world), with the same \
             native handler: it answers `lane <k>: <content>` at once — except, in the second \
             gateway, the messages of one friend chat, which it answers after sleeping {} (a \
             bot waiting on an LLM over HTTP). That chat is kept busy throughout: {SLOW_HELD} of \
             its messages held at all times (one being decided, one waiting behind it). The \
             ordinary chats are the pipeline benchmark's {} (friends, groups, temp chats, \
             discussions), one message at a time: inject, wait for the reply, next; the two \
             gateways interleaved message by message. Latency = injection → the reply's \
             `Record::at`. {n} messages per gateway per round; p50 and p99 of each round, \
             median of {} rounds (min–max). The second row is the subset whose chats hash to \
             the slow chat's pipeline lane (of {LANES}) — the ones a lane deciding one message \
             at a time would hold up for up to {} each.",
            util::t(SLOW.as_secs_f64()),
            chats.len(),
            s.rounds,
            util::t(SLOW.as_secs_f64()),
        ),
        tables: vec![table],
        notes: vec![
            format!(
                "The slow chat was mid-decision when {mid_decision} of the {measured} measured \
                 messages beside it were injected; {slow_sent} slow messages were injected in all."
            ),
            format!(
                "Reproduce: `cargo run --release -p openqq-bench -- slow-chat` (this run: {} \
                 rounds, {n} messages each; {}; 1-minute load {} at the end).",
                s.rounds,
                util::machine(),
                util::load()
            ),
        ],
    })
}
