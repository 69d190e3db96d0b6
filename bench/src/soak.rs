//! The soak run (issue 13): a million messages through the real pipeline
//! while the well-behaved bot is hot-swapped every 100 ms and a hostile bot
//! loops or traps on a share of the messages. Every message must come out
//! exactly once — as a bot's reply or as the webhook receiver's — and the
//! process's memory must stay flat.
//!
//! Accounting is by the gateway's message id (what `Sim::receive` returns):
//! the soak bot answers `v1:<id>` / `v2:<id>`, the receiver `wh:<id>`, and
//! every reply lands in the simulator's recorder (`Record`). Nothing here
//! depends on what the hostile bot did with a message (ran, trapped, timed
//! out, was skipped by a backoff): either way the message goes on to the
//! soak bot, which answers it.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use openqq::Gateway;
use openqq::backend::sim::Action;
use openqq::config::{Config, ScriptEntry};
use openqq::scripts::ScriptEngine;
use serde_json::Value;

use crate::Settings;
use crate::pipeline::{chats, spawn_receiver};
use crate::util::{self, Section, Table, world};

/// Where the soak's own section starts and ends in BENCHMARKS.md, so `soak`
/// can replace it and `all` can keep it.
pub const BEGIN: &str = "<!-- soak: written by `openqq-bench soak`; `all` keeps it -->";
pub const END: &str = "<!-- /soak -->";

/// How often the soak bot is swapped for its other build.
const SWAP_EVERY: Duration = Duration::from_millis(100);
/// One message in this many is `/loop`, and one (another) is `/trap`.
const HOSTILE_EVERY: usize = 1_000;
/// One message in this many starts with `pass`: the soak bot passes it on to
/// the webhook.
const WEBHOOK_EVERY: usize = 10;
/// At most this many messages injected and not yet accounted for: a steady
/// load that keeps the webhook's queue (10,000 by default) from overflowing
/// (overflow is issue 13's point 6, measured elsewhere) and the recorder
/// (the last 100,000 records) from being overrun.
const WINDOW: usize = 4_096;
/// No reply for this long while some are missing: the rest are lost.
const QUIET: Duration = Duration::from_secs(15);
/// RSS is "warm" after this many replies: twice the recorder's capacity.
const WARM: usize = 200_000;
/// After the last expected reply, wait this long for duplicates.
const GRACE: Duration = Duration::from_secs(2);

/// What message `i` is.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Loop,
    Trap,
    Webhook,
    Bot,
}

fn kind(i: usize) -> Kind {
    match (i % HOSTILE_EVERY, i % WEBHOOK_EVERY) {
        (500, _) => Kind::Loop,
        (999, _) => Kind::Trap,
        (_, 3) => Kind::Webhook,
        _ => Kind::Bot,
    }
}

fn content(i: usize) -> String {
    match kind(i) {
        Kind::Loop => "/loop".into(),
        Kind::Trap => "/trap".into(),
        Kind::Webhook => format!("pass {i}"),
        Kind::Bot => format!("m{i}"),
    }
}

/// Replaces `to` atomically (write aside, rename), as build tools do.
fn install(from: &Path, to: &Path) -> anyhow::Result<()> {
    let tmp = to.with_extension("part");
    std::fs::copy(from, &tmp).with_context(|| format!("copy {}", from.display()))?;
    std::fs::rename(&tmp, to).with_context(|| format!("rename onto {}", to.display()))?;
    Ok(())
}

/// Resident set size of a process (`self` or a pid), in bytes.
fn rss(pid: &str) -> u64 {
    let page = 4096; // x86-64 and aarch64 Linux default; statm counts pages
    std::fs::read_to_string(format!("/proc/{pid}/statm"))
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |p| p * page)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// One RSS sample.
#[derive(Clone, Copy)]
struct Sample {
    secs: f64,
    accounted: usize,
    rss: u64,
    receiver_rss: u64,
}

/// What the hot swapper did.
#[derive(Default)]
struct Swaps {
    /// Times the other build was installed and a reload asked for.
    installs: u64,
    /// Reloads whose report says the soak bot was swapped.
    swapped: u64,
    /// Reloads that found it already swapped (the file watcher was first).
    unchanged: u64,
    /// Reloads that rejected the new file (must be 0).
    rejected: u64,
    /// How long each `reload()` took.
    took: Vec<Duration>,
}

/// Every `SWAP_EVERY`: install the other build over `live`, ask for a reload
/// and wait for its report.
async fn swapper(
    reloader: openqq::scripts::ReloadHandle,
    builds: [std::path::PathBuf; 2],
    live: std::path::PathBuf,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<Swaps> {
    let mut s = Swaps::default();
    let mut tick = tokio::time::interval(SWAP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        // v1 is live at the start; installs alternate v2, v1, v2, …
        let next = &builds[((s.installs + 1) % 2) as usize];
        install(next, &live)?;
        s.installs += 1;
        let t0 = Instant::now();
        let report = reloader.reload().await.context("the reloader is gone")?;
        s.took.push(t0.elapsed());
        if report.swapped.iter().any(|n| n == "soak") {
            s.swapped += 1;
        } else if report.unchanged.iter().any(|n| n == "soak") {
            s.unchanged += 1;
        }
        if !report.rejected.is_empty() {
            s.rejected += 1;
            eprintln!("soak: reload rejected: {:?}", report.rejected);
        }
    }
    Ok(s)
}

/// Every script's numeric counters from `/admin/scripts`, as the gateway
/// reports them (whatever counters it has: calls, traps, timeouts, skipped…).
async fn script_counters(
    addr: std::net::SocketAddr,
) -> anyhow::Result<Vec<(String, Vec<(String, u64)>)>> {
    let (status, body) = util::get_once(addr, "/admin/scripts").await?;
    if status != 200 {
        bail!("/admin/scripts answered {status}");
    }
    let v: Value = serde_json::from_slice(&body).context("/admin/scripts JSON")?;
    let mut out = Vec::new();
    for s in v["scripts"]
        .as_array()
        .context("/admin/scripts: no scripts")?
    {
        let name = s["name"].as_str().unwrap_or("?").to_string();
        let counters = s
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "timeout_ms" | "memory_mb" | "instances" | "loaded_at" | "generation"
                )
            })
            .filter_map(|(k, v)| Some((k.clone(), v.as_u64()?)))
            .collect();
        out.push((name, counters));
    }
    Ok(out)
}

pub async fn run(s: &Settings) -> anyhow::Result<Section> {
    let n = s.soak_messages;
    let w = world::LARGE;
    let chats = chats(&w);
    let dir = util::fresh_dir("soak");
    let builds = [util::bot("soak-v1"), util::bot("soak-v2")];
    let live = dir.join("soak.wasm");
    let hostile = dir.join("misbehave.wasm");
    install(&builds[0], &live)?;
    install(&util::bot("misbehave"), &hostile)?;

    // Both builds compiled into the cache first: a swap then costs what it
    // costs in production once a version has been seen (instantiate + init).
    let engine = ScriptEngine::new(Some(util::work("cache")))?;
    for (v, path) in ["soak-v1", "soak-v2"].iter().zip(&builds) {
        let bytes = std::fs::read(path).with_context(|| format!("{}", path.display()))?;
        let (e, v) = (engine.clone(), v.to_string());
        tokio::task::spawn_blocking(move || e.prepare(&v, &bytes)).await??;
    }
    drop(engine);

    let receiver = spawn_receiver("soak-receiver").await?;
    let mut cfg = Config {
        listen: "127.0.0.1:0".parse()?,
        cache_dir: Some(util::work("cache")),
        post_api: Some(receiver.url.clone()),
        data_dir: Some(util::work("data")),
        ..Config::default()
    };
    cfg.backend.world = Some(w.file()?);
    let entry = |path: &Path, name: &str| ScriptEntry {
        path: path.to_path_buf(),
        name: Some(name.into()),
        config: Default::default(),
        timeout_ms: None,
        wall_ms: None,
        memory_mb: None,
        instances: Some(8),
        kv_max_total_bytes: None,
        ..Default::default()
    };
    // The hostile bot first: what it fails on passes on to the soak bot.
    cfg.scripts = vec![entry(&hostile, "misbehave"), entry(&live, "soak")];
    let gw = Gateway::start(cfg).await?;
    let sim = gw.sim.clone().context("sim backend")?;
    let reloader = gw.reloader.clone().context("no reloader")?;
    let names: Vec<String> = gw
        .scripts
        .list()
        .iter()
        .map(|s| s.name.to_string())
        .collect();
    if names != ["misbehave", "soak"] {
        bail!("scripts loaded: {names:?}, want misbehave and soak (are the bots built?)");
    }
    let generation0 = gw.scripts.get("soak").map_or(0, |s| s.generation());
    // Let the watcher settle (the files written above are not changes).
    tokio::time::sleep(Duration::from_millis(300)).await;

    // How many replies each message got. Written through once, so its pages
    // are resident before the first sample (a zeroed allocation's pages would
    // count as they are touched).
    let mut seen = vec![0u8; n];
    seen.iter_mut().for_each(|c| *c = std::hint::black_box(0));
    let accounted = Arc::new(AtomicUsize::new(0));
    let injected = Arc::new(AtomicUsize::new(0));
    // The first message's id; ids are dense from there (one injector).
    let base = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let rss0 = rss("self");

    let swaps = tokio::spawn(swapper(
        reloader,
        builds.clone(),
        live.clone(),
        stop.clone(),
    ));
    let sampler = {
        let (accounted, stop, pid) = (accounted.clone(), stop.clone(), receiver.pid);
        tokio::spawn(async move {
            let mut v = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                v.push(Sample {
                    secs: t0.elapsed().as_secs_f64(),
                    accounted: accounted.load(Ordering::Relaxed),
                    rss: rss("self"),
                    receiver_rss: rss(&pid.to_string()),
                });
            }
            v
        })
    };
    let injector = {
        let (sim, chats) = (sim.clone(), chats.clone());
        let (accounted, injected, base, stop) = (
            accounted.clone(),
            injected.clone(),
            base.clone(),
            stop.clone(),
        );
        tokio::spawn(async move {
            let mut waited_since: Option<Instant> = None;
            for i in 0..n {
                while i - accounted.load(Ordering::Relaxed) >= WINDOW {
                    let since = *waited_since.get_or_insert_with(Instant::now);
                    if since.elapsed() > QUIET || stop.load(Ordering::Relaxed) {
                        eprintln!(
                            "soak: injector stalled at message {i}: {WINDOW} unanswered for {QUIET:?}"
                        );
                        return anyhow::Ok(());
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                waited_since = None;
                let (chat, qq) = chats[i % chats.len()].clone();
                let id = sim
                    .receive(chat, qq, content(i))
                    .await
                    .map_err(|e| anyhow::anyhow!("inject message {i}: {e}"))?;
                let id: u64 = id.parse().with_context(|| format!("message id {id:?}"))?;
                if i == 0 {
                    base.store(id, Ordering::Release);
                } else if id != base.load(Ordering::Relaxed) + i as u64 {
                    bail!("message {i} got id {id}: ids are not dense (another injector?)");
                }
                injected.store(i + 1, Ordering::Release);
            }
            anyhow::Ok(())
        })
    };

    // The collector: read the recorder, account every reply.
    let (mut bot_v1, mut bot_v2, mut by_webhook) = (0u64, 0u64, 0u64);
    let (mut duplicated, mut misrouted, mut unexpected) = (0u64, 0u64, 0u64);
    let mut last_tag = vec![0u8; chats.len()];
    let mut tag_changes = vec![0u64; chats.len()];
    let mut seq = 0u64;
    let mut last_reply = t0;
    let mut progress = Instant::now();
    let mut finished_at: Option<Instant> = None;
    let mut next_report = 100_000;
    while base.load(Ordering::Acquire) == 0 {
        if injector.is_finished() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let base_id = base.load(Ordering::Acquire);
    loop {
        let recs = sim.sent_after(seq);
        if let Some(first) = recs.first()
            && first.seq != seq + 1
        {
            bail!(
                "the recorder forgot records {}..{} before they were read",
                seq + 1,
                first.seq
            );
        }
        for r in &recs {
            seq = r.seq;
            let Action::Send { content, .. } = &r.action else {
                unexpected += 1;
                continue;
            };
            let Some((tag, id)) = content.split_once(':') else {
                unexpected += 1;
                continue;
            };
            let Some(i) = id
                .parse::<u64>()
                .ok()
                .and_then(|id| id.checked_sub(base_id))
                .map(|i| i as usize)
                .filter(|&i| i < n)
            else {
                unexpected += 1;
                continue;
            };
            let t = match tag {
                "v1" => 1,
                "v2" => 2,
                "wh" => 3,
                _ => {
                    unexpected += 1;
                    continue;
                }
            };
            match t {
                1 => bot_v1 += 1,
                2 => bot_v2 += 1,
                _ => by_webhook += 1,
            }
            if (t == 3) != (kind(i) == Kind::Webhook) {
                misrouted += 1;
            }
            if t != 3 {
                let c = i % chats.len();
                if last_tag[c] != 0 && last_tag[c] != t {
                    tag_changes[c] += 1;
                }
                last_tag[c] = t;
            }
            seen[i] = seen[i].saturating_add(1);
            if seen[i] == 1 {
                accounted.fetch_add(1, Ordering::Relaxed);
            } else {
                duplicated += 1;
            }
            last_reply = last_reply.max(r.at);
        }
        let a = accounted.load(Ordering::Relaxed);
        if !recs.is_empty() {
            progress = Instant::now();
        }
        if a >= next_report {
            eprintln!(
                "soak: {} answered after {:.0} s, RSS {}",
                util::thousands(a as u64),
                t0.elapsed().as_secs_f64(),
                mib(rss("self"))
            );
            next_report += 100_000;
        }
        let all_in = injector.is_finished();
        if all_in && a == injected.load(Ordering::Acquire) {
            let at = *finished_at.get_or_insert_with(|| {
                stop.store(true, Ordering::Relaxed);
                Instant::now()
            });
            if at.elapsed() > GRACE {
                break;
            }
        } else if progress.elapsed() > QUIET {
            eprintln!(
                "soak: no reply for {QUIET:?} with {} missing",
                injected.load(Ordering::Acquire) - a
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let took = last_reply.saturating_duration_since(t0);
    injector.await.context("injector")??;
    let swaps = swaps.await.context("swapper")??;
    let samples = sampler.await.context("sampler")?;
    let generation = gw.scripts.get("soak").map_or(0, |s| s.generation()) - generation0;
    let counters = script_counters(gw.addr).await?;
    let webhook = gw.webhook.as_ref().map(|w| w.stats().snapshot());
    let rss_end = rss("self");
    gw.stop().await;
    // Anything the stop drained out counts too (a late duplicate).
    for r in sim.sent_after(seq) {
        if let Action::Send { content, .. } = &r.action
            && let Some(i) = content
                .split_once(':')
                .and_then(|(_, id)| id.parse::<u64>().ok())
                .and_then(|id| id.checked_sub(base_id))
                .map(|i| i as usize)
                .filter(|&i| i < n)
        {
            seen[i] = seen[i].saturating_add(1);
            if seen[i] > 1 {
                duplicated += 1;
            }
        } else {
            unexpected += 1;
        }
    }
    let injected = injected.load(Ordering::Acquire);
    let lost_ids: Vec<usize> = (0..injected).filter(|&i| seen[i] == 0).collect();
    let lost = lost_ids.len();
    if lost > 0 {
        let first: Vec<String> = lost_ids
            .iter()
            .take(20)
            .map(|&i| format!("{} (#{i}, {:?})", base_id + i as u64, content(i)))
            .collect();
        eprintln!("soak: {lost} lost; the first: {}", first.join(", "));
    }
    let dup_ids: Vec<u64> = (0..injected)
        .filter(|&i| seen[i] > 1)
        .take(20)
        .map(|i| base_id + i as u64)
        .collect();
    if !dup_ids.is_empty() {
        eprintln!("soak: duplicated ids (first 20): {dup_ids:?}");
    }

    if lost > 0 || duplicated > 0 {
        eprintln!("soak: FAILED: {lost} lost, {duplicated} duplicated");
    } else {
        eprintln!("soak: every message accounted for exactly once");
    }
    Ok(section(Outcome {
        n,
        injected,
        bot_v1,
        bot_v2,
        by_webhook,
        lost,
        duplicated,
        misrouted,
        unexpected,
        swaps,
        generation,
        tag_changes,
        counters,
        webhook,
        took,
        samples,
        rss0,
        rss_end,
        chats: chats.len(),
    }))
}

struct Outcome {
    n: usize,
    injected: usize,
    bot_v1: u64,
    bot_v2: u64,
    by_webhook: u64,
    lost: usize,
    duplicated: u64,
    misrouted: u64,
    unexpected: u64,
    swaps: Swaps,
    generation: u64,
    tag_changes: Vec<u64>,
    counters: Vec<(String, Vec<(String, u64)>)>,
    webhook: Option<[u64; 5]>,
    took: Duration,
    samples: Vec<Sample>,
    rss0: u64,
    rss_end: u64,
    chats: usize,
}

/// Up to `k` samples spread evenly over the run, the first and last included.
fn spread(samples: &[Sample], k: usize) -> Vec<Sample> {
    if samples.len() <= k {
        return samples.to_vec();
    }
    (0..k)
        .map(|j| samples[j * (samples.len() - 1) / (k - 1)])
        .collect()
}

fn section(o: Outcome) -> Section {
    let th = |v: u64| util::thousands(v);
    let expected_webhook = (0..o.injected)
        .filter(|&i| kind(i) == Kind::Webhook)
        .count() as u64;
    let hostile = (0..o.injected)
        .filter(|&i| matches!(kind(i), Kind::Loop | Kind::Trap))
        .count() as u64;
    let answered = o.bot_v1 + o.bot_v2;
    let mut acc = Table::new(&["messages", "count", "must be", ""]);
    acc.row(vec![
        "injected".into(),
        th(o.injected as u64),
        th(o.n as u64),
        util::verdict(o.injected == o.n).into(),
    ]);
    acc.row(vec![
        "answered by the soak bot (`v1:` + `v2:` replies)".into(),
        format!("{} ({} + {})", th(answered), th(o.bot_v1), th(o.bot_v2)),
        th(o.injected as u64 - expected_webhook),
        util::verdict(answered == o.injected as u64 - expected_webhook).into(),
    ]);
    acc.row(vec![
        "passed on to the webhook and answered by the receiver (`wh:` replies)".into(),
        th(o.by_webhook),
        th(expected_webhook),
        util::verdict(o.by_webhook == expected_webhook).into(),
    ]);
    acc.row(vec![
        "**lost** (no reply at all)".into(),
        format!("**{}**", th(o.lost as u64)),
        "0".into(),
        util::verdict(o.lost == 0).into(),
    ]);
    acc.row(vec![
        "**duplicated** (replies beyond the first)".into(),
        format!("**{}**", th(o.duplicated)),
        "0".into(),
        util::verdict(o.duplicated == 0).into(),
    ]);
    acc.row(vec![
        "answered by the wrong one (bot ⇄ webhook)".into(),
        th(o.misrouted),
        "0".into(),
        util::verdict(o.misrouted == 0).into(),
    ]);
    acc.row(vec![
        "records that are no reply to a soak message".into(),
        th(o.unexpected),
        "0".into(),
        util::verdict(o.unexpected == 0).into(),
    ]);

    let mut churn = Table::new(&["churn", "count", ""]);
    let s = &o.swaps;
    let mut took: Vec<Duration> = s.took.clone();
    let (p50, p99) = (
        util::quantile(&mut took, 0.5),
        util::quantile(&mut took, 0.99),
    );
    churn.row(vec![
        format!(
            "hot swaps asked for (other build installed, then `reload()`, every {} ms)",
            SWAP_EVERY.as_millis()
        ),
        th(s.installs),
        format!(
            "{:.1}/s",
            s.installs as f64 / o.took.as_secs_f64().max(1e-9)
        ),
    ]);
    churn.row(vec![
        "… swapped by that reload / already swapped by the file watcher / rejected".into(),
        format!(
            "{} / {} / {}",
            th(s.swapped),
            th(s.unchanged),
            th(s.rejected)
        ),
        util::verdict(s.swapped + s.unchanged == s.installs && s.rejected == 0).into(),
    ]);
    churn.row(vec![
        "swaps the registry counted (`Script::generation` of `soak`)".into(),
        th(o.generation),
        util::verdict(o.generation == s.installs).into(),
    ]);
    churn.row(vec![
        "`reload()` answered after: p50 / p99".into(),
        format!("{} / {}", util::t(p50), util::t(p99)),
        String::new(),
    ]);
    let mut changes = o.tag_changes.clone();
    changes.sort_unstable();
    churn.row(vec![
        format!("version changes (`v1` ⇄ `v2`) seen in one chat's replies, over the {} chats: min / median / max", o.chats),
        format!(
            "{} / {} / {}",
            th(changes.first().copied().unwrap_or(0)),
            th(changes.get(changes.len() / 2).copied().unwrap_or(0)),
            th(changes.last().copied().unwrap_or(0))
        ),
        format!("≤ {} swaps", th(o.generation)),
    ]);
    churn.row(vec![
        format!("hostile messages sent (`/loop` and `/trap`, 1 in {HOSTILE_EVERY} each)"),
        th(hostile),
        String::new(),
    ]);
    for (name, cs) in &o.counters {
        let line: Vec<String> = cs.iter().map(|(k, v)| format!("{k} {}", th(*v))).collect();
        churn.row(vec![
            format!("`/admin/scripts`: {name}"),
            line.join(", "),
            String::new(),
        ]);
    }
    if let Some([answered, acted, ignored, failed, dropped]) = o.webhook {
        churn.row(vec![
            "webhook: answered, acted, ignored, failed, dropped".into(),
            format!(
                "{}, {}, {}, {}, {}",
                th(answered),
                th(acted),
                th(ignored),
                th(failed),
                th(dropped)
            ),
            util::verdict(failed == 0 && dropped == 0).into(),
        ]);
    }

    let mut mem = Table::new(&[
        "time",
        "messages answered",
        "RSS of this process (gateway + injector)",
        "RSS of the receiver process",
    ]);
    for x in spread(&o.samples, 16) {
        mem.row(vec![
            format!("{:.0} s", x.secs),
            th(x.accounted as u64),
            mib(x.rss),
            mib(x.receiver_rss),
        ]);
    }
    let first = o.samples.first().map_or(o.rss0, |x| x.rss);
    let last = o.samples.last().map_or(o.rss_end, |x| x.rss);
    // Warm: past twice the recorder's capacity (its 100,000 records fill
    // once, with the first 100,000 replies) — or a fifth of a shorter run.
    let warm_at = WARM.min(o.n / 5);
    let warm = o.samples.iter().find(|x| x.accounted >= warm_at).copied();
    let half = o.samples.iter().find(|x| x.accounted >= o.n / 2).copied();
    let peak = o.samples.iter().map(|x| x.rss).max().unwrap_or(0);
    let ratio = |a: u64, b: u64| a as f64 / b.max(1) as f64;
    let mut notes = vec![
        format!(
            "Throughput: {} messages in {:.1} s, **{}** (first injection → last reply, swaps and hostile calls included).",
            th(o.injected as u64),
            o.took.as_secs_f64(),
            util::rate(o.injected as f64 / o.took.as_secs_f64().max(1e-9))
        ),
        format!(
            "RSS: {} before the first message, {} at the first sample, {} at the end (peak {}): last ÷ first sample **{:.2}×** \
             (the growth comes early: the simulator's recorder fills up to its 100,000 records with the first 100,000 replies; the next two lines are the warm run).",
            mib(o.rss0),
            mib(first),
            mib(last),
            mib(peak),
            ratio(last, first),
        ),
    ];
    // "<rss> at <n> messages answered, <last> at the end (<+d> MiB"
    let since = |x: &Sample| {
        format!(
            "{} at {} messages answered, {} at the end ({:+.1} MiB",
            mib(x.rss),
            th(x.accounted as u64),
            mib(last),
            (last as f64 - x.rss as f64) / (1024.0 * 1024.0)
        )
    };
    if let Some(w) = warm {
        notes.push(format!(
            "Warm RSS: {}): last ÷ warm **{:.2}×**.",
            since(&w),
            ratio(last, w.rss)
        ));
    }
    if let Some(h) = half {
        notes.push(format!(
            "Second half: {} over the last {} messages).",
            since(&h),
            th((o.n - h.accounted.min(o.n)) as u64)
        ));
    }
    let load = util::load();
    Section {
        title: format!(
            "6. Soak: {} messages through hot swaps and a hostile bot",
            th(o.n as u64)
        ),
        how: format!(
            "- **Command**: `cargo run --release -p openqq-bench -- soak --messages {n}` (one run, on its own: `all` does not run it, and it rewrites only this section)\n\
             - **Date**: {date}; **machine**: {machine}; 1-minute load {load} at the end\n\n\
             One gateway in this process on the `sim` backend with the large world, `post_api` pointing at a receiver in a \
             child process (`openqq-bench soak-receiver`, answers `{{\"reply\": \"wh:<msg_id>\"}}`), and two scripts, both with \
             `instances = 8` and the default limits (100 ms deadline): first the hostile `misbehave` test bot \
             (`tests/bots/misbehave`: `/loop` spins until the deadline stops it, `/trap` panics; it passes everything else), \
             then the soak bot (`bench/bots/soak`), which answers `v1:<msg_id>` (its v2 build: `v2:<msg_id>`) and passes \
             messages starting with `pass`. Every {swap} ms the other build of the soak bot is copied next to the live file, \
             renamed over it and `ReloadHandle::reload` is awaited (the file watcher is on too and sometimes swaps first). \
             Messages from {chats} chats (friends, groups, temp chats, discussions) through `Sim::receive`: one in {h} is \
             `/loop`, one in {h} is `/trap`, one in {wh} is `pass <i>`, the rest `m<i>`. What the hostile bot does with a \
             message does not matter to the count: whether it ran, trapped, timed out or was skipped, the message goes on to \
             the soak bot. At most {window} messages are in flight (injected, not yet answered): a steady load that stays \
             inside the webhook's default queue. Every reply is read from the simulator's recorder and accounted by the \
             message id in it: each id must come back exactly once, from the bot (or the webhook for `pass`). RSS from \
             `/proc/<pid>/statm` every second.",
            n = o.n,
            date = util::command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
            machine = util::machine(),
            swap = SWAP_EVERY.as_millis(),
            chats = o.chats,
            h = HOSTILE_EVERY,
            wh = WEBHOOK_EVERY,
            window = WINDOW,
        ),
        tables: vec![acc, churn, mem],
        notes,
    }
}

/// `soak-receiver`: answers every report with `{"reply": "wh:<msg_id>"}`.
pub fn receiver_main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    crate::pipeline::serve_receiver(rt, |report| match &report["msg_id"] {
        Value::String(id) => format!("wh:{id}"),
        other => format!("wh:{other}"),
    })
}
