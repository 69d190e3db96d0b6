//! Benchmark 5, hot swap: marker-v1 → marker-v2 in a watched scripts directory; time
//! from the file written to the first message answered by v2, under steady
//! traffic, by the file watcher alone and with an explicit
//! `POST /admin/scripts/reload`, with a warm and a cold compile cache.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use openqq::Gateway;
use openqq::backend::RawChat;
use openqq::backend::sim::Action;
use openqq::config::Config;
use openqq::model::Qq;
use openqq::scripts::ScriptEngine;

use crate::Settings;
use crate::util::{self, Conn, Section, Table};

/// Gap between messages of the background traffic (the resolution).
const TICK: Duration = Duration::from_millis(1);

/// Replaces `to` atomically (write aside, rename), as build tools do.
fn install(from: &Path, to: &Path) -> anyhow::Result<()> {
    let tmp = to.with_extension("part");
    std::fs::copy(from, &tmp)?;
    std::fs::rename(&tmp, to)?;
    Ok(())
}

struct Trial {
    /// File written → first reply tagged `v2:`.
    to_v2: Duration,
    /// How long `POST /admin/scripts/reload` took to answer.
    post: Option<Duration>,
}

async fn trial(admin: bool, warm: bool, name: &str) -> anyhow::Result<Trial> {
    let dir = util::fresh_dir(&format!("swap/{name}"));
    let live = dir.join("marker.wasm");
    install(&util::bot("marker-v1"), &live)?;
    let cache = if warm {
        util::work("cache")
    } else {
        util::fresh_dir(&format!("swap/{name}-cache"))
    };
    let gw = Gateway::start(Config {
        listen: "127.0.0.1:0".parse()?,
        scripts_dir: Some(dir.clone()),
        cache_dir: Some(cache),
        data_dir: Some(util::work("data")),
        ..Config::default()
    })
    .await?;
    let sim = gw.sim.clone().context("sim")?;
    if gw.reloader.is_none() || gw.scripts.list().is_empty() {
        bail!("the scripts directory did not load marker-v1");
    }
    // Let the watcher settle (it must not see the initial file as a change).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seq0 = sim.sent_after(0).last().map_or(0, |r| r.seq);

    // Steady traffic: one message per tick from a friend.
    let stop = Arc::new(AtomicBool::new(false));
    let traffic = {
        let (sim, stop) = (sim.clone(), stop.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(TICK);
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                let _ = sim
                    .receive(RawChat::Friend, Qq(123456), format!("s{i}"))
                    .await;
                i += 1;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;

    let t0 = Instant::now();
    install(&util::bot("marker-v2"), &live)?;
    let post = if admin {
        let mut c = Conn::connect(gw.addr).await?;
        let p0 = Instant::now();
        let st = c
            .request(b"POST /admin/scripts/reload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n")
            .await?;
        let took = p0.elapsed();
        if st != 200 {
            bail!(
                "reload answered {st}: {}",
                String::from_utf8_lossy(c.body())
            );
        }
        Some(took)
    } else {
        None
    };
    let deadline = t0 + Duration::from_secs(60);
    let mut seq = seq0;
    let first_v2 = loop {
        let recs = sim.sent_after(seq);
        if let Some(r) = recs.iter().find(
            |r| matches!(&r.action, Action::Send { content, .. } if content.starts_with("v2:")),
        ) {
            break r.at;
        }
        if let Some(l) = recs.last() {
            seq = l.seq;
        }
        if Instant::now() > deadline {
            bail!("no v2 reply 60 s after the file was written");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    stop.store(true, Ordering::Relaxed);
    let _ = traffic.await;
    gw.stop().await;
    Ok(Trial {
        to_v2: first_v2.saturating_duration_since(t0),
        post,
    })
}

pub async fn run(s: &Settings) -> anyhow::Result<Section> {
    // The warm cache holds both versions.
    let engine = ScriptEngine::new(Some(util::work("cache")))?;
    for v in ["marker-v1", "marker-v2"] {
        let bytes = std::fs::read(util::bot(v)).with_context(|| format!("{v}.wasm"))?;
        let e = engine.clone();
        tokio::task::spawn_blocking(move || e.prepare(v, &bytes)).await??;
    }
    drop(engine);
    let kinds = [(false, true), (false, false), (true, true), (true, false)];
    let mut to_v2 = vec![Vec::new(); kinds.len()];
    let mut post = vec![Vec::new(); kinds.len()];
    for round in 0..s.rounds {
        for (k, &(admin, warm)) in kinds.iter().enumerate() {
            let name = format!(
                "{}-{}-{round}",
                if admin { "post" } else { "watch" },
                if warm { "warm" } else { "cold" }
            );
            let t = trial(admin, warm, &name)
                .await
                .with_context(|| format!("hot swap {name}"))?;
            eprintln!(
                "swap round {round}: {name:<16} first v2 reply after {}",
                util::t(t.to_v2.as_secs_f64())
            );
            to_v2[k].push(t.to_v2.as_secs_f64());
            if let Some(p) = t.post {
                post[k].push(p.as_secs_f64());
            }
        }
    }
    let mut table = Table::new(&[
        "trigger",
        "compile cache",
        "file written → first reply by v2",
        "`POST /admin/scripts/reload` answered after",
    ]);
    for (k, &(admin, warm)) in kinds.iter().enumerate() {
        table.row(vec![
            if admin {
                "file written, then `POST /admin/scripts/reload`".into()
            } else {
                "file watcher alone (acts at the rename into place)".into()
            },
            if warm {
                "warm (v2 compiled before)".into()
            } else {
                "cold (empty cache dir)".into()
            },
            util::time_spread(&to_v2[k]),
            if admin {
                util::time_spread(&post[k])
            } else {
                "–".into()
            },
        ]);
    }
    Ok(Section {
        title: "5. Hot swap".into(),
        how: format!(
            "A gateway in this process with `scripts_dir` holding `marker.wasm` = marker-v1 (replies \
             `v1:<content>`), a friend's message injected every {} ms. The clock starts when marker-v2 \
             is copied next to it and renamed over it; it stops at the `Record::at` of the first reply \
             that starts with `v2:`. Resolution: one traffic tick (~1 ms). Warm: the cache dir already \
             holds v2's compiled artifact; cold: a new empty cache dir, so v2 is compiled during the \
             swap. With `POST /admin/scripts/reload` the request is sent right after the rename \
             (the watcher acts at the rename too: whichever comes second finds nothing new). Median of {} trials (min–max), a new \
             gateway each.",
            TICK.as_millis(),
            s.rounds
        ),
        tables: vec![table],
        notes: vec![],
    })
}
