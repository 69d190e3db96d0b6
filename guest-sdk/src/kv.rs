//! The bot's durable key-value store.
//!
//! Keys are strings, values bytes. The store belongs to the bot's *name*: every
//! instance and every version of the bot sees the same data, and it survives
//! hot swaps, rebuilds after a trap and gateway restarts. A write is on disk
//! when the call returns. Unlike the fields of the bot type (a cache, rebuilt
//! with the instance), this is the place for what the bot must remember.
//!
//! ```no_run
//! use openqq_bot::kv;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Streak { last_day: i64, days: u32 }
//!
//! # fn demo() -> Result<(), kv::Error> {
//! kv::set_str("greeting", "早")?;
//! let visits = kv::increment("visits", 1)?; // stored as "1", "2", …
//! let streak: Option<Streak> = kv::get_json("streak/10001")?;
//! kv::set_json("streak/10001", &Streak { last_day: 19_700, days: 1 })?;
//! for key in kv::keys("streak/")? {
//!     kv::delete(&key)?;
//! }
//! # Ok(()) }
//! ```
//!
//! Quotas (the gateway's `kv_max_key_bytes`, default 256; `kv_max_value_bytes`,
//! 64 KiB; `kv_max_total_bytes`, 1 MiB of keys and values together) refuse a
//! write with [`Error::Quota`]; nothing is changed. A bot should tell its user
//! rather than trap.
//!
//! On native targets (`cargo test`) these calls go to the thread's
//! [`MockHost`](crate::testing::MockHost), an in-memory store with the same
//! rules.

use std::fmt;

#[cfg(target_arch = "wasm32")]
use crate::bindings::openqq::bot::kv as imp;
#[cfg(not(target_arch = "wasm32"))]
use crate::testing::kv as imp;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a KV call failed. Nothing was changed.
///
/// The first four are the gateway's answers (the WIT `kv.error`); the last two
/// are this SDK's, from [`get_json`]/[`get_str`] and [`set_json`], so a value
/// that does not decode is told apart from a store that failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// Over a quota; the text names it and its limit, e.g. `value is 70000
    /// bytes, over kv_max_value_bytes = 65536`.
    Quota(String),
    /// [`increment`] on a value that is not a decimal integer, or a sum that
    /// would overflow.
    NotANumber(String),
    /// The bot may not use the store (refused by the gateway).
    Denied(String),
    /// The store itself failed (disk full, I/O error).
    Store(String),
    /// The value at a key is not what the typed read expected (not JSON of
    /// that shape, not UTF-8). The text names the key.
    Decode(String),
    /// The value could not be turned into JSON (e.g. a map with non-string
    /// keys). Nothing was written.
    Encode(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Quota(t) => write!(f, "over quota: {t}"),
            Error::NotANumber(t) => write!(f, "not a number: {t}"),
            Error::Denied(t) => write!(f, "denied: {t}"),
            Error::Store(t) => write!(f, "store failed: {t}"),
            Error::Decode(t) => write!(f, "cannot decode: {t}"),
            Error::Encode(t) => write!(f, "cannot encode: {t}"),
        }
    }
}

impl std::error::Error for Error {}

/// The gateway's error as this SDK's.
#[cfg(target_arch = "wasm32")]
fn lift<T>(result: Result<T, imp::Error>) -> Result<T, Error> {
    result.map_err(|e| match e {
        imp::Error::Quota(t) => Error::Quota(t),
        imp::Error::NotANumber(t) => Error::NotANumber(t),
        imp::Error::Denied(t) => Error::Denied(t),
        imp::Error::Store(t) => Error::Store(t),
    })
}

/// The mock already answers with this SDK's error.
#[cfg(not(target_arch = "wasm32"))]
fn lift<T>(result: Result<T, Error>) -> Result<T, Error> {
    result
}

/// The value of `key`, or `None` when there is none.
///
/// # Errors
///
/// [`Error::Denied`] or [`Error::Store`].
pub fn get(key: &str) -> Result<Option<Vec<u8>>, Error> {
    lift(imp::get(key))
}

/// Sets `key` to `value`, replacing what was there.
///
/// # Errors
///
/// [`Error::Quota`] (key, value or total too big), [`Error::Denied`] or
/// [`Error::Store`]; nothing was changed.
pub fn set(key: &str, value: &[u8]) -> Result<(), Error> {
    lift(imp::set(key, value))
}

/// Removes `key`; `true` when it was there.
///
/// # Errors
///
/// [`Error::Denied`] or [`Error::Store`].
pub fn delete(key: &str) -> Result<bool, Error> {
    lift(imp::delete(key))
}

/// The keys that start with `prefix`, in byte order (all keys for `""`).
///
/// # Errors
///
/// [`Error::Denied`] or [`Error::Store`].
pub fn keys(prefix: &str) -> Result<Vec<String>, Error> {
    lift(imp::keys(prefix))
}

/// Adds `delta` to the integer stored at `key` (a missing key counts as 0)
/// and returns the new value, in one step no other call can split. The value
/// is stored as its decimal text (`"42"`), so [`get_str`] reads it too.
///
/// # Errors
///
/// [`Error::NotANumber`] when the value is not a decimal integer or the sum
/// overflows; [`Error::Quota`], [`Error::Denied`] or [`Error::Store`].
pub fn increment(key: &str, delta: i64) -> Result<i64, Error> {
    lift(imp::increment(key, delta))
}

/// The value of `key` as text, or `None` when there is none.
///
/// # Errors
///
/// [`Error::Decode`] when the value is not UTF-8; else as [`get`].
pub fn get_str(key: &str) -> Result<Option<String>, Error> {
    get(key)?
        .map(|bytes| {
            String::from_utf8(bytes)
                .map_err(|e| Error::Decode(format!("`{key}` is not UTF-8 text: {e}")))
        })
        .transpose()
}

/// Sets `key` to the text `value`.
///
/// # Errors
///
/// As [`set`].
pub fn set_str(key: &str, value: &str) -> Result<(), Error> {
    set(key, value.as_bytes())
}

/// The value of `key` decoded from JSON as `T`, or `None` when there is none.
///
/// # Errors
///
/// [`Error::Decode`] when the value is not JSON of `T`'s shape (e.g. written
/// by an older version of the bot with other fields: give new fields
/// `#[serde(default)]`); else as [`get`].
pub fn get_json<T: DeserializeOwned>(key: &str) -> Result<Option<T>, Error> {
    get(key)?
        .map(|bytes| {
            serde_json::from_slice(&bytes).map_err(|e| Error::Decode(format!("`{key}`: {e}")))
        })
        .transpose()
}

/// Sets `key` to `value` encoded as JSON.
///
/// # Errors
///
/// [`Error::Encode`] when `value` cannot be encoded (nothing is written);
/// else as [`set`].
pub fn set_json<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<(), Error> {
    let bytes = serde_json::to_vec(value).map_err(|e| Error::Encode(format!("`{key}`: {e}")))?;
    set(key, &bytes)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::testing::MockHost;
    use std::collections::BTreeMap;

    #[test]
    fn bytes_text_and_keys() {
        let _host = MockHost::new();
        assert_eq!(get("a"), Ok(None));
        set("a/2", b"two").unwrap();
        set_str("a/1", "one").unwrap();
        set("b", &[0xff]).unwrap();
        assert_eq!(get("a/2"), Ok(Some(b"two".to_vec())));
        assert_eq!(get_str("a/1"), Ok(Some("one".to_owned())));
        assert!(matches!(get_str("b"), Err(Error::Decode(t)) if t.contains("`b`")));
        assert_eq!(keys("a/"), Ok(vec!["a/1".to_owned(), "a/2".to_owned()]));
        assert_eq!(keys("").map(|k| k.len()), Ok(3));
        assert_eq!(delete("a/1"), Ok(true));
        assert_eq!(delete("a/1"), Ok(false));
        assert_eq!(keys("a/"), Ok(vec!["a/2".to_owned()]));
    }

    #[test]
    fn increment_stores_decimal_text() {
        let _host = MockHost::new();
        assert_eq!(increment("n", 5), Ok(5));
        assert_eq!(increment("n", -7), Ok(-2));
        assert_eq!(get_str("n"), Ok(Some("-2".to_owned())));
        set_str("n", " 40\n").unwrap();
        assert_eq!(increment("n", 2), Ok(42));
        set_str("t", "forty").unwrap();
        assert!(matches!(increment("t", 1), Err(Error::NotANumber(_))));
        assert_eq!(get_str("t"), Ok(Some("forty".to_owned())), "unchanged");
        set_str("max", &i64::MAX.to_string()).unwrap();
        assert!(
            matches!(increment("max", 1), Err(Error::NotANumber(t)) if t.contains("overflows"))
        );
    }

    #[test]
    fn json_round_trips_and_decode_errors_are_their_own() {
        let _host = MockHost::new();
        let mut scores = BTreeMap::new();
        scores.insert("alice".to_owned(), 3u32);
        set_json("scores", &scores).unwrap();
        assert_eq!(
            get_json::<BTreeMap<String, u32>>("scores"),
            Ok(Some(scores))
        );
        assert_eq!(get_json::<u32>("missing"), Ok(None));
        let err = get_json::<u32>("scores").unwrap_err();
        assert!(
            matches!(&err, Error::Decode(t) if t.starts_with("`scores`: ")),
            "{err}"
        );
        assert!(err.to_string().starts_with("cannot decode: "), "{err}");

        let mut bad = BTreeMap::new();
        bad.insert((1, 2), 3);
        assert!(matches!(set_json("bad", &bad), Err(Error::Encode(_))));
        assert_eq!(get("bad"), Ok(None));
    }

    #[test]
    fn quotas_refuse_and_change_nothing() {
        let host = MockHost::new();
        host.kv_quota(8, 84);
        let err = set("k", b"123456789").unwrap_err();
        assert_eq!(
            err,
            Error::Quota("value is 9 bytes, over kv_max_value_bytes = 8".to_owned())
        );
        assert_eq!(
            err.to_string(),
            "over quota: value is 9 bytes, over kv_max_value_bytes = 8"
        );
        set("k1", b"12345678").unwrap(); // 10 + 32 bytes (each entry's bookkeeping)
        set("k2", b"1234567").unwrap(); // 83 bytes
        assert!(
            matches!(set("k3", b"1"), Err(Error::Quota(t)) if t.contains("kv_max_total_bytes = 84"))
        );
        assert_eq!(get("k3"), Ok(None));
        // Replacing counts only the difference; deleting frees.
        set("k2", b"12345678").unwrap(); // 84 bytes
        assert_eq!(delete("k1"), Ok(true));
        set("k3", b"1").unwrap();
        host.kv_max_key_bytes(2);
        assert!(
            matches!(set("long", b""), Err(Error::Quota(t)) if t.contains("kv_max_key_bytes = 2"))
        );
        assert!(matches!(increment("long", 1), Err(Error::Quota(_))));
    }

    #[test]
    fn the_mock_can_refuse_or_fail() {
        let host = MockHost::new();
        set("k", b"v").unwrap();
        host.kv_fail(Some(Error::Denied("no kv for you".to_owned())));
        assert_eq!(get("k"), Err(Error::Denied("no kv for you".to_owned())));
        assert!(matches!(set("k", b"w"), Err(Error::Denied(_))));
        host.kv_fail(None);
        assert_eq!(get("k"), Ok(Some(b"v".to_vec())));
        assert_eq!(host.kv_entries(), vec![("k".to_owned(), b"v".to_vec())]);
    }
}
