//! Benchmark 3, script cost: a call on the reused instance vs a fresh instance per
//! message; cold (compile) vs warm (cached artifact) load, per bot and
//! language.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use openqq::Gateway;
use openqq::config::Config;
use openqq::model::{ChatKind, ChatRef, GroupNumber, InboundMessage, Person, Qq};
use openqq::scripts::limits::Sandbox;
use openqq::scripts::{LoadedScript, LogBudget, Prepared, ScriptEngine, Source, flatten};
use openqq::session::SessionHandle;
use openqq::storage::Storage;
use openqq::timers::{Clock, Timers, Zone};

use crate::Settings;
use crate::util::{self, Section, Table, quantile};

struct Case {
    file: &'static str,
    language: &'static str,
    config: &'static str,
    kind: ChatKind,
    content: &'static str,
    /// What the message makes the bot do (for the table).
    does: &'static str,
}

const KEYWORDS: &str = r#"reply = { ping = "pong", "你好" = "你好呀" }
banned = ["脏话"]"#;

fn cases() -> Vec<Case> {
    let kw = |file, language| Case {
        file,
        language,
        config: KEYWORDS,
        kind: ChatKind::Group,
        content: "hello ping",
        does: "keyword → reply",
    };
    vec![
        Case {
            file: "echo",
            language: "Rust",
            config: "",
            kind: ChatKind::Friend,
            content: "ping",
            does: "ping → pong",
        },
        Case {
            file: "marker-v1",
            language: "Rust",
            config: "",
            kind: ChatKind::Group,
            content: "hello",
            does: "reply `v1:<content>`",
        },
        Case {
            file: "group-guard",
            language: "Rust",
            config: r#"banned = ["广告", "spam"]
max_messages = 5
window_seconds = 10"#,
            kind: ChatKind::Group,
            content: "an ordinary group message",
            does: "counts, checks words, passes (one message per 3 s)",
        },
        kw("keyword-reply", "Rust"),
        kw("keyword-reply-c", "C"),
        kw("keyword-reply-zig", "Zig"),
        kw("keyword-reply-js", "JavaScript (QuickJS)"),
        kw("keyword-reply-py", "Python"),
    ]
}

fn message(kind: ChatKind, content: &str, i: u64) -> InboundMessage {
    let group = (kind == ChatKind::Group).then(|| ChatRef {
        id: "3000000001".into(),
        number: Some(GroupNumber(552603)),
        key: 0,
        name: "PERL学习交流".into(),
    });
    InboundMessage {
        id: (10_000 + i).to_string(),
        kind,
        time: SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        content: content.into(),
        sender: Person {
            id: "2000000001".into(),
            qq: Some(Qq(888888)),
            name: "路人甲".into(),
        },
        receiver: Person {
            id: "1000000001".into(),
            qq: Some(Qq(1234567)),
            name: "小灰".into(),
        },
        group,
        discuss: None,
        addressing: Default::default(),
        trace: Default::default(),
    }
}

async fn prepare(
    engine: &Arc<ScriptEngine>,
    name: &str,
    bytes: &Arc<Vec<u8>>,
) -> anyhow::Result<Prepared> {
    let (engine, name, bytes) = (engine.clone(), name.to_string(), bytes.clone());
    Ok(tokio::task::spawn_blocking(move || engine.prepare(&name, &bytes)).await??)
}

fn loaded(
    name: &str,
    prepared: Prepared,
    config: &str,
    timers: &Timers,
) -> anyhow::Result<Arc<LoadedScript>> {
    let table: toml::Table = toml::from_str(config)?;
    let traced = Arc::new(openqq::trace::BotId::new(
        name.into(),
        &prepared.sha256,
        &prepared.world,
    ));
    Ok(Arc::new(LoadedScript {
        name: name.into(),
        path: util::bot(name),
        prepared,
        config: flatten(&table),
        deadline: Duration::from_millis(100),
        wall: Duration::from_millis(1000),
        memory_mb: 64,
        instances: 1,
        sandbox: Sandbox::default(),
        granted: Arc::new(openqq::grants::Granted::new(openqq::grants::Grants::least(
            &openqq::config::LimitsSection::default(),
        ))),
        log: Arc::new(LogBudget::new(&Sandbox::default())),
        refusals: openqq::throttle::Throttle::new(std::time::Duration::from_secs(10)),
        loaded_at: SystemTime::now(),
        timers: timers.clone(),
        traced,
    }))
}

#[derive(Default)]
struct Samples {
    cold: Vec<f64>,
    warm: Vec<f64>,
    reused_p50: Vec<f64>,
    reused_p99: Vec<f64>,
    fresh_p50: Vec<f64>,
}

async fn measure(
    c: &Case,
    s: &Settings,
    session: &SessionHandle,
    timers: &Timers,
    round: usize,
    out: &mut Samples,
) -> anyhow::Result<bool> {
    let bytes = Arc::new(std::fs::read(util::bot(c.file))?);
    // Cold: a new engine over an empty cache directory compiles.
    let engine = ScriptEngine::new(Some(util::fresh_dir(&format!(
        "scripts-cache/{}-{round}",
        c.file
    ))))?;
    let cold = prepare(&engine, c.file, &bytes).await?;
    if cold.source != Source::Compiled {
        bail!("{}: expected a compile, got {:?}", c.file, cold.source);
    }
    out.cold.push(cold.load_time.as_secs_f64());
    drop(cold);
    // Warm: the same engine again finds the artifact the compile wrote.
    let warm = prepare(&engine, c.file, &bytes).await?;
    if warm.source != Source::Cached {
        bail!("{}: expected the cache, got {:?}", c.file, warm.source);
    }
    out.warm.push(warm.load_time.as_secs_f64());
    let script = loaded(c.file, warm, c.config, timers)?;

    // Reused: one instance, `calls` messages.
    let mut inst = script.instantiate(session.clone()).await?;
    let mut msg = message(c.kind, c.content, 0);
    let decided = inst.on_message(&msg).await?.is_some();
    let mut lat = Vec::with_capacity(s.calls);
    for _ in 0..s.calls {
        // Each message 3 s after the last: ordinary chatter, never a flood
        // (only group-guard looks at the time).
        msg.time += 3;
        let t0 = Instant::now();
        let d = inst.on_message(&msg).await?;
        lat.push(t0.elapsed());
        std::hint::black_box(d);
    }
    out.reused_p50.push(quantile(&mut lat, 0.5));
    out.reused_p99.push(quantile(&mut lat, 0.99));
    drop(inst);

    // Fresh: instantiate + init + the call + drop, per message.
    let mut lat = Vec::with_capacity(s.fresh);
    for _ in 0..s.fresh {
        let t0 = Instant::now();
        let mut inst = script.instantiate(session.clone()).await?;
        let d = inst.on_message(&msg).await?;
        drop(inst);
        lat.push(t0.elapsed());
        std::hint::black_box(d);
    }
    out.fresh_p50.push(quantile(&mut lat, 0.5));
    Ok(decided)
}

pub async fn run(s: &Settings) -> anyhow::Result<Section> {
    // A gateway only for its session (the host imports need one), and
    // timers over a database of this run's own (the 0.2.0 imports need them).
    let data = util::fresh_dir("scripts-data");
    let gw = Gateway::start(Config {
        listen: "127.0.0.1:0".parse()?,
        data_dir: Some(data.join("gateway")),
        ..Config::default()
    })
    .await?;
    let storage = {
        let dir = data.join("bots");
        tokio::task::spawn_blocking(move || Storage::open(&dir)).await??
    };
    let timers = Timers::new(storage, Clock::new(false), Zone::Local)?;
    let present: Vec<Case> = cases()
        .into_iter()
        .filter(|c| util::bot(c.file).exists())
        .collect();
    let missing: Vec<&str> = cases()
        .iter()
        .filter(|c| !util::bot(c.file).exists())
        .map(|c| c.file)
        .collect();
    let mut samples: Vec<Samples> = present.iter().map(|_| Samples::default()).collect();
    let mut decided = vec![false; present.len()];
    for round in 0..s.rounds {
        for (k, c) in present.iter().enumerate() {
            decided[k] = measure(c, s, &gw.session, &timers, round, &mut samples[k])
                .await
                .with_context(|| format!("script cost of {}", c.file))?;
            let m = &samples[k];
            eprintln!(
                "scripts round {round}: {:<20} cold {} warm {} reused {} fresh {}",
                c.file,
                util::t(*m.cold.last().unwrap_or(&f64::NAN)),
                util::t(*m.warm.last().unwrap_or(&f64::NAN)),
                util::t(*m.reused_p50.last().unwrap_or(&f64::NAN)),
                util::t(*m.fresh_p50.last().unwrap_or(&f64::NAN)),
            );
        }
    }
    gw.stop().await;

    let mut table = Table::new(&[
        "bot",
        "language",
        "component",
        "message",
        "reused instance: call p50 (p99)",
        "fresh instance per message: p50",
        "fresh ÷ reused",
        "cold load (compile)",
        "warm load (cached)",
        "cold ÷ warm",
    ]);
    for (k, c) in present.iter().enumerate() {
        let m = &samples[k];
        let size = std::fs::metadata(util::bot(c.file)).map_or(0, |m| m.len());
        let med = util::median;
        table.row(vec![
            format!("`{}`", c.file),
            c.language.into(),
            format!("{} KB", util::thousands(size / 1000)),
            format!(
                "{}{}",
                c.does,
                if decided[k] { "" } else { " (no decision)" }
            ),
            format!(
                "**{}** ({})",
                util::t(med(&m.reused_p50)),
                util::t(med(&m.reused_p99))
            ),
            util::time_spread(&m.fresh_p50),
            format!("{:.0}×", med(&m.fresh_p50) / med(&m.reused_p50)),
            util::time_spread(&m.cold),
            util::time_spread(&m.warm),
            format!("{:.0}×", med(&m.cold) / med(&m.warm)),
        ]);
    }
    let mut notes = Vec::new();
    if !missing.is_empty() {
        notes.push(format!(
            "Not measured (component not built; toolchain missing): {}.",
            missing.join(", ")
        ));
    }
    Ok(Section {
        title: "3. Script cost".into(),
        how: format!(
            "`openqq::scripts` directly, on the gateway's engine configuration (component model, epoch \
             deadline, pooling allocator, 100 ms deadline and 64 MiB cap per call). **Reused**: one \
             `Instance`, {} `on_message` calls, each timed (p50, p99). **Fresh**: {} times \
             `LoadedScript::instantiate` (store, instantiate, `init` with the config) + one \
             `on_message` + drop. **Cold load**: `ScriptEngine::prepare` on a new engine over an empty \
             cache directory (hash, compile with Cranelift on both cores, write the `.cwasm`, link); \
             **warm load**: `prepare` again, which memory-maps the cached artifact. Median of {} rounds \
             (min–max).",
            util::thousands(s.calls as u64),
            s.fresh,
            s.rounds
        ),
        tables: vec![table],
        notes,
    })
}
