//! Benchmark 4, memory: VmRSS of the real `openqq serve` binary, idle, with 0, 3 and
//! 10 scripts loaded (and keyword-reply in every language present).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::Settings;
use crate::util::{self, Section, Table};

/// One `[[scripts]]` entry: (name, component file, config table body).
type Entry = (&'static str, &'static str, &'static str);

const GUARD: &str = r#"banned = ["广告", "spam"]"#;
const KEYWORDS: &str = r#"reply = { ping = "pong", "你好" = "你好呀" }"#;
const FORWARD: &str = r#"group = "552603""#;

fn sets() -> Vec<(&'static str, Vec<Entry>)> {
    let three = vec![
        ("echo", "echo", ""),
        ("group-guard", "group-guard", GUARD),
        ("keyword-reply", "keyword-reply", KEYWORDS),
    ];
    let mut ten = three.clone();
    ten.extend([
        ("forward", "forward", FORWARD),
        ("marker", "marker-v1", ""),
        ("echo-2", "echo", ""),
        ("group-guard-2", "group-guard", GUARD),
        ("keyword-reply-2", "keyword-reply", KEYWORDS),
        ("forward-2", "forward", FORWARD),
        ("marker-2", "marker-v1", ""),
    ]);
    let langs: Vec<Entry> = [
        ("keyword-reply", "keyword-reply"),
        ("keyword-reply-c", "keyword-reply-c"),
        ("keyword-reply-zig", "keyword-reply-zig"),
        ("keyword-reply-js", "keyword-reply-js"),
        ("keyword-reply-py", "keyword-reply-py"),
    ]
    .into_iter()
    .filter(|(_, f)| util::bot(f).exists())
    .map(|(n, f)| (n, f, KEYWORDS))
    .collect();
    let langs_label = if langs.len() == 5 {
        "keyword-reply in Rust, C, Zig, JavaScript, Python"
    } else {
        "keyword-reply in every language built"
    };
    vec![
        ("none", vec![]),
        ("echo, group-guard, keyword-reply (Rust)", three),
        ("the 5 Rust examples + 5 renamed copies", ten),
        (langs_label, langs),
    ]
}

fn write_config(dir: &Path, label: usize, entries: &[Entry]) -> anyhow::Result<PathBuf> {
    let mut text = format!(
        "cache_dir = {:?}\n[backend]\nkind = \"sim\"\n",
        util::work("cache").display().to_string()
    );
    for (name, file, config) in entries {
        text.push_str(&format!(
            "\n[[scripts]]\nname = {name:?}\npath = {:?}\n",
            util::bot(file).display().to_string()
        ));
        if !config.is_empty() {
            text.push_str(&format!("[scripts.config]\n{config}\n"));
        }
    }
    let path = dir.join(format!("memory-{label}.toml"));
    std::fs::write(&path, text)?;
    Ok(path)
}

fn free_port() -> anyhow::Result<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?)
}

/// `VmRSS` and `VmHWM` of a process, in KiB.
fn rss(pid: u32) -> anyhow::Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .with_context(|| format!("{name} in /proc/{pid}/status"))
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

/// Starts the binary, waits until it serves, checks how many scripts it
/// loaded, lets it settle, reads its memory; then stops it.
async fn measure(bin: &Path, config: &Path, want: usize) -> anyhow::Result<(u64, u64)> {
    let addr = free_port()?;
    let mut child = tokio::process::Command::new(bin)
        .args(["serve", "--config"])
        .arg(config)
        .args(["--listen", &addr.to_string()])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    let pid = child.id().context("child pid")?;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok((200, _)) = util::get_once(addr, "/openqq/get_user_info").await {
            break;
        }
        if Instant::now() > deadline {
            bail!("openqq serve did not come up on {addr}");
        }
        if let Some(st) = child.try_wait()? {
            bail!("openqq serve exited: {st}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (st, body) = util::get_once(addr, "/admin/scripts").await?;
    let loaded = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["scripts"].as_array().map(Vec::len))
        .unwrap_or(0);
    if want > 0 && (st != 200 || loaded != want) {
        bail!(
            "{}: {loaded} of {want} scripts loaded ({st})",
            config.display()
        );
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let m = rss(pid)?;
    child.kill().await?;
    Ok(m)
}

pub async fn run(s: &Settings) -> anyhow::Result<Section> {
    let bin = util::root().join("target/release/openqq");
    if !bin.exists() {
        bail!(
            "{} is missing: cargo build --release -p openqq",
            bin.display()
        );
    }
    let dir = util::work("memory");
    let sets = sets();
    let mut configs = Vec::new();
    for (k, (_, entries)) in sets.iter().enumerate() {
        configs.push(write_config(&dir, k, entries)?);
    }
    // Fill the compile cache first (unmeasured), as a second start would find it.
    for (k, (_, entries)) in sets.iter().enumerate() {
        measure(&bin, &configs[k], entries.len()).await?;
    }
    let mut rss_kb = vec![Vec::new(); sets.len()];
    let mut hwm_kb = vec![Vec::new(); sets.len()];
    for round in 0..s.rounds {
        for (k, (label, entries)) in sets.iter().enumerate() {
            let (r, h) = measure(&bin, &configs[k], entries.len()).await?;
            eprintln!(
                "memory round {round}: {label:<50} VmRSS {} KiB, VmHWM {} KiB",
                r, h
            );
            rss_kb[k].push(r as f64);
            hwm_kb[k].push(h as f64);
        }
    }
    let mib = |kb: f64| format!("{:.1} MiB", kb / 1024.0);
    let base = util::median(&rss_kb[0]);
    let mut table = Table::new(&[
        "scripts loaded",
        "which",
        "VmRSS idle",
        "VmHWM (peak)",
        "Δ VmRSS vs none",
        "Δ per script",
    ]);
    for (k, (label, entries)) in sets.iter().enumerate() {
        let r = util::median(&rss_kb[k]);
        let (lo, hi) = util::min_max(&rss_kb[k]);
        let n = entries.len();
        table.row(vec![
            n.to_string(),
            label.to_string(),
            format!("**{}** ({}–{})", mib(r), mib(lo), mib(hi)),
            mib(util::median(&hwm_kb[k])),
            if n == 0 { "–".into() } else { mib(r - base) },
            if n == 0 {
                "–".into()
            } else {
                mib((r - base) / n as f64)
            },
        ]);
    }
    Ok(Section {
        title: "4. Memory of `openqq serve`".into(),
        how: format!(
            "The release binary `target/release/openqq serve --config … --listen 127.0.0.1:<free>`, \
             `sim` backend with the default world, `RUST_LOG=warn`, compile cache already filled (one \
             unmeasured start of every configuration first). Once `/openqq/get_user_info` answers and \
             `/admin/scripts` lists every script, 1 s idle, then `VmRSS` and `VmHWM` from \
             `/proc/<pid>/status`. The 10 are `[[scripts]]` entries: echo, group-guard, keyword-reply, \
             forward, marker-v1 and a copy of each under another name (same file, own instance). \
             Median of {} starts (min–max).",
            s.rounds
        ),
        tables: vec![table],
        notes: vec![],
    })
}
