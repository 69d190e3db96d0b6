//! The journal: an opt-in record of inbound messages as the bots see them,
//! for `openqq replay` and the swap gate (`scripts::gate`).
//!
//! Owns: the JSONL file (`[journal] path`), one `Entry` per line, and its
//! bounds (`max_messages`, `max_age`). Must not: make the pipeline wait —
//! `Journal::record` hands a copy of the message to a writer thread
//! through a bounded channel and, when that is full, drops it and counts
//! it (the journal is a sample for testing bots, not an audit log).
//!
//! Off by default: the file holds users' messages (text, names, numbers).
//!
//! The writer appends; once the file holds more than `max_messages` plus a
//! tenth, or its oldest line is older than `max_age` (looked at once a
//! minute), it rewrites the file with the newest `max_messages` lines
//! within `max_age` (written aside, then renamed into place, so a reader
//! sees the old file or the new one). Readers take the newest lines.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::config::JournalSection;
use crate::model::InboundMessage;
use crate::throttle::Throttle;

/// Messages waiting for the writer before new ones are dropped.
const QUEUE: usize = 4096;
/// How often the writer looks for lines past `max_age`.
const AGE_CHECK: Duration = Duration::from_secs(60);

/// One journal line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// When the gateway received it, in Unix seconds.
    pub at: u64,
    pub message: InboundMessage,
}

/// The way into the journal: cheap to clone, never waits.
#[derive(Clone)]
pub struct Journal {
    tx: mpsc::Sender<InboundMessage>,
    dropped: Arc<AtomicU64>,
    warn: Arc<Throttle>,
}

impl Journal {
    /// Opens (or creates) the journal file, trims it to its bounds and
    /// starts its writer thread, which ends once every `Journal` is
    /// dropped and what they handed it is written. `None` when the journal
    /// is off. Blocking (file I/O): call from `spawn_blocking`.
    ///
    /// # Errors
    /// The file cannot be created, read or rewritten.
    pub fn open(cfg: &JournalSection) -> anyhow::Result<Option<Journal>> {
        let Some(path) = cfg.path.clone() else {
            return Ok(None);
        };
        let mut writer = Writer {
            file: None,
            path: path.clone(),
            max: cfg.max_messages,
            max_age: cfg.max_age()?,
            lines: 0,
            oldest: None,
            aged_at: Instant::now(),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("[journal] cannot create {}", dir.display()))?;
        }
        writer
            .compact()
            .with_context(|| format!("[journal] {}", path.display()))?;
        let (tx, rx) = mpsc::channel(QUEUE);
        std::thread::Builder::new()
            .name("openqq-journal".into())
            .spawn(move || writer.run(rx))
            .context("cannot start the journal's writer")?;
        tracing::info!(path = %path.display(), max_messages = cfg.max_messages, max_age = %cfg.max_age, "journaling inbound messages");
        Ok(Some(Journal {
            tx,
            dropped: Arc::new(AtomicU64::new(0)),
            warn: Arc::new(Throttle::new(Duration::from_secs(10))),
        }))
    }

    /// Records `msg`, or drops and counts it when the writer is behind.
    pub fn record(&self, msg: &InboundMessage) {
        match self.tx.try_send(msg.clone()) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if let Some(more) = self.warn.allow() {
                    tracing::warn!(
                        dropped = n,
                        held_back = more,
                        "the journal's writer is behind: message not journaled"
                    );
                }
            }
            // The writer stopped after an error it logged.
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Messages not journaled because the writer was behind or stopped.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The writer thread's state.
struct Writer {
    /// Open for appending; `None` until the first compaction.
    file: Option<BufWriter<File>>,
    path: PathBuf,
    max: usize,
    max_age: Duration,
    /// Lines in the file now.
    lines: usize,
    /// The oldest line's `at`.
    oldest: Option<u64>,
    /// When lines were last looked at for their age.
    aged_at: Instant,
}

impl Writer {
    fn run(mut self, mut rx: mpsc::Receiver<InboundMessage>) {
        while let Some(first) = rx.blocking_recv() {
            let mut batch = vec![first];
            while let Ok(m) = rx.try_recv() {
                batch.push(m);
            }
            if let Err(e) = self.write(batch) {
                tracing::error!(path = %self.path.display(), error = %format!("{e:#}"), "the journal cannot be written; journaling stops");
                return;
            }
        }
    }

    fn write(&mut self, batch: Vec<InboundMessage>) -> anyhow::Result<()> {
        let at = crate::clock::unix_now();
        let file = self.file.as_mut().context("journal not open")?;
        for message in batch {
            let line = serde_json::to_string(&Entry { at, message })?;
            file.write_all(line.as_bytes())?;
            file.write_all(b"\n")?;
            self.lines += 1;
            self.oldest.get_or_insert(at);
        }
        file.flush()?;
        let over = self.lines > self.max + self.max / 10;
        let aged = self.aged_at.elapsed() >= AGE_CHECK
            && self
                .oldest
                .is_some_and(|o| o < at.saturating_sub(self.max_age.as_secs()));
        if over || aged {
            self.compact()?;
        }
        Ok(())
    }

    /// Rewrites the file with the newest `max` lines within `max_age`, and
    /// reopens it for appending.
    fn compact(&mut self) -> anyhow::Result<()> {
        self.file = None;
        self.aged_at = Instant::now();
        let cutoff = crate::clock::unix_now().saturating_sub(self.max_age.as_secs());
        let kept = match File::open(&self.path) {
            Ok(f) => newest_lines(f, self.max, |e| e.at >= cutoff)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        let tmp = self.path.with_extension("jsonl.tmp");
        {
            let mut out = BufWriter::new(File::create(&tmp)?);
            for (_, line) in &kept {
                out.write_all(line.as_bytes())?;
                out.write_all(b"\n")?;
            }
            out.flush()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        self.lines = kept.len();
        self.oldest = kept.first().map(|(at, _)| *at);
        self.file = Some(BufWriter::new(
            OpenOptions::new().append(true).open(&self.path)?,
        ));
        Ok(())
    }
}

/// The newest `n` well-formed lines `keep` accepts, oldest first, each
/// with its `at`. Lines that do not parse (a crash mid-line) are skipped.
fn newest_lines(
    f: File,
    n: usize,
    keep: impl Fn(&Entry) -> bool,
) -> std::io::Result<Vec<(u64, String)>> {
    let mut out = std::collections::VecDeque::new();
    for line in BufReader::new(f).lines() {
        let line = line?;
        let Ok(e) = serde_json::from_str::<Entry>(&line) else {
            continue;
        };
        if keep(&e) {
            if out.len() == n {
                out.pop_front();
            }
            out.push_back((e.at, line));
        }
    }
    Ok(out.into())
}

/// The journal's newest `n` messages that `keep` accepts, oldest first
/// (`usize::MAX`: every one). Blocking.
///
/// # Errors
/// The file cannot be read.
pub fn read(
    path: &Path,
    n: usize,
    keep: impl Fn(&InboundMessage) -> bool,
) -> anyhow::Result<Vec<InboundMessage>> {
    let f =
        File::open(path).with_context(|| format!("cannot read the journal {}", path.display()))?;
    let mut out = std::collections::VecDeque::new();
    for (i, line) in BufReader::new(f).lines().enumerate() {
        let line = line.with_context(|| format!("cannot read the journal {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let e: Entry = match serde_json::from_str(&line) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(path = %path.display(), line = i + 1, error = %e, "journal line skipped");
                continue;
            }
        };
        if keep(&e.message) {
            if out.len() == n {
                out.pop_front();
            }
            out.push_back(e.message);
        }
    }
    Ok(out.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ChatKind, Person, Qq};

    fn msg(i: u64) -> InboundMessage {
        InboundMessage {
            id: i.to_string(),
            kind: ChatKind::Friend,
            time: 1,
            content: format!("m{i}"),
            sender: Person {
                id: "f1".into(),
                qq: Some(Qq(10001)),
                name: "Alice".into(),
            },
            receiver: Person::default(),
            group: None,
            discuss: None,
            addressing: crate::model::Addressing {
                mentions: vec![Qq(i)],
                at_me: i.is_multiple_of(2),
                body: format!("m{i}"),
                ..Default::default()
            },
            trace: crate::trace::Handle::off(),
        }
    }

    fn temp(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("openqq-journal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir.join("j.jsonl")
    }

    fn writer(path: &Path, max: usize) -> Writer {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut w = Writer {
            file: None,
            path: path.to_path_buf(),
            max,
            max_age: Duration::from_secs(3600),
            lines: 0,
            oldest: None,
            aged_at: Instant::now(),
        };
        w.compact().unwrap();
        w
    }

    #[test]
    fn messages_round_trip_without_their_trace() {
        let m = msg(7);
        let line = serde_json::to_string(&Entry {
            at: 5,
            message: m.clone(),
        })
        .unwrap();
        assert!(!line.contains("trace"), "{line}");
        let back: Entry = serde_json::from_str(&line).unwrap();
        assert_eq!(back.message, m);
    }

    #[test]
    fn a_line_from_before_addressing_reads_as_addressing_nobody() {
        let mut line = serde_json::to_value(Entry {
            at: 5,
            message: msg(8),
        })
        .unwrap();
        line["message"]
            .as_object_mut()
            .unwrap()
            .remove("addressing");
        let back: Entry = serde_json::from_value(line).unwrap();
        assert_eq!(back.message.addressing, crate::model::Addressing::default());
    }

    #[test]
    fn the_file_keeps_the_newest_max_messages() {
        let path = temp("bound");
        let mut w = writer(&path, 5);
        for i in 0..8 {
            w.write(vec![msg(i)]).unwrap();
            assert!(w.lines <= 5, "{} lines", w.lines);
        }
        let all = read(&path, usize::MAX, |_| true).unwrap();
        let ids: Vec<&str> = all.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["3", "4", "5", "6", "7"]);
        let last2 = read(&path, 2, |m| m.id != "7").unwrap();
        assert_eq!(
            last2.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
            ["5", "6"]
        );
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn old_and_broken_lines_go_at_open() {
        let path = temp("age");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let now = crate::clock::unix_now();
        let old = serde_json::to_string(&Entry {
            at: now - 7200,
            message: msg(1),
        })
        .unwrap();
        let new = serde_json::to_string(&Entry {
            at: now,
            message: msg(2),
        })
        .unwrap();
        std::fs::write(&path, format!("{old}\n{{broken\n{new}\n")).unwrap();
        let w = writer(&path, 10);
        assert_eq!(w.lines, 1);
        let all = read(&path, usize::MAX, |_| true).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].id, "2");
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
}
