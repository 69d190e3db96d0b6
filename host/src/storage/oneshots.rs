//! Pending one-shot timers (`timers.after`): `(bot, name) → (due, seq,
//! payload)`, written before `after` returns so a timer survives a crash
//! and fires late rather than never.
//!
//! `seq` tells a timer from a later one of the same name: a timer that
//! fired is removed only if it was not set again meanwhile.

use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use super::{Storage, store_error};

/// `(bot, name) → (due in ms since the Unix epoch, seq, payload)`.
pub(super) const TABLE: TableDefinition<(&str, &str), (u64, u64, &str)> =
    TableDefinition::new("timers");

/// `(bot, name) → (chat kind, chat number)`: the chat a timer was set in,
/// when it was set while handling one (its call may send back there).
/// A table of its own, so databases written before it keep opening.
pub(super) const CHATS: TableDefinition<(&str, &str), (u8, u64)> =
    TableDefinition::new("timer_chats");

/// A chat as stored: a kind code and a number (see `grants::Chat`).
pub type StoredChat = (u8, u64);

/// A pending one-shot timer, without its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub bot: String,
    pub name: String,
    pub due_ms: u64,
    pub seq: u64,
}

fn st<E: Into<redb::Error>>(what: &'static str) -> impl Fn(E) -> String {
    move |e| store_error(what, e.into())
}

impl Storage {
    /// Sets (or replaces) `bot`'s one-shot timer `name`, unless the bot
    /// already has `max_pending` others. Blocking (it waits for the disk).
    pub fn oneshot_put(
        &self,
        bot: &str,
        name: &str,
        due_ms: u64,
        payload: &str,
        chat: Option<StoredChat>,
        max_pending: usize,
    ) -> Result<Pending, String> {
        let seq = self
            .next_seq
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tx = self.db.begin_write().map_err(st("begin"))?;
        {
            let mut t = tx.open_table(TABLE).map_err(st("write"))?;
            let replacing = t.get((bot, name)).map_err(st("read"))?.is_some();
            if !replacing {
                let mut count = 0usize;
                for item in t.range((bot, "")..).map_err(st("read"))? {
                    let (k, _) = item.map_err(st("read"))?;
                    if k.value().0 != bot {
                        break;
                    }
                    count += 1;
                }
                if count >= max_pending {
                    return Err(format!(
                        "{count} one-shot timers are pending, at most timers_max_pending = {max_pending}"
                    ));
                }
            }
            t.insert((bot, name), (due_ms, seq, payload))
                .map_err(st("write"))?;
            let mut chats = tx.open_table(CHATS).map_err(st("write"))?;
            match chat {
                Some(c) => chats.insert((bot, name), c).map(|_| ()),
                None => chats.remove((bot, name)).map(|_| ()),
            }
            .map_err(st("write"))?;
        }
        tx.commit().map_err(st("commit"))?;
        Ok(Pending {
            bot: bot.to_string(),
            name: name.to_string(),
            due_ms,
            seq,
        })
    }

    /// Removes `bot`'s timer `name` — only the one numbered `seq` when
    /// given (a timer that fired, unless set again meanwhile). Whether one
    /// was removed. Blocking.
    pub fn oneshot_remove(&self, bot: &str, name: &str, seq: Option<u64>) -> Result<bool, String> {
        let tx = self.db.begin_write().map_err(st("begin"))?;
        let removed = {
            let mut t = tx.open_table(TABLE).map_err(st("write"))?;
            let current = t.get((bot, name)).map_err(st("read"))?.map(|v| v.value().1);
            match (current, seq) {
                (None, _) => false,
                (Some(c), Some(s)) if c != s => false,
                _ => {
                    t.remove((bot, name)).map_err(st("write"))?;
                    let mut chats = tx.open_table(CHATS).map_err(st("write"))?;
                    chats.remove((bot, name)).map_err(st("write"))?;
                    true
                }
            }
        };
        tx.commit().map_err(st("commit"))?;
        Ok(removed)
    }

    /// The payload of `bot`'s timer `name`, and the chat it was set in,
    /// if it is still the one numbered `seq`.
    pub fn oneshot_payload(
        &self,
        bot: &str,
        name: &str,
        seq: u64,
    ) -> Result<Option<(String, Option<StoredChat>)>, String> {
        let tx = self.db.begin_read().map_err(st("read"))?;
        let t = tx.open_table(TABLE).map_err(st("read"))?;
        let Some(v) = t.get((bot, name)).map_err(st("read"))? else {
            return Ok(None);
        };
        let (_, s, payload) = v.value();
        if s != seq {
            return Ok(None);
        }
        let chats = tx.open_table(CHATS).map_err(st("read"))?;
        let chat = chats
            .get((bot, name))
            .map_err(st("read"))?
            .map(|c| c.value());
        Ok(Some((payload.to_string(), chat)))
    }

    /// Every pending one-shot timer (read once at start).
    pub fn oneshots(&self) -> Result<Vec<Pending>, String> {
        let tx = self.db.begin_read().map_err(st("read"))?;
        let t = tx.open_table(TABLE).map_err(st("read"))?;
        let mut out = Vec::new();
        for item in t.iter().map_err(st("read"))? {
            let (k, v) = item.map_err(st("read"))?;
            let (bot, name) = k.value();
            let (due_ms, seq, _) = v.value();
            out.push(Pending {
                bot: bot.to_string(),
                name: name.to_string(),
                due_ms,
                seq,
            });
        }
        Ok(out)
    }

    /// The highest sequence number in use (0 when none).
    pub(super) fn max_seq(&self) -> anyhow::Result<u64> {
        let all = self.oneshots().map_err(anyhow::Error::msg)?;
        Ok(all.iter().map(|p| p.seq).max().unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_are_replaced_by_name_and_removed_only_if_unchanged() {
        let (_d, s) = crate::storage::temp();
        let first = s.oneshot_put("a", "t", 10, "one", None, 10).unwrap();
        let second = s
            .oneshot_put("a", "t", 20, "two", Some((1, 552603)), 10)
            .unwrap();
        assert_ne!(first.seq, second.seq);
        assert_eq!(s.oneshot_payload("a", "t", first.seq).unwrap(), None);
        assert_eq!(
            s.oneshot_payload("a", "t", second.seq).unwrap(),
            Some(("two".to_string(), Some((1, 552603))))
        );
        // The first firing must not remove the second.
        assert!(!s.oneshot_remove("a", "t", Some(first.seq)).unwrap());
        assert_eq!(s.oneshots().unwrap().len(), 1);
        assert!(s.oneshot_remove("a", "t", Some(second.seq)).unwrap());
        assert!(s.oneshots().unwrap().is_empty());
    }

    #[test]
    fn pending_timers_are_capped_per_bot() {
        let (_d, s) = crate::storage::temp();
        s.oneshot_put("a", "1", 1, "", None, 2).unwrap();
        s.oneshot_put("a", "2", 1, "", None, 2).unwrap();
        s.oneshot_put("b", "1", 1, "", None, 2).unwrap();
        let e = s.oneshot_put("a", "3", 1, "", None, 2).unwrap_err();
        assert!(e.contains("timers_max_pending = 2"), "{e}");
        // Replacing one is not one more.
        s.oneshot_put("a", "2", 5, "again", None, 2).unwrap();
    }

    #[test]
    fn timers_and_their_numbers_survive_reopening() {
        let d = crate::storage::tempdir::TempDir::new();
        let seq = {
            let s = Storage::open(d.path()).unwrap();
            s.oneshot_put("a", "t", 42, "p", None, 10).unwrap().seq
        };
        let s = Storage::open(d.path()).unwrap();
        let all = s.oneshots().unwrap();
        assert_eq!(all[0].due_ms, 42);
        assert!(s.oneshot_put("a", "u", 1, "", None, 10).unwrap().seq > seq);
    }
}
