//! Each bot's key-value store: `(bot, key) → bytes`, and the bytes each bot
//! uses (`kv_usage`), updated in the same transaction as the entry so the
//! total-bytes quota can never drift from the data.
//!
//! A write commits before it returns: durable, and visible to every later
//! read. Quotas are checked inside the write transaction, so two instances
//! of one bot cannot both squeeze under the total.

use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use super::{Storage, store_error};

/// `(bot name, key) → value`.
pub(super) const ENTRIES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("kv");
/// `bot name → bytes of its keys and values`.
pub(super) const USAGE: TableDefinition<&str, u64> = TableDefinition::new("kv_usage");

/// What each entry costs against `kv_max_total_bytes` besides its key and
/// value: the bot's name in the tuple key and the B-tree's own bytes, so
/// a store of many tiny entries is bounded on disk too.
pub const ENTRY_OVERHEAD: i64 = 32;

/// The most keys one `keys` call returns.
pub const MAX_KEYS_LISTED: usize = 1000;

/// What one bot may keep (`[limits] kv_max_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvQuota {
    pub max_key_bytes: usize,
    pub max_value_bytes: usize,
    /// Keys and values of all the bot's entries together.
    pub max_total_bytes: u64,
}

impl Default for KvQuota {
    fn default() -> Self {
        KvQuota {
            max_key_bytes: 256,
            max_value_bytes: 64 << 10,
            max_total_bytes: 1 << 20,
        }
    }
}

/// Why a KV call failed; nothing was changed. Mirrors the WIT `kv.error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvError {
    #[error("{0}")]
    Quota(String),
    #[error("{0}")]
    NotANumber(String),
    #[error("{0}")]
    Store(String),
}

/// A redb error (of any of its kinds) as a `Store` error saying when.
fn st<E: Into<redb::Error>>(what: &'static str) -> impl Fn(E) -> KvError {
    move |e| KvError::Store(store_error(what, e.into()))
}

impl KvQuota {
    pub(crate) fn check_key(&self, key: &str) -> Result<(), KvError> {
        if key.is_empty() {
            return Err(KvError::Quota("a key must not be empty".to_string()));
        }
        if key.len() > self.max_key_bytes {
            return Err(KvError::Quota(format!(
                "key is {} bytes, over kv_max_key_bytes = {}",
                key.len(),
                self.max_key_bytes
            )));
        }
        Ok(())
    }

    pub(crate) fn check_value(&self, len: usize) -> Result<(), KvError> {
        if len > self.max_value_bytes {
            return Err(KvError::Quota(format!(
                "value is {len} bytes, over kv_max_value_bytes = {}",
                self.max_value_bytes
            )));
        }
        Ok(())
    }
}

/// How much a bot's usage grows when `key` gets a value of `len` bytes,
/// replacing one of `old` bytes (or none).
fn growth(key: &str, len: usize, old: Option<usize>) -> i64 {
    let new = (key.len() + len) as i64;
    match old {
        Some(o) => new - (key.len() + o) as i64,
        None => new + ENTRY_OVERHEAD,
    }
}

/// One entry as the operator sees it (`/admin/kv`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryInfo {
    pub key: String,
    pub bytes: usize,
}

impl Storage {
    /// The value of `key` in `bot`'s store.
    pub fn kv_get(&self, bot: &str, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        let tx = self.db.begin_read().map_err(st("read"))?;
        let t = tx.open_table(ENTRIES).map_err(st("read"))?;
        let v = t.get((bot, key)).map_err(st("read"))?;
        Ok(v.map(|v| v.value().to_vec()))
    }

    /// Sets `key` to `value` within `quota`. Blocking (it waits for the disk).
    pub fn kv_set(
        &self,
        bot: &str,
        key: &str,
        value: &[u8],
        quota: &KvQuota,
    ) -> Result<(), KvError> {
        quota.check_key(key)?;
        quota.check_value(value.len())?;
        self.write(bot, quota, |entries, _| {
            let old = entries
                .insert((bot, key), value)
                .map_err(st("write"))?
                .map(|v| v.value().len());
            Ok((growth(key, value.len(), old), ()))
        })
    }

    /// Removes `key`; whether it was there. Blocking.
    pub fn kv_delete(&self, bot: &str, key: &str) -> Result<bool, KvError> {
        let unlimited = KvQuota {
            max_total_bytes: u64::MAX,
            ..KvQuota::default()
        };
        self.write(bot, &unlimited, |entries, _| {
            let old = entries.remove((bot, key)).map_err(st("write"))?;
            Ok(match old {
                Some(v) => (
                    -((key.len() + v.value().len()) as i64 + ENTRY_OVERHEAD),
                    true,
                ),
                None => (0, false),
            })
        })
    }

    /// Adds `delta` to the decimal integer at `key` (missing: 0). Blocking.
    pub fn kv_increment(
        &self,
        bot: &str,
        key: &str,
        delta: i64,
        quota: &KvQuota,
    ) -> Result<i64, KvError> {
        quota.check_key(key)?;
        self.write(bot, quota, |entries, _| {
            let old = entries
                .get((bot, key))
                .map_err(st("read"))?
                .map(|v| v.value().to_vec());
            let (current, old_len) = match old {
                None => (0, None),
                Some(bytes) => (counter(key, &bytes)?, Some(bytes.len())),
            };
            let next = current.checked_add(delta).ok_or_else(|| {
                KvError::NotANumber(format!("`{key}`: {current} + {delta} overflows"))
            })?;
            let text = next.to_string();
            entries
                .insert((bot, key), text.as_bytes())
                .map_err(st("write"))?;
            Ok((growth(key, text.len(), old_len), next))
        })
    }

    /// Removes every entry of `bot`; how many there were. Blocking.
    pub fn kv_clear(&self, bot: &str) -> Result<usize, KvError> {
        // The keys are read inside the write transaction: a write between a
        // separate read and this one would be left behind, uncounted.
        let tx = self.db.begin_write().map_err(st("begin"))?;
        let removed = {
            let mut entries = tx.open_table(ENTRIES).map_err(st("write"))?;
            let mut keys = Vec::new();
            for item in entries.range((bot, "")..).map_err(st("read"))? {
                let (k, _) = item.map_err(st("read"))?;
                let (b, key) = k.value();
                if b != bot {
                    break;
                }
                keys.push(key.to_string());
            }
            for k in &keys {
                entries.remove((bot, k.as_str())).map_err(st("write"))?;
            }
            let mut usage = tx.open_table(USAGE).map_err(st("write"))?;
            usage.remove(bot).map_err(st("write"))?;
            keys.len()
        };
        tx.commit().map_err(st("commit"))?;
        Ok(removed)
    }

    /// The keys of `bot` that start with `prefix`, in byte order; more
    /// than `MAX_KEYS_LISTED` is refused (a bot pages with longer prefixes).
    pub fn kv_keys(&self, bot: &str, prefix: &str) -> Result<Vec<String>, KvError> {
        let entries = self.kv_entries_upto(bot, prefix, MAX_KEYS_LISTED + 1)?;
        if entries.len() > MAX_KEYS_LISTED {
            return Err(KvError::Quota(format!(
                "more than {MAX_KEYS_LISTED} keys start with {prefix:?}; list with a longer prefix"
            )));
        }
        Ok(entries.into_iter().map(|e| e.key).collect())
    }

    /// The entries of `bot` that start with `prefix`, with their sizes.
    pub fn kv_entries(&self, bot: &str, prefix: &str) -> Result<Vec<EntryInfo>, KvError> {
        self.kv_entries_upto(bot, prefix, usize::MAX)
    }

    /// As `kv_entries`, at most `limit` of them.
    pub fn kv_entries_upto(
        &self,
        bot: &str,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<EntryInfo>, KvError> {
        let tx = self.db.begin_read().map_err(st("read"))?;
        let t = tx.open_table(ENTRIES).map_err(st("read"))?;
        let mut out = Vec::new();
        for item in t.range((bot, prefix)..).map_err(st("read"))? {
            let (k, v) = item.map_err(st("read"))?;
            let (b, key) = k.value();
            if b != bot || !key.starts_with(prefix) || out.len() >= limit {
                break;
            }
            out.push(EntryInfo {
                key: key.to_string(),
                bytes: v.value().len(),
            });
        }
        Ok(out)
    }

    /// The bytes `bot`'s keys and values take.
    pub fn kv_usage(&self, bot: &str) -> Result<u64, KvError> {
        let tx = self.db.begin_read().map_err(st("read"))?;
        let t = tx.open_table(USAGE).map_err(st("read"))?;
        Ok(t.get(bot).map_err(st("read"))?.map_or(0, |v| v.value()))
    }

    /// Runs `change` on the entries in one write transaction; it returns
    /// how many bytes the bot's usage grows (negative: shrinks) and a
    /// result. Past `quota`'s total nothing is committed.
    fn write<T>(
        &self,
        bot: &str,
        quota: &KvQuota,
        change: impl FnOnce(
            &mut redb::Table<(&str, &str), &[u8]>,
            &KvQuota,
        ) -> Result<(i64, T), KvError>,
    ) -> Result<T, KvError> {
        let tx = self.db.begin_write().map_err(st("begin"))?;
        let out = {
            let mut entries = tx.open_table(ENTRIES).map_err(st("write"))?;
            let mut usage = tx.open_table(USAGE).map_err(st("write"))?;
            let (growth, out) = change(&mut entries, quota)?;
            if growth != 0 {
                let used = usage.get(bot).map_err(st("read"))?.map_or(0, |v| v.value());
                let next = used.saturating_add_signed(growth);
                if growth > 0 && next > quota.max_total_bytes {
                    // Dropping `tx` without committing aborts it.
                    return Err(KvError::Quota(format!(
                        "the bot's store would hold {next} bytes, over kv_max_total_bytes = {}",
                        quota.max_total_bytes
                    )));
                }
                if next == 0 {
                    usage.remove(bot).map_err(st("write"))?;
                } else {
                    usage.insert(bot, next).map_err(st("write"))?;
                }
            }
            out
        };
        tx.commit().map_err(st("commit"))?;
        Ok(out)
    }
}

/// The decimal integer a counter's value holds (`kv_increment`).
///
/// # Errors
/// `NotANumber` when the bytes are not one.
pub fn counter(key: &str, bytes: &[u8]) -> Result<i64, KvError> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .ok_or_else(|| {
            KvError::NotANumber(format!(
                "`{key}` holds {} bytes that are not a decimal integer",
                bytes.len()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_kept_per_bot_and_listed_by_prefix() {
        let (_d, s) = crate::storage::temp();
        let q = KvQuota::default();
        s.kv_set("a", "g/1/hi", b"hello", &q).unwrap();
        s.kv_set("a", "g/1/yo", b"x", &q).unwrap();
        s.kv_set("a", "g/2/hi", b"y", &q).unwrap();
        s.kv_set("ab", "g/1/zz", b"other bot", &q).unwrap();
        assert_eq!(
            s.kv_get("a", "g/1/hi").unwrap().as_deref(),
            Some(&b"hello"[..])
        );
        assert_eq!(s.kv_get("b", "g/1/hi").unwrap(), None);
        assert_eq!(s.kv_keys("a", "g/1/").unwrap(), ["g/1/hi", "g/1/yo"]);
        assert_eq!(s.kv_keys("a", "").unwrap().len(), 3);
        let o = ENTRY_OVERHEAD as u64;
        assert_eq!(
            s.kv_usage("a").unwrap(),
            (6 + 5) + (6 + 1) + (6 + 1) + 3 * o
        );
        assert!(s.kv_delete("a", "g/1/hi").unwrap());
        assert!(!s.kv_delete("a", "g/1/hi").unwrap());
        assert_eq!(s.kv_usage("a").unwrap(), 14 + 2 * o);
        assert_eq!(s.kv_clear("a").unwrap(), 2);
        assert_eq!(
            (s.kv_usage("a").unwrap(), s.kv_keys("a", "").unwrap().len()),
            (0, 0)
        );
        assert_eq!(s.kv_keys("ab", "").unwrap(), ["g/1/zz"]);
    }

    #[test]
    fn quotas_refuse_and_change_nothing() {
        let (_d, s) = crate::storage::temp();
        let q = KvQuota {
            max_key_bytes: 4,
            max_value_bytes: 8,
            max_total_bytes: 84,
        };
        assert!(matches!(
            s.kv_set("a", "", b"v", &q),
            Err(KvError::Quota(_))
        ));
        let long_key = s.kv_set("a", "12345", b"v", &q).unwrap_err();
        assert!(matches!(&long_key, KvError::Quota(t) if t.contains("kv_max_key_bytes = 4")));
        let big = s.kv_set("a", "k", &[0; 9], &q).unwrap_err();
        assert!(matches!(&big, KvError::Quota(t) if t.contains("kv_max_value_bytes = 8")));
        s.kv_set("a", "k1", b"12345678", &q).unwrap(); // 10 bytes
        s.kv_set("a", "k2", b"12345678", &q).unwrap(); // 20 bytes
        let full = s.kv_set("a", "k3", b"1", &q).unwrap_err();
        assert!(matches!(&full, KvError::Quota(t) if t.contains("kv_max_total_bytes = 84")));
        assert_eq!(s.kv_get("a", "k3").unwrap(), None);
        // Replacing with something smaller fits.
        s.kv_set("a", "k2", b"1", &q).unwrap();
        assert_eq!(s.kv_usage("a").unwrap(), 77);
    }

    #[test]
    fn increment_counts_in_decimal_text() {
        let (_d, s) = crate::storage::temp();
        let q = KvQuota::default();
        assert_eq!(s.kv_increment("a", "n", 5, &q).unwrap(), 5);
        assert_eq!(s.kv_increment("a", "n", -7, &q).unwrap(), -2);
        assert_eq!(s.kv_get("a", "n").unwrap().as_deref(), Some(&b"-2"[..]));
        s.kv_set("a", "t", b"text", &q).unwrap();
        assert!(matches!(
            s.kv_increment("a", "t", 1, &q),
            Err(KvError::NotANumber(_))
        ));
        s.kv_set("a", "m", i64::MAX.to_string().as_bytes(), &q)
            .unwrap();
        assert!(matches!(
            s.kv_increment("a", "m", 1, &q),
            Err(KvError::NotANumber(_))
        ));
        assert_eq!(
            s.kv_usage("a").unwrap(),
            (1 + 2) + (1 + 4) + (1 + 19) + 3 * ENTRY_OVERHEAD as u64
        );
    }

    #[test]
    fn data_survives_reopening() {
        let d = crate::storage::tempdir::TempDir::new();
        {
            let s = Storage::open(d.path()).unwrap();
            s.kv_set("a", "k", b"v", &KvQuota::default()).unwrap();
        }
        let s = Storage::open(d.path()).unwrap();
        assert_eq!(s.kv_get("a", "k").unwrap().as_deref(), Some(&b"v"[..]));
    }
}
