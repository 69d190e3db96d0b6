//! The gateway's durable state: one embedded database file under
//! `data_dir`, holding each bot's key-value store (`kv`) and the pending
//! one-shot timers (`oneshots`).
//!
//! The database is redb: pure Rust (no C toolchain in the build), ACID
//! with copy-on-write B-trees, and crash-safe by default — a transaction is
//! on disk when `commit` returns (`Durability::Immediate`), so a bot's write
//! survives `kill -9` the moment its call returns. One writer at a time:
//! writes are short (one key) and run off the async runtime
//! (`spawn_blocking`), reads never wait for them (MVCC).
//!
//! Owns: the file and its tables. Must not: know about bots' instances or
//! quotas' config — callers pass the bot's name and its quota.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;

pub mod kv;
pub mod oneshots;

pub use kv::{KvError, KvQuota};
pub use oneshots::Pending;

/// How many times (50 ms apart) opening waits for a closing database.
const CLOSE_WAIT_TRIES: u32 = 60;

/// The database file's name inside `data_dir`.
const FILE: &str = "openqq.redb";

/// The open database. Cheap to share (`Arc`).
pub struct Storage {
    db: redb::Database,
    path: PathBuf,
    /// The next one-shot timer's sequence number (see `oneshots`).
    next_seq: std::sync::atomic::AtomicU64,
}

impl Storage {
    /// Opens (or creates) the database in `dir`, creating the directory.
    /// Gateways in one process (tests, benchmarks) share one open database
    /// per directory; another process using it is refused.
    ///
    /// # Errors
    /// The directory cannot be created, the file is not a database, or
    /// another process has it open.
    pub fn open(dir: &Path) -> anyhow::Result<Arc<Storage>> {
        static OPEN: std::sync::Mutex<Vec<(PathBuf, std::sync::Weak<Storage>)>> =
            std::sync::Mutex::new(Vec::new());
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create data_dir {}", dir.display()))?;
        let path = dir
            .canonicalize()
            .with_context(|| format!("data_dir {}", dir.display()))?
            .join(FILE);
        let mut open = OPEN.lock().unwrap_or_else(|p| p.into_inner());
        open.retain(|(_, w)| w.strong_count() > 0);
        if let Some(s) = open
            .iter()
            .find(|(p, _)| *p == path)
            .and_then(|(_, w)| w.upgrade())
        {
            return Ok(s);
        }
        let storage = Self::open_file(path.clone())?;
        open.push((path, Arc::downgrade(&storage)));
        Ok(storage)
    }

    fn open_file(path: PathBuf) -> anyhow::Result<Arc<Storage>> {
        // A gateway of this process that is stopping may still be closing
        // the file (its last handle dropped a moment ago): wait for it.
        let mut tries = 0;
        let db = loop {
            match redb::Database::create(&path) {
                Err(redb::DatabaseError::DatabaseAlreadyOpen) if tries < CLOSE_WAIT_TRIES => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                other => {
                    break other.with_context(|| {
                        format!(
                            "cannot open the database {} (is another gateway using this data_dir? give each its own `data_dir`)",
                            path.display()
                        )
                    })?;
                }
            }
        };
        let storage = Storage {
            db,
            path,
            next_seq: std::sync::atomic::AtomicU64::new(0),
        };
        storage.create_tables()?;
        let seq = storage.max_seq()?;
        storage
            .next_seq
            .store(seq + 1, std::sync::atomic::Ordering::Relaxed);
        Ok(Arc::new(storage))
    }

    /// A database in memory, empty, gone when dropped: the scratch store
    /// of a replay (`scripts::replay`), whose writes must not reach the
    /// bots' real stores.
    ///
    /// # Errors
    /// When redb cannot create its tables (it does not fail in memory).
    pub fn in_memory() -> anyhow::Result<Arc<Storage>> {
        let db = redb::Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .context("cannot create an in-memory database")?;
        let storage = Storage {
            db,
            path: PathBuf::from(":memory:"),
            next_seq: std::sync::atomic::AtomicU64::new(1),
        };
        storage.create_tables()?;
        Ok(Arc::new(storage))
    }

    /// Where the database file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates every table, so readers never meet a missing one.
    fn create_tables(&self) -> anyhow::Result<()> {
        let tx = self.db.begin_write().context("database: begin")?;
        tx.open_table(kv::ENTRIES).context("database: kv table")?;
        tx.open_table(kv::USAGE)
            .context("database: kv usage table")?;
        tx.open_table(oneshots::TABLE)
            .context("database: timers table")?;
        tx.open_table(oneshots::CHATS)
            .context("database: timer chats table")?;
        tx.commit().context("database: commit")?;
        Ok(())
    }
}

/// The default `data_dir`: `$XDG_DATA_HOME/openqq`, else
/// `~/.local/share/openqq`, else `./openqq-data`.
pub fn default_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("openqq");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(h).join(".local/share/openqq");
    }
    PathBuf::from("openqq-data")
}

/// A redb error as the text a bot or an operator sees.
fn store_error(what: &str, e: impl std::fmt::Display) -> String {
    format!("{what}: {e}")
}

#[cfg(test)]
pub(crate) fn temp() -> (tempdir::TempDir, Arc<Storage>) {
    let dir = tempdir::TempDir::new();
    let s = Storage::open(dir.path()).expect("open a fresh database");
    (dir, s)
}

/// A temporary directory for tests, removed on drop (no extra crate).
#[cfg(test)]
pub(crate) mod tempdir {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU64, Ordering};

    pub struct TempDir(PathBuf);

    impl TempDir {
        pub fn new() -> TempDir {
            static N: AtomicU64 = AtomicU64::new(0);
            let p = std::env::temp_dir().join(format!(
                "openqq-storage-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&p);
            TempDir(p)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
