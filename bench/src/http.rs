//! Benchmark 2, the HTTP API: `send_message` and `get_friend_info` on the large world
//! against a bare axum handler returning a fixed JSON, same clients.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::http::header;
use openqq::Gateway;
use openqq::config::Config;

use crate::Settings;
use crate::util::{self, Conn, Section, Table, quantile, world};

/// One endpoint under load: label, server, the requests to cycle through.
type Case<'a> = (&'static str, SocketAddr, &'a Arc<Vec<Vec<u8>>>);

const FIXED: &str = r#"{"code":0,"msg_id":23910001,"status":"发送成功"}"#;

/// What one load run saw.
struct Load {
    requests: u64,
    /// Every request answered, warm-up and tail included (for CPU per request).
    all: u64,
    errors: u64,
    latencies: Vec<Duration>,
    secs: f64,
}

/// `conns` keep-alive connections, each sending the requests in turn
/// (connection `c` starts at request `c`) for `warm` + `secs`; only the
/// requests completed after the warm-up are counted.
async fn load(
    addr: SocketAddr,
    reqs: Arc<Vec<Vec<u8>>>,
    conns: usize,
    warm: Duration,
    secs: Duration,
) -> anyhow::Result<Load> {
    let start = Instant::now();
    let (from, until) = (start + warm, start + warm + secs);
    let mut tasks = Vec::new();
    for c in 0..conns {
        let reqs = reqs.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::connect(addr).await?;
            let mut lat = Vec::with_capacity(100_000);
            let (mut n, mut errors, mut all) = (0u64, 0u64, 0u64);
            let mut k = c;
            loop {
                let req = &reqs[k % reqs.len()];
                k += conns;
                let t0 = Instant::now();
                let status = conn.request(req).await?;
                let t1 = Instant::now();
                all += 1;
                if t1 >= until {
                    break;
                }
                if t0 >= from {
                    n += 1;
                    if status != 200 {
                        errors += 1;
                    }
                    lat.push(t1 - t0);
                }
            }
            anyhow::Ok((n, errors, all, lat))
        }));
    }
    let mut out = Load {
        requests: 0,
        all: 0,
        errors: 0,
        latencies: Vec::new(),
        secs: secs.as_secs_f64(),
    };
    for t in tasks {
        let (n, e, a, l) = t.await??;
        out.requests += n;
        out.all += a;
        out.errors += e;
        out.latencies.extend(l);
    }
    Ok(out)
}

/// Runs `load` on its own runtime (its own threads), like a separate client
/// process would, so the servers keep their runtime to themselves.
async fn load_on_client_runtime(
    threads: usize,
    addr: SocketAddr,
    reqs: Arc<Vec<Vec<u8>>>,
    conns: usize,
    warm: Duration,
    secs: Duration,
) -> anyhow::Result<Load> {
    tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()?;
        rt.block_on(load(addr, reqs, conns, warm, secs))
    })
    .await?
}

async fn bare_server() -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let app = axum::Router::new().fallback(|| async {
        (
            [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
            FIXED,
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((addr, task))
}

pub async fn run(s: &Settings) -> anyhow::Result<Section> {
    let mut cfg = Config {
        listen: "127.0.0.1:0".parse()?,
        data_dir: Some(util::work("data")),
        ..Config::default()
    };
    cfg.backend.world = Some(world::LARGE.file()?);
    let gw = Gateway::start(cfg).await?;
    let (bare, bare_task) = bare_server().await?;

    let send: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..world::LARGE.friends)
            .map(|i| {
                util::get(&format!(
                    "/openqq/send_message?qq={}&content=bench%20{i}",
                    world::LARGE.friend(i)
                ))
            })
            .collect(),
    );
    let friends = Arc::new(vec![util::get("/openqq/get_friend_info")]);

    // Sanity: every endpoint answers as it should before it is timed.
    let (st, body) = util::get_once(gw.addr, "/openqq/send_message?qq=100000&content=x").await?;
    if st != 200 || !String::from_utf8_lossy(&body).contains(r#""code":0"#) {
        bail!(
            "send_message answered {st}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    let (st, body) = util::get_once(gw.addr, "/openqq/get_friend_info").await?;
    let listed = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.as_array().map(Vec::len))
        .context("get_friend_info is not a JSON array")?;
    if st != 200 || listed != world::LARGE.friends as usize {
        bail!("get_friend_info answered {st} with {listed} friends");
    }
    let friend_info_kb = body.len() as f64 / 1024.0;

    let cases: [Case; 3] = [
        ("bare axum handler, fixed JSON", bare, &send),
        (
            "`send_message?qq=…&content=…` (2,000 friends to pick from)",
            gw.addr,
            &send,
        ),
        ("`get_friend_info` (2,000 friends)", gw.addr, &friends),
    ];
    let warm = Duration::from_millis(300);
    let dur = Duration::from_secs_f64(s.http_secs);
    let mut rps = vec![Vec::new(); cases.len()];
    let mut p50 = vec![Vec::new(); cases.len()];
    let mut p99 = vec![Vec::new(); cases.len()];
    let mut cpus = vec![Vec::new(); cases.len()];
    let mut errors = 0;
    for round in 0..s.rounds {
        for (k, (label, addr, reqs)) in cases.iter().enumerate() {
            if s.only.is_some_and(|o| o != k) {
                continue;
            }
            let cpu0 = util::cpu_self();
            let mut l = load_on_client_runtime(
                s.client_threads,
                *addr,
                (*reqs).clone(),
                s.conns,
                warm,
                dur,
            )
            .await?;
            let c = (util::cpu_self() - cpu0) / l.all.max(1) as f64;
            cpus[k].push(c);
            errors += l.errors;
            let r = l.requests as f64 / l.secs;
            let (a, b) = (
                quantile(&mut l.latencies, 0.5),
                quantile(&mut l.latencies, 0.99),
            );
            eprintln!(
                "http round {round}: {label:<60} {r:>9.0} req/s p50 {} p99 {}",
                util::t(a),
                util::t(b)
            );
            rps[k].push(r);
            p50[k].push(a);
            p99[k].push(b);
        }
    }
    bare_task.abort();
    gw.stop().await;
    if s.only.is_some() {
        return Ok(Section {
            title: "http (one case only, for profiling)".into(),
            how: String::new(),
            tables: vec![],
            notes: vec![],
        });
    }

    let mut table = Table::new(&[
        "endpoint",
        "requests/s",
        "p50",
        "p99",
        "CPU per request (server + client)",
        "÷ bare (requests/s)",
    ]);
    let bare_rps = util::median(&rps[0]);
    for (k, (label, _, _)) in cases.iter().enumerate() {
        table.row(vec![
            label.to_string(),
            util::rate_spread(&rps[k]),
            util::time_spread(&p50[k]),
            util::time_spread(&p99[k]),
            format!(
                "{}; {:.2} cores busy",
                util::time_spread(&cpus[k]),
                util::median(&cpus[k]) * util::median(&rps[k])
            ),
            format!("{:.0} %", 100.0 * util::median(&rps[k]) / bare_rps),
        ]);
    }
    let share = util::median(&rps[1]) / bare_rps;
    let mut ratios = Table::new(&["ratio", "measured", "target", ""]);
    ratios.row(vec![
        "`send_message` ÷ bare handler, requests/s".into(),
        format!("**{:.0} %**", share * 100.0),
        "≥ 60 %".into(),
        util::verdict(share >= 0.6).into(),
    ]);
    let mut notes = vec![format!(
        "`get_friend_info` answers {friend_info_kb:.0} KiB of JSON per request (every friend, v1 shape)."
    )];
    if errors > 0 {
        notes.push(format!("{errors} responses were not HTTP 200."));
    }
    Ok(Section {
        title: "2. HTTP API on a large world".into(),
        how: format!(
            "The gateway (in this process, `sim` backend, large world: 2,000 friends, 100 groups × 500 \
             members) and a bare axum server whose only handler returns a fixed \
             `{FIXED}` with the same content type, both on 127.0.0.1 on the main tokio runtime. \
             Clients: {} keep-alive HTTP/1.1 connections, one request in flight each, a minimal \
             hand-written client (prepared request bytes, `Content-Length` parsing) on a separate \
             {}-thread tokio runtime in the same process — so clients and servers share the 2 cores, \
             as they would with a separate load generator on this machine. `send_message` rotates \
             over the 2,000 friends; each one really goes through the outbox to the simulated QQ \
             (spacing 0). {:.1} s per measurement after a 0.3 s warm-up; median of {} rounds \
             (min–max), the three cases interleaved. CPU per request: user + system time of this \
             process (servers and clients) ÷ requests answered.",
            s.conns, s.client_threads, s.http_secs, s.rounds
        ),
        tables: vec![table, ratios],
        notes,
    })
}
