//! Benchmark 1, the pipeline: the same decision (`v1:<content>`) made by a native Rust
//! handler, by the marker-v1 WebAssembly bot, and by a `post_api` webhook in
//! another process; messages injected into the `sim` backend, latency taken
//! to the reply's `Record::at`.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use async_trait::async_trait;
use openqq::Gateway;
use openqq::backend::RawChat;
use openqq::backend::sim::{Action, Record, Sim};
use openqq::config::{Config, ScriptEntry};
use openqq::model::{Decided, DecidedBy, Decision};
use openqq::model::{GroupNumber, InboundMessage, Qq};
use openqq::pipeline::{Effects, Handler};
use tokio::io::AsyncBufReadExt;

use crate::Settings;
use crate::util::{self, Section, Table, quantile, world};

/// The native handler: the decision marker-v1 makes, in Rust, in-process.
pub(crate) struct Native;

#[async_trait]
impl Handler for Native {
    async fn handle(&self, msg: &InboundMessage, _: &mut Effects) -> Option<Decided> {
        Some(Decided {
            by: DecidedBy::Native("native"),
            decision: Decision {
                reply: Some(format!("v1:{}", msg.content)),
                shutup: None,
            },
        })
    }
}

/// Diagnostic: the native decision after ~2 µs of busy work (about one
/// reused bot call, §3), optionally behind one async mutex — the way the
/// scripts registry serialises every call to one script's instance.
struct NativeWork {
    lock: Option<tokio::sync::Mutex<()>>,
}

#[async_trait]
impl Handler for NativeWork {
    async fn handle(&self, msg: &InboundMessage, _: &mut Effects) -> Option<Decided> {
        let _g = match &self.lock {
            Some(l) => Some(l.lock().await),
            None => None,
        };
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_micros(2) {
            std::hint::spin_loop();
        }
        Some(Decided {
            by: DecidedBy::Native("native"),
            decision: Decision {
                reply: Some(format!("v1:{}", msg.content)),
                shutup: None,
            },
        })
    }
}

#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Variant {
    Native,
    Wasm,
    WasmPerLane,
    Webhook,
    Spin,
    SpinLocked,
    /// The fleet bus (`fleet.rs`), not in this benchmark's table.
    Bus,
}

/// In table order; the ratios use the first four.
const VARIANTS: [Variant; 6] = [
    Variant::Native,
    Variant::Wasm,
    Variant::WasmPerLane,
    Variant::Webhook,
    Variant::Spin,
    Variant::SpinLocked,
];

impl Variant {
    pub fn label(self) -> &'static str {
        match self {
            Variant::Native => "native Rust handler, in-process (the limit)",
            Variant::Wasm => "WebAssembly bot marker-v1, in-process (one instance, the default)",
            Variant::WasmPerLane => {
                "WebAssembly bot marker-v1, in-process, `instances = 8` (one per pipeline lane)"
            }
            Variant::Webhook => "`post_api` webhook, axum receiver in another process",
            Variant::Bus => "`[bus]` NATS JetStream, the example worker in another process",
            Variant::Spin => "diagnostic: native + 2 µs of work",
            Variant::SpinLocked => {
                "diagnostic: native + 2 µs of work behind one `tokio::sync::Mutex` (as the registry holds a script's instance)"
            }
        }
    }
}

/// A gateway under test and how far its sent records were read.
pub(crate) struct Subject {
    pub variant: Variant,
    pub gw: Gateway,
    pub sim: Arc<Sim>,
    pub seq: u64,
}

impl Subject {
    /// `variant` as `gw` (on the sim) runs it.
    pub(crate) fn new(variant: Variant, gw: Gateway) -> anyhow::Result<Subject> {
        let sim = gw.sim.clone().context("sim backend")?;
        Ok(Subject {
            variant,
            gw,
            sim,
            seq: 0,
        })
    }

    /// Waits until `want` more records exist, handing each to `each` (the
    /// records are not kept: a throughput run makes a million).
    async fn collect(
        &mut self,
        want: usize,
        timeout: Duration,
        mut each: impl FnMut(&Record),
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        let mut got = 0;
        loop {
            // Borrowed, not copied: the collector's cost counts in the
            // CPU per message, and it is not the gateway's.
            let mut seq = self.seq;
            got += self.sim.visit_sent_after(self.seq, |r| {
                seq = r.seq;
                each(r);
            });
            self.seq = seq;
            if got >= want {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "{}: only {got} of {want} replies after {timeout:?}",
                    self.variant.label()
                );
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// Injection sources: friends, group members, discussions and temp chats of
/// the large world, interleaved so neighbours are in different chats (lanes).
pub fn chats(w: &world::Shape) -> Vec<(RawChat, Qq)> {
    let mut v = Vec::new();
    for i in 0..48u64 {
        v.push((RawChat::Friend, Qq(w.friend(i * 41))));
        if i < 40 {
            let g = (i * 7) % w.groups;
            v.push((
                RawChat::Group(GroupNumber(w.group(g))),
                Qq(w.member(g, 50 + i * 11)),
            ));
        }
        if i < 8 {
            let g = (i * 13) % w.groups;
            v.push((
                RawChat::GroupSess(GroupNumber(w.group(g))),
                Qq(w.member(g, 300 + i)),
            ));
        }
        if i < world::DISCUSSES {
            v.push((RawChat::Discuss(i + 1), Qq(w.discuss_member(i, 1))));
        }
    }
    v
}

fn content(r: &Record) -> Option<&str> {
    match &r.action {
        Action::Send { content, .. } => Some(content),
        _ => None,
    }
}

/// The webhook receiver, running in a child process.
pub struct ReceiverProcess {
    pub url: String,
    pub pid: u32,
    _child: tokio::process::Child,
}

/// Starts `openqq-bench <command>` (a receiver) and reads the address it
/// listens on from its first line.
pub async fn spawn_receiver(command: &str) -> anyhow::Result<ReceiverProcess> {
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .arg(command)
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start the receiver process")?;
    let pid = child.id().context("receiver pid")?;
    let out = child.stdout.take().context("receiver stdout")?;
    let mut line = String::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        tokio::io::BufReader::new(out).read_line(&mut line),
    )
    .await
    .context("receiver did not start")??;
    let addr = line.trim();
    Ok(ReceiverProcess {
        url: format!("http://{addr}/post_api"),
        pid,
        _child: child,
    })
}

/// `receiver`: answers every report with `{"reply": "v1:<content>"}`.
pub fn receiver_main() -> anyhow::Result<()> {
    serve_receiver(tokio::runtime::Runtime::new()?, |report| {
        let content = report["content"].as_str().unwrap_or("");
        format!("v1:{content}")
    })
}

/// Serves `POST /post_api` on 127.0.0.1 (the address goes to stdout, for
/// `spawn_receiver`), answering every report with `{"reply": reply(report)}`.
pub fn serve_receiver(
    rt: tokio::runtime::Runtime,
    reply: fn(&serde_json::Value) -> String,
) -> anyhow::Result<()> {
    use axum::Json;
    use axum::routing::post;
    use serde_json::{Value, json};
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("{}", listener.local_addr()?);
        let app = axum::Router::new().route(
            "/post_api",
            post(move |Json(report): Json<Value>| async move {
                Json(json!({ "reply": reply(&report) }))
            }),
        );
        axum::serve(listener, app).await?;
        anyhow::Ok(())
    })
}

pub(crate) fn base_config(w: &world::Shape) -> anyhow::Result<Config> {
    let mut c = Config {
        listen: "127.0.0.1:0".parse()?,
        cache_dir: Some(util::work("cache")),
        data_dir: Some(util::work("data")),
        ..Config::default()
    };
    c.backend.world = Some(w.file()?);
    Ok(c)
}

/// The marker-v1 bot (`v1:<content>` to everything), with `instances`.
pub(crate) fn marker(instances: Option<usize>) -> ScriptEntry {
    ScriptEntry {
        path: util::bot("marker-v1"),
        name: Some("marker".into()),
        config: Default::default(),
        timeout_ms: None,
        wall_ms: None,
        memory_mb: None,
        instances,
        kv_max_total_bytes: None,
        ..Default::default()
    }
}

async fn start(
    variant: Variant,
    s: &Settings,
    w: &world::Shape,
    receiver: &ReceiverProcess,
) -> anyhow::Result<Subject> {
    let mut cfg = base_config(w)?;
    let gw = match variant {
        Variant::Native => Gateway::start_with_handlers(cfg, vec![Arc::new(Native)]).await?,
        Variant::Spin => {
            Gateway::start_with_handlers(cfg, vec![Arc::new(NativeWork { lock: None })]).await?
        }
        Variant::SpinLocked => {
            Gateway::start_with_handlers(
                cfg,
                vec![Arc::new(NativeWork {
                    lock: Some(Default::default()),
                })],
            )
            .await?
        }
        Variant::Wasm | Variant::WasmPerLane => {
            with_marker(cfg, (variant == Variant::WasmPerLane).then_some(8)).await?
        }
        Variant::Bus => bail!("the bus variant is started by the fleet benchmark"),
        Variant::Webhook => {
            cfg.post_api = Some(receiver.url.clone());
            // Room for a whole throughput run: nothing may be dropped.
            cfg.webhook.queue = s.messages * 2 + 10_000;
            Gateway::start(cfg).await?
        }
    };
    Subject::new(variant, gw)
}

/// A gateway on `cfg` running the marker-v1 bot (`instances` of it).
pub(crate) async fn with_marker(
    mut cfg: Config,
    instances: Option<usize>,
) -> anyhow::Result<Gateway> {
    cfg.scripts = vec![marker(instances)];
    let gw = Gateway::start(cfg).await?;
    if gw.scripts.list().is_empty() {
        bail!("marker-v1 did not load (is target/bots/marker-v1.wasm built?)");
    }
    Ok(gw)
}

/// CPU seconds used so far by this process and the receiver.
fn cpu(receiver: u32) -> f64 {
    util::cpu_self() + util::cpu_of(receiver)
}

/// Injects `n` messages as fast as back-pressure allows; messages per second
/// from the first injection to the last reply, and CPU seconds per message
/// (this process, injector included, plus the receiver process).
pub(crate) async fn throughput(
    sub: &mut Subject,
    chats: &[(RawChat, Qq)],
    n: usize,
    tag: &str,
    receiver: u32,
) -> anyhow::Result<(f64, f64)> {
    let cpu0 = cpu(receiver);
    let t0 = Instant::now();
    // Inject in a task of its own and read the replies meanwhile (the sim
    // keeps only the last 100,000 records).
    let injector = {
        let (sim, chats, tag) = (sub.sim.clone(), chats.to_vec(), tag.to_string());
        tokio::spawn(async move {
            for i in 0..n {
                let (chat, qq) = chats[i % chats.len()].clone();
                sim.receive(chat, qq, format!("{tag}{i}"))
                    .await
                    .map_err(|e| anyhow::anyhow!("inject: {e}"))?;
            }
            anyhow::Ok(())
        })
    };
    let (mut ok, mut records, mut last) = (0, 0, t0);
    let done = sub
        .collect(n, Duration::from_secs(120), |r| {
            records += 1;
            last = last.max(r.at);
            if content(r).is_some_and(|c| c.starts_with("v1:") && c[3..].starts_with(tag)) {
                ok += 1;
            }
        })
        .await;
    injector.await??;
    done?;
    if ok != n || records != n {
        bail!(
            "{}: {ok} right replies of {records} records for {n} messages",
            sub.variant.label()
        );
    }
    Ok((
        n as f64 / (last - t0).as_secs_f64(),
        (cpu(receiver) - cpu0) / n as f64,
    ))
}

/// One message at a time: inject, wait for its reply; latencies from
/// injection to `Record::at`.
pub(crate) async fn latency(
    sub: &mut Subject,
    chats: &[(RawChat, Qq)],
    n: usize,
    tag: &str,
) -> anyhow::Result<Vec<Duration>> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let (chat, qq) = chats[(i * 7) % chats.len()].clone();
        let body = format!("{tag}{i}");
        let t0 = Instant::now();
        sub.sim
            .receive(chat, qq, body.clone())
            .await
            .map_err(|e| anyhow::anyhow!("inject: {e}"))?;
        let (mut at, mut replies) = (t0, Vec::new());
        sub.collect(1, Duration::from_secs(30), |r| {
            at = r.at;
            replies.push(content(r).map(str::to_string));
        })
        .await?;
        if replies != [Some(format!("v1:{body}"))] {
            bail!("{}: unexpected replies {replies:?}", sub.variant.label());
        }
        out.push(at - t0);
    }
    Ok(out)
}

/// How long the simulated QQ takes to confirm each send in the slow-QQ run.
const SLOW_QQ: Duration = Duration::from_millis(200);

/// One busy group whose every message the WebAssembly bot answers, with
/// QQ confirming each send only after `SLOW_QQ`: messages/s from the first
/// injection to the last reply handed to QQ, and whether the replies kept
/// the group's order. A lane that waited for each confirmation would manage
/// 1 ÷ 200 ms = 5 messages/s.
async fn slow_qq(w: &world::Shape, n: usize) -> anyhow::Result<(f64, bool)> {
    let mut cfg = base_config(w)?;
    cfg.backend.send_latency_ms = SLOW_QQ.as_millis() as u64;
    cfg.scripts = vec![marker(None)];
    let gw = Gateway::start(cfg).await?;
    let sim = gw.sim.clone().context("sim backend")?;
    let mut sub = Subject {
        variant: Variant::Wasm,
        gw,
        sim,
        seq: 0,
    };
    let group = GroupNumber(w.group(0));
    let sender = Qq(w.member(0, 50));
    let t0 = Instant::now();
    for i in 0..n {
        sub.sim
            .receive(RawChat::Group(group), sender, format!("slow{i}"))
            .await
            .map_err(|e| anyhow::anyhow!("inject: {e}"))?;
    }
    let (mut next, mut in_order, mut last) = (0, true, t0);
    sub.collect(n, Duration::from_secs(120), |r| {
        last = last.max(r.at);
        in_order &= content(r) == Some(format!("v1:slow{next}").as_str());
        next += 1;
    })
    .await?;
    let rate = n as f64 / (last - t0).as_secs_f64();
    sub.gw.stop().await;
    Ok((rate, in_order))
}

pub async fn run(s: &Settings) -> anyhow::Result<Section> {
    let w = if s.small_world {
        world::SMALL
    } else {
        world::LARGE
    };
    let receiver = spawn_receiver("receiver").await?;
    let chats = chats(&w);
    let mut subjects = Vec::new();
    for v in VARIANTS {
        subjects.push(start(v, s, &w, &receiver).await?);
    }
    let skip = |k: usize| s.only.is_some_and(|o| o != k);
    // Warm up: connections, instances, allocator, page cache.
    for (_, sub) in subjects.iter_mut().enumerate().filter(|(k, _)| !skip(*k)) {
        throughput(sub, &chats, s.messages.min(2_000), "w", receiver.pid).await?;
        latency(sub, &chats, 20, "wl").await?;
    }
    let mut rates = vec![Vec::new(); VARIANTS.len()];
    let mut cpus = vec![Vec::new(); VARIANTS.len()];
    let mut p50 = vec![Vec::new(); VARIANTS.len()];
    let mut p99 = vec![Vec::new(); VARIANTS.len()];
    for round in 0..s.rounds {
        for (k, sub) in subjects.iter_mut().enumerate().filter(|(k, _)| !skip(*k)) {
            let (r, c) =
                throughput(sub, &chats, s.messages, &format!("r{round}-"), receiver.pid).await?;
            eprintln!(
                "pipeline round {round}: {:<60} {:>10.0} msg/s, CPU {}/msg",
                sub.variant.label(),
                r,
                util::t(c)
            );
            rates[k].push(r);
            cpus[k].push(c);
        }
        for (k, sub) in subjects.iter_mut().enumerate().filter(|(k, _)| !skip(*k)) {
            let mut l = latency(sub, &chats, s.latency_messages, &format!("l{round}-")).await?;
            let (a, b) = (quantile(&mut l, 0.50), quantile(&mut l, 0.99));
            eprintln!(
                "pipeline round {round}: {:<60} p50 {} p99 {}",
                sub.variant.label(),
                util::t(a),
                util::t(b)
            );
            p50[k].push(a);
            p99[k].push(b);
        }
    }
    if let Some(w) = subjects[2].gw.webhook.as_ref() {
        let [answered, acted, ignored, failed, dropped] = w.stats().snapshot();
        if failed + dropped + ignored > 0 {
            eprintln!(
                "webhook: answered {answered} acted {acted} ignored {ignored} failed {failed} dropped {dropped}"
            );
        }
    }
    for sub in subjects {
        sub.gw.stop().await;
    }
    if s.only.is_some() {
        return Ok(Section {
            title: "pipeline (one case only, for profiling)".into(),
            how: String::new(),
            tables: vec![],
            notes: vec![],
        });
    }

    // Slow QQ: one group, every send confirmed only after 200 ms.
    let slow_n = (s.messages / 50).clamp(100, 2_000);
    let mut slow_rates = Vec::new();
    let mut slow_in_order = true;
    for round in 0..s.rounds {
        let (rate, in_order) = slow_qq(&w, slow_n).await?;
        eprintln!(
            "pipeline round {round}: slow QQ (200 ms per send) {rate:>10.0} msg/s, in order: {in_order}"
        );
        slow_rates.push(rate);
        slow_in_order &= in_order;
    }
    let mut slow = Table::new(&[
        "one busy group, WebAssembly bot, QQ confirms each send after 200 ms",
        "messages/s",
        "replies in the group's order",
        "target",
    ]);
    slow.row(vec![
        format!(
            "{} messages injected back to back",
            util::thousands(slow_n as u64)
        ),
        util::rate_spread(&slow_rates),
        if slow_in_order { "yes" } else { "**no**" }.into(),
        format!(
            "≥ 100/s: **{}**",
            if util::median(&slow_rates) >= 100.0 {
                "met"
            } else {
                "missed"
            }
        ),
    ]);

    let mut table = Table::new(&[
        "decided by",
        "throughput run: messages/s",
        "throughput run: CPU per message",
        "latency run: p50",
        "latency run: p99",
    ]);
    for (k, v) in VARIANTS.into_iter().enumerate() {
        table.row(vec![
            v.label().into(),
            util::rate_spread(&rates[k]),
            format!(
                "{}; {:.2} cores busy",
                util::time_spread(&cpus[k]),
                util::median(&cpus[k]) * util::median(&rates[k])
            ),
            util::time_spread(&p50[k]),
            util::time_spread(&p99[k]),
        ]);
    }
    let m = |k: usize| util::median(&rates[k]);
    let (native, wasm, lanes, hook) = (m(0), m(1), m(2), m(3));
    let mut ratios = Table::new(&["ratio", "measured", "target", ""]);
    ratios.row(vec![
        "WASM ÷ webhook throughput".into(),
        format!("**{:.1}×**", wasm / hook),
        "≥ 20×".into(),
        util::verdict(wasm / hook >= 20.0).into(),
    ]);
    ratios.row(vec![
        "native ÷ WASM throughput".into(),
        format!("**{:.2}×**", native / wasm),
        "≤ 2×".into(),
        util::verdict(native / wasm <= 2.0).into(),
    ]);
    ratios.row(vec![
        "WASM with `instances = 8` ÷ webhook throughput".into(),
        format!("**{:.1}×**", lanes / hook),
        "≥ 20×".into(),
        util::verdict(lanes / hook >= 20.0).into(),
    ]);
    ratios.row(vec![
        "native ÷ WASM with `instances = 8` throughput".into(),
        format!("**{:.2}×**", native / lanes),
        "≤ 2×".into(),
        util::verdict(native / lanes <= 2.0).into(),
    ]);
    let l = |k: usize| util::median(&p50[k]);
    ratios.row(vec![
        "webhook ÷ WASM latency p50".into(),
        format!("{:.1}×", l(3) / l(1)),
        "–".into(),
        String::new(),
    ]);
    ratios.row(vec![
        "WASM ÷ native latency p50".into(),
        format!("{:.2}×", l(1) / l(0)),
        "–".into(),
        String::new(),
    ]);
    let c = |k: usize| util::median(&cpus[k]);
    ratios.row(vec![
        "webhook ÷ WASM CPU per message".into(),
        format!("{:.1}×", c(3) / c(1)),
        "–".into(),
        String::new(),
    ]);
    ratios.row(vec![
        "decision cost alone: (webhook − native) ÷ (WASM − native) CPU per message".into(),
        format!("{:.1}×", (c(3) - c(0)) / (c(1) - c(0))),
        "–".into(),
        String::new(),
    ]);
    ratios.row(vec![
        "WASM ÷ native CPU per message".into(),
        format!("{:.2}×", c(1) / c(0)),
        "–".into(),
        String::new(),
    ]);
    ratios.row(vec![
        "diagnostic: one mutex around 2 µs of work ÷ the same work unserialised, CPU per message"
            .into(),
        format!("{:.2}×", c(5) / c(4)),
        "–".into(),
        String::new(),
    ]);
    Ok(Section {
        title: "1. Pipeline: native vs WebAssembly vs webhook".into(),
        how: format!(
            "Four gateways in this process on the `sim` backend with the large world (below), each \
             answering every message with the same reply `v1:<content>`: a native `Handler` \
             (`Gateway::start_with_handlers`), the marker-v1 component (with the default one instance, \
             and with `instances = 8`, one per pipeline lane), and `post_api` pointing at an \
             axum receiver in a child process (`openqq-bench receiver`, keep-alive, the gateway's \
             default webhook concurrency of 64). Messages come from {} chats (friends, group members, \
             temp chats, discussions) through `Sim::receive`; the time of a reply is `Record::at`, when \
             the simulated QQ accepted the send. **Throughput run**: {} messages injected back to back \
             (the injector waits only on back-pressure); messages/s = N ÷ (last reply − first \
             injection). **Latency run**: {} messages one at a time (inject, wait for the reply, next); \
             p50/p99 of injection → reply. Median of {} rounds (min–max), the variants interleaved \
             in every round. CPU per message: user + system time of this process (gateway and injector) and of the \
             receiver process during the throughput run, ÷ N (`getrusage` and `/proc/<pid>/task/*/schedstat`). Log level \
             `warn`: the per-message `info` lines are filtered out. **Slow QQ** (last table): \
             the marker-v1 bot answers every message of one group while the simulator confirms \
             each send only after 200 ms (`[backend] send_latency_ms = 200`); messages/s from the \
             first injection to the last reply handed to QQ. A lane that waited for each \
             confirmation would manage 5/s.",
            chats.len(),
            util::thousands(s.messages as u64),
            s.latency_messages,
            s.rounds
        ),
        tables: vec![table, ratios, slow],
        notes: vec![],
    })
}
