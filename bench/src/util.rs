//! Shared pieces: paths, statistics, tables, a minimal keep-alive HTTP/1.1
//! client, the large world file and the machine description.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench/ is inside the workspace")
        .to_path_buf()
}

/// Where the built bots are.
pub fn bot(name: &str) -> PathBuf {
    root().join("target/bots").join(format!("{name}.wasm"))
}

/// Scratch space for world files, configs, caches and scripts directories.
pub fn work(sub: &str) -> PathBuf {
    let p = root().join("target/bench").join(sub);
    std::fs::create_dir_all(&p).expect("target/bench is writable");
    p
}

/// A fresh, empty directory under `target/bench`.
pub fn fresh_dir(sub: &str) -> PathBuf {
    let p = root().join("target/bench").join(sub);
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).expect("target/bench is writable");
    p
}

pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

pub fn min_max(v: &[f64]) -> (f64, f64) {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lo, hi)
}

/// The `p` quantile (0..=1) of samples, in seconds (nearest rank).
pub fn quantile(samples: &mut [Duration], p: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort_unstable();
    let rank = ((p * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
    samples[rank - 1].as_secs_f64()
}

/// Seconds as a short human time: `850 ns`, `12.3 µs`, `4.56 ms`, `1.23 s`.
pub fn t(secs: f64) -> String {
    if !secs.is_finite() {
        return "–".into();
    }
    let (v, unit) = match secs {
        s if s < 1e-6 => (s * 1e9, "ns"),
        s if s < 1e-3 => (s * 1e6, "µs"),
        s if s < 1.0 => (s * 1e3, "ms"),
        s => (s, "s"),
    };
    if v >= 100.0 {
        format!("{v:.0} {unit}")
    } else if v >= 10.0 {
        format!("{v:.1} {unit}")
    } else {
        format!("{v:.2} {unit}")
    }
}

/// A rate with thousands separators: `123,456/s`.
pub fn rate(per_sec: f64) -> String {
    if !per_sec.is_finite() {
        return "–".into();
    }
    format!("{}/s", thousands(per_sec.round() as u64))
}

pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `median (min–max)` of rates.
pub fn rate_spread(v: &[f64]) -> String {
    let (lo, hi) = min_max(v);
    format!(
        "**{}** ({}–{})",
        rate(median(v)),
        thousands(lo as u64),
        thousands(hi as u64)
    )
}

/// `median (min–max)` of times in seconds.
pub fn time_spread(v: &[f64]) -> String {
    let (lo, hi) = min_max(v);
    format!("**{}** ({}–{})", t(median(v)), t(lo), t(hi))
}

/// Whether a target holds, as a table cell.
pub fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "**missed**" }
}

/// A markdown table.
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn markdown(&self) -> String {
        let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
        let mut s = line(&self.header);
        s.push_str(&line(&vec!["---".to_string(); self.header.len()]));
        for r in &self.rows {
            s.push_str(&line(r));
        }
        s
    }
}

/// One benchmark's results: how it was measured, its tables, its verdicts.
pub struct Section {
    pub title: String,
    pub how: String,
    pub tables: Vec<Table>,
    pub notes: Vec<String>,
}

impl Section {
    pub fn markdown(&self) -> String {
        let mut s = format!("## {}\n\n{}\n\n", self.title, self.how.trim());
        for t in &self.tables {
            s.push_str(&t.markdown());
            s.push('\n');
        }
        for n in &self.notes {
            s.push_str(&format!("- {n}\n"));
        }
        if !self.notes.is_empty() {
            s.push('\n');
        }
        s
    }
}

/// A keep-alive HTTP/1.1 connection that sends prepared requests and reads
/// `Content-Length` responses (what axum sends): the lightest client we can
/// write, so the server gets as much of the machine as possible.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Where the last response's body starts and ends in `buf`.
    body: (usize, usize),
}

impl Conn {
    pub async fn connect(addr: std::net::SocketAddr) -> anyhow::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(64 * 1024),
            body: (0, 0),
        })
    }

    /// Sends one request (complete bytes) and reads the response; the status.
    pub async fn request(&mut self, req: &[u8]) -> anyhow::Result<u16> {
        self.stream.write_all(req).await?;
        // Drop the previous response; keep anything after it (none expected).
        let end = self.body.1;
        self.buf.drain(..end);
        self.body = (0, 0);
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.buf[..head_end]).context("response head")?;
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("status line")?;
        let mut len = None;
        for l in head.lines() {
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse::<usize>().ok();
                } else if k.eq_ignore_ascii_case("transfer-encoding") {
                    bail!("chunked responses are not supported by the bench client");
                }
            }
        }
        let len = len.context("no content-length")?;
        while self.buf.len() < head_end + len {
            self.fill().await?;
        }
        self.body = (head_end, head_end + len);
        Ok(status)
    }

    pub fn body(&self) -> &[u8] {
        &self.buf[self.body.0..self.body.1]
    }

    async fn fill(&mut self) -> anyhow::Result<()> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).await?;
        if n == 0 {
            bail!("connection closed");
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A GET request's bytes.
pub fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").into_bytes()
}

/// One GET on a new connection: status and body (for readiness checks).
pub async fn get_once(addr: std::net::SocketAddr, path: &str) -> anyhow::Result<(u16, Vec<u8>)> {
    let mut c = Conn::connect(addr).await?;
    let status = c.request(&get(path)).await?;
    Ok((status, c.body().to_vec()))
}

/// Generated worlds: the large one (2,000 friends; 100 groups of 500
/// members, the account manages them all; 3 discussions of 5) and a small
/// one of the same make-up for comparison.
pub mod world {
    use super::*;

    pub const ACCOUNT: u64 = 1_234_567;
    pub const DISCUSSES: u64 = 3;

    #[derive(Clone, Copy, PartialEq)]
    pub struct Shape {
        pub friends: u64,
        pub groups: u64,
        pub members: u64,
    }

    pub const LARGE: Shape = Shape {
        friends: 2_000,
        groups: 100,
        members: 500,
    };
    pub const SMALL: Shape = Shape {
        friends: 100,
        groups: 10,
        members: 60,
    };

    impl Shape {
        pub fn friend(&self, i: u64) -> u64 {
            100_000 + i % self.friends
        }
        pub fn group(&self, g: u64) -> u64 {
            500_000 + g % self.groups
        }
        /// Member `m` of group `g`: the first 50 are friends, the rest strangers.
        pub fn member(&self, g: u64, m: u64) -> u64 {
            let (g, m) = (g % self.groups, m % self.members);
            if m < 50 {
                self.friend(g * 50 + m)
            } else {
                10_000_000 + g * 1_000 + m
            }
        }
        pub fn discuss_member(&self, d: u64, m: u64) -> u64 {
            20_000_000 + d * 10 + m % 5
        }

        pub fn describe(&self) -> String {
            format!(
                "{} friends; {} groups × {} members (+ the account, an admin of each); {DISCUSSES} discussions of 5",
                thousands(self.friends),
                self.groups,
                self.members
            )
        }

        /// Writes the world file (once) and returns its path.
        pub fn file(&self) -> anyhow::Result<PathBuf> {
            let path = work("world").join(format!(
                "world-{}-{}x{}.json",
                self.friends, self.groups, self.members
            ));
            if path.exists() {
                return Ok(path);
            }
            let friends: Vec<Value> = (0..self.friends)
                .map(|i| {
                    json!({"qq": self.friend(i), "nick": format!("好友{i}"), "markname": format!("备注{i}"),
                           "category": "我的好友", "state": if i % 3 == 0 { "online" } else { "offline" }})
                })
                .collect();
            let groups: Vec<Value> = (0..self.groups)
                .map(|g| {
                    let members: Vec<Value> = (0..self.members)
                        .map(|m| {
                            let role = match m {
                                0 => "owner",
                                1 => "admin",
                                _ => "member",
                            };
                            json!({"qq": self.member(g, m), "nick": format!("成员{g}-{m}"), "card": if m % 4 == 0 { format!("名片{m}") } else { String::new() }, "role": role})
                        })
                        .collect();
                    json!({"gnumber": self.group(g), "gname": format!("大群{g}"), "gtype": "manage", "members": members})
                })
                .collect();
            let discusses: Vec<Value> = (0..DISCUSSES)
                .map(|d| {
                    let members: Vec<Value> = (0..5)
                        .map(|m| json!({"qq": self.discuss_member(d, m), "nick": format!("讨论{d}-{m}")}))
                        .chain([json!({"qq": ACCOUNT, "nick": "小灰"})])
                        .collect();
                    json!({"dname": format!("讨论组{d}"), "members": members})
                })
                .collect();
            let w = json!({"user": {"qq": ACCOUNT, "nick": "小灰"}, "friends": friends, "groups": groups, "discusses": discusses});
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, serde_json::to_vec(&w)?)?;
            std::fs::rename(&tmp, &path)?;
            Ok(path)
        }
    }
}

/// A line describing this machine.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_gb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{cpu}, {cores} cores, {mem_gb:.0} GiB RAM, Linux {}",
        kernel.trim()
    )
}

/// The 1-minute load average now.
pub fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// A command's first line of output, or `?`.
pub fn command_line(cmd: &str, args: &[&str]) -> String {
    std::process::Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8(o.stdout)
                .ok()
                .map(|s| s.lines().next().unwrap_or("").to_string())
        })
        .unwrap_or_else(|| "?".into())
}

/// CPU time (user + system) this process has used, every thread including
/// those that have exited, in seconds (microsecond resolution).
pub fn cpu_self() -> f64 {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `getrusage` fills the `rusage` it is given for RUSAGE_SELF and
    // cannot fail with these arguments; the struct was zeroed before.
    let ru = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, ru.as_mut_ptr());
        ru.assume_init()
    };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// CPU time another process's live threads have used, in seconds
/// (nanosecond resolution; `/proc/<pid>/task/*/schedstat`).
pub fn cpu_of(pid: u32) -> f64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0.0;
    };
    tasks
        .filter_map(|t| t.ok())
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .sum::<f64>()
        / 1e9
}
