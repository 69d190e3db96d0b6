//! A dry run's view of a bot's store and timers (`/admin/dry-run`): what the
//! call writes is kept here, apart, for the call only. Reads in the same
//! call see the writes over the database (a bot that increments then reads
//! a counter gets the number it would get), the database never sees them,
//! and one-shot timers are neither set nor cancelled. The trace says what
//! was kept apart.
//!
//! Suppressing was chosen over letting a dry run write: an operator trying
//! a message must not change what the bot answers real users later (a
//! "first message today" flag, a quota counter), and a timer set by a dry
//! run would fire for real.

use std::collections::BTreeMap;

use crate::storage::{KvError, KvQuota, Storage, kv::counter};

/// A dry-run call's writes: key → value (`None`: deleted).
#[derive(Debug, Default)]
pub struct DryStore {
    entries: BTreeMap<String, Option<Vec<u8>>>,
    /// What was kept from the store and the timers, in order, for the trace.
    kept: Vec<String>,
}

impl DryStore {
    pub fn get(&self, storage: &Storage, bot: &str, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        match self.entries.get(key) {
            Some(v) => Ok(v.clone()),
            None => storage.kv_get(bot, key),
        }
    }

    pub fn set(&mut self, key: String, value: Vec<u8>, quota: &KvQuota) -> Result<(), KvError> {
        quota.check_key(&key)?;
        quota.check_value(value.len())?;
        self.kept.push(format!("set `{key}`"));
        self.entries.insert(key, Some(value));
        Ok(())
    }

    pub fn delete(&mut self, storage: &Storage, bot: &str, key: String) -> Result<bool, KvError> {
        let was = self.get(storage, bot, &key)?.is_some();
        self.kept.push(format!("delete `{key}`"));
        self.entries.insert(key, None);
        Ok(was)
    }

    pub fn increment(
        &mut self,
        storage: &Storage,
        bot: &str,
        key: String,
        delta: i64,
        quota: &KvQuota,
    ) -> Result<i64, KvError> {
        quota.check_key(&key)?;
        let current = match self.get(storage, bot, &key)? {
            Some(bytes) => counter(&key, &bytes)?,
            None => 0,
        };
        let next = current.checked_add(delta).ok_or_else(|| {
            KvError::NotANumber(format!("`{key}`: {current} + {delta} overflows"))
        })?;
        self.kept.push(format!("increment `{key}` to {next}"));
        self.entries
            .insert(key, Some(next.to_string().into_bytes()));
        Ok(next)
    }

    /// The database's keys under `prefix` with this call's writes applied.
    pub fn keys(&self, storage: &Storage, bot: &str, prefix: &str) -> Result<Vec<String>, KvError> {
        let mut keys: std::collections::BTreeSet<String> =
            storage.kv_keys(bot, prefix)?.into_iter().collect();
        for (k, v) in self.entries.range(prefix.to_string()..) {
            if !k.starts_with(prefix) {
                break;
            }
            match v {
                Some(_) => keys.insert(k.clone()),
                None => keys.remove(k),
            };
        }
        Ok(keys.into_iter().collect())
    }

    /// A one-shot timer the call would have set.
    pub fn timer_set(&mut self, name: &str, delay_ms: u64) {
        self.kept.push(format!("timer `{name}` in {delay_ms} ms"));
    }

    /// A one-shot timer the call would have cancelled.
    pub fn timer_cancelled(&mut self, name: &str) {
        self.kept.push(format!("cancel timer `{name}`"));
    }

    /// One line for the trace, when anything was kept apart.
    pub fn summary(&self, bot: &str) -> Option<String> {
        (!self.kept.is_empty()).then(|| {
            format!(
                "{bot}'s store and timers left untouched ({})",
                self.kept.join(", ")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_seen_by_the_call_and_never_reach_the_database() {
        let (_dir, st) = crate::storage::temp();
        let q = KvQuota::default();
        st.kv_set("bot", "n", b"41", &q).expect("set");
        st.kv_set("bot", "gone", b"x", &q).expect("set");
        let mut d = DryStore::default();
        assert_eq!(d.increment(&st, "bot", "n".into(), 1, &q).expect("inc"), 42);
        d.set("new".into(), b"v".to_vec(), &q).expect("set");
        assert!(d.delete(&st, "bot", "gone".into()).expect("delete"));
        assert_eq!(d.get(&st, "bot", "n").expect("get"), Some(b"42".to_vec()));
        assert_eq!(d.get(&st, "bot", "gone").expect("get"), None);
        assert_eq!(d.keys(&st, "bot", "").expect("keys"), ["n", "new"]);
        // The database is as it was.
        assert_eq!(st.kv_get("bot", "n").expect("get"), Some(b"41".to_vec()));
        assert_eq!(st.kv_get("bot", "new").expect("get"), None);
        assert_eq!(st.kv_keys("bot", "").expect("keys"), ["gone", "n"]);
        let said = d.summary("bot").expect("a summary");
        assert!(said.contains("increment `n` to 42"), "{said}");
    }
}
