//! The mock behind [`crate::kv`]: the gateway's rules and quotas, in
//! memory.

use std::collections::BTreeMap;

use super::{MockHost, with_state};
use crate::kv::Error;

/// The gateway's default quotas (`[limits] kv_max_*`).
const KV_MAX_KEY_BYTES: usize = 256;
const KV_MAX_VALUE_BYTES: usize = 64 << 10;
const KV_MAX_TOTAL_BYTES: u64 = 1 << 20;

pub(super) struct Kv {
    entries: BTreeMap<String, Vec<u8>>,
    max_key_bytes: usize,
    max_value_bytes: usize,
    max_total_bytes: u64,
    failure: Option<Error>,
}

impl Default for Kv {
    fn default() -> Self {
        Kv {
            entries: BTreeMap::new(),
            max_key_bytes: KV_MAX_KEY_BYTES,
            max_value_bytes: KV_MAX_VALUE_BYTES,
            max_total_bytes: KV_MAX_TOTAL_BYTES,
            failure: None,
        }
    }
}

impl MockHost {
    /// Sets the value and total quotas (`kv_max_value_bytes`,
    /// `kv_max_total_bytes`: keys and values of all entries), so a bot's
    /// handling of a full store is testable. Entries already stored stay.
    pub fn kv_quota(&self, max_value_bytes: usize, max_total_bytes: u64) {
        with_state(|s| {
            s.kv.max_value_bytes = max_value_bytes;
            s.kv.max_total_bytes = max_total_bytes;
        });
    }

    /// Sets the key quota (`kv_max_key_bytes`).
    pub fn kv_max_key_bytes(&self, max_key_bytes: usize) {
        with_state(|s| s.kv.max_key_bytes = max_key_bytes);
    }

    /// Makes every later KV call fail with `error` (e.g.
    /// [`Error::Denied`] or
    /// [`Error::Store`]); `None` undoes it.
    pub fn kv_fail(&self, error: Option<Error>) {
        with_state(|s| s.kv.failure = error);
    }

    /// Every entry of the store, in key order.
    pub fn kv_entries(&self) -> Vec<(String, Vec<u8>)> {
        with_state(|s| {
            s.kv.entries
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
    }

    /// The bytes of keys and values stored, as the total quota counts them.
    pub fn kv_used_bytes(&self) -> u64 {
        with_state(|s| kv_used(&s.kv))
    }
}

/// What each entry costs besides its key and value, as the gateway counts it
/// (`storage::kv::ENTRY_OVERHEAD`).
const ENTRY_OVERHEAD: u64 = 32;

fn kv_used(kv: &Kv) -> u64 {
    kv.entries
        .iter()
        .map(|(k, v)| (k.len() + v.len()) as u64 + ENTRY_OVERHEAD)
        .sum()
}

fn with_kv<T>(f: impl FnOnce(&mut Kv) -> Result<T, Error>) -> Result<T, Error> {
    with_state(|s| match &s.kv.failure {
        Some(e) => Err(e.clone()),
        None => f(&mut s.kv),
    })
}

fn check_key(kv: &Kv, key: &str) -> Result<(), Error> {
    if key.is_empty() {
        return Err(Error::Quota("a key must not be empty".to_string()));
    }
    if key.len() > kv.max_key_bytes {
        return Err(Error::Quota(format!(
            "key is {} bytes, over kv_max_key_bytes = {}",
            key.len(),
            kv.max_key_bytes
        )));
    }
    Ok(())
}

/// Stores `value` at `key` if the quotas allow it.
fn put(kv: &mut Kv, key: &str, value: Vec<u8>) -> Result<(), Error> {
    check_key(kv, key)?;
    if value.len() > kv.max_value_bytes {
        return Err(Error::Quota(format!(
            "value is {} bytes, over kv_max_value_bytes = {}",
            value.len(),
            kv.max_value_bytes
        )));
    }
    let old = kv
        .entries
        .get(key)
        .map_or(0, |v| (key.len() + v.len()) as u64 + ENTRY_OVERHEAD);
    let next = kv_used(kv) - old + (key.len() + value.len()) as u64 + ENTRY_OVERHEAD;
    if next > kv.max_total_bytes && next > kv_used(kv) {
        return Err(Error::Quota(format!(
            "the bot's store would hold {next} bytes, over kv_max_total_bytes = {}",
            kv.max_total_bytes
        )));
    }
    kv.entries.insert(key.to_owned(), value);
    Ok(())
}

pub(crate) fn get(key: &str) -> Result<Option<Vec<u8>>, Error> {
    with_kv(|kv| Ok(kv.entries.get(key).cloned()))
}

pub(crate) fn set(key: &str, value: &[u8]) -> Result<(), Error> {
    with_kv(|kv| put(kv, key, value.to_vec()))
}

pub(crate) fn delete(key: &str) -> Result<bool, Error> {
    with_kv(|kv| Ok(kv.entries.remove(key).is_some()))
}

pub(crate) fn keys(prefix: &str) -> Result<Vec<String>, Error> {
    with_kv(|kv| {
        Ok(kv
            .entries
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| k.clone())
            .collect())
    })
}

pub(crate) fn increment(key: &str, delta: i64) -> Result<i64, Error> {
    with_kv(|kv| {
        check_key(kv, key)?;
        let current = match kv.entries.get(key) {
            None => 0,
            Some(bytes) => std::str::from_utf8(bytes)
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .ok_or_else(|| {
                    Error::NotANumber(format!(
                        "`{key}` holds {} bytes that are not a decimal integer",
                        bytes.len()
                    ))
                })?,
        };
        let next = current
            .checked_add(delta)
            .ok_or_else(|| Error::NotANumber(format!("`{key}`: {current} + {delta} overflows")))?;
        put(kv, key, next.to_string().into_bytes())?;
        Ok(next)
    })
}
