//! The `openqq:bot/kv` and `openqq:bot/timers` imports (0.2.0): a bot's own
//! durable store and its timers, each call bounded by the bot's quotas.
//!
//! Reads answer at once (redb's readers never wait for a writer); writes
//! wait for the disk off the async runtime and off the guest's clock
//! (`BotState::off_clock`). Every refusal is an `Err` the bot sees.

use super::bindings::v2::openqq::bot::{kv, timers};
use super::limits::MAX_WRITES_PER_CALL;
use super::state::BotState;
use crate::storage::KvError;
use crate::timers::{Declared, MAX_DECLARED, Schedule, check_name};

fn to_wit(e: KvError) -> kv::Error {
    match e {
        KvError::Quota(t) => kv::Error::Quota(t),
        KvError::NotANumber(t) => kv::Error::NotANumber(t),
        KvError::Store(t) => kv::Error::Store(t),
    }
}

impl BotState {
    /// Counts one database write of this call; past the cap, why not.
    fn admit_write(&mut self) -> Result<(), String> {
        self.writes = self.writes.saturating_add(1);
        if self.writes > MAX_WRITES_PER_CALL {
            return Err(format!(
                "too many writes in one call (at most {MAX_WRITES_PER_CALL})"
            ));
        }
        Ok(())
    }
}

impl kv::Host for BotState {
    fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, kv::Error> {
        let storage = self.host.timers.storage();
        match &self.dry_run {
            Some(d) => d.get(storage, &self.host.script, &key),
            None => storage.kv_get(&self.host.script, &key),
        }
        .map_err(to_wit)
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), kv::Error> {
        self.admit_write().map_err(kv::Error::Quota)?;
        let (storage, bot, quota) = self.kv_parts();
        if let Some(d) = &mut self.dry_run {
            return d.set(key, value, &quota).map_err(to_wit);
        }
        self.off_clock(move || storage.kv_set(&bot, &key, &value, &quota))
            .await
            .map_err(kv::Error::Store)?
            .map_err(to_wit)
    }

    async fn delete(&mut self, key: String) -> Result<bool, kv::Error> {
        self.admit_write().map_err(kv::Error::Quota)?;
        let (storage, bot, _) = self.kv_parts();
        if let Some(d) = &mut self.dry_run {
            return d.delete(&storage, &bot, key).map_err(to_wit);
        }
        self.off_clock(move || storage.kv_delete(&bot, &key))
            .await
            .map_err(kv::Error::Store)?
            .map_err(to_wit)
    }

    fn keys(&mut self, prefix: String) -> Result<Vec<String>, kv::Error> {
        let storage = self.host.timers.storage();
        match &self.dry_run {
            Some(d) => d.keys(storage, &self.host.script, &prefix),
            None => storage.kv_keys(&self.host.script, &prefix),
        }
        .map_err(to_wit)
    }

    async fn increment(&mut self, key: String, delta: i64) -> Result<i64, kv::Error> {
        self.admit_write().map_err(kv::Error::Quota)?;
        let (storage, bot, quota) = self.kv_parts();
        if let Some(d) = &mut self.dry_run {
            return d
                .increment(&storage, &bot, key, delta, &quota)
                .map_err(to_wit);
        }
        self.off_clock(move || storage.kv_increment(&bot, &key, delta, &quota))
            .await
            .map_err(kv::Error::Store)?
            .map_err(to_wit)
    }
}

impl BotState {
    /// What a blocking KV write needs, owned.
    fn kv_parts(
        &self,
    ) -> (
        std::sync::Arc<crate::storage::Storage>,
        std::sync::Arc<str>,
        crate::storage::KvQuota,
    ) {
        (
            self.host.timers.storage().clone(),
            self.host.script.clone(),
            self.host.sandbox.kv,
        )
    }

    /// Keeps a declaration made in `init`.
    fn declare(&mut self, name: String, schedule: Result<Schedule, String>) -> Result<(), String> {
        if !self.in_init {
            return Err(
                "timers are declared in init; while handling a message, set a one-shot timer with `after`"
                    .to_string(),
            );
        }
        check_name(&name)?;
        let schedule = schedule?;
        self.declared.retain(|d| d.name != name);
        if self.declared.len() >= MAX_DECLARED {
            return Err(format!("at most {MAX_DECLARED} timers may be declared"));
        }
        self.declared.push(Declared { name, schedule });
        Ok(())
    }
}

impl timers::Host for BotState {
    fn every(&mut self, name: String, interval_ms: u64) -> Result<(), String> {
        self.declare(name, Schedule::every(interval_ms))
    }

    fn cron(&mut self, name: String, expression: String) -> Result<(), String> {
        self.declare(name, Schedule::cron(&expression))
    }

    async fn after(&mut self, name: String, delay_ms: u64, payload: String) -> Result<(), String> {
        self.admit_write()?;
        if let Some(d) = &mut self.dry_run {
            check_name(&name)?;
            d.timer_set(&name, delay_ms);
            return Ok(());
        }
        let timers = self.host.timers.clone();
        let bot = self.host.script.clone();
        let max = self.host.sandbox.timers_max_pending;
        // Set while handling a chat, its call may send back there.
        let chat = self.handling.chat;
        self.off_clock(move || timers.set_after(&bot, &name, delay_ms, &payload, chat, max))
            .await?
    }

    async fn cancel(&mut self, name: String) -> bool {
        if self.admit_write().is_err() {
            return false;
        }
        if let Some(d) = &mut self.dry_run {
            d.timer_cancelled(&name);
            return self
                .host
                .timers
                .pending(&self.host.script)
                .iter()
                .any(|p| p.name == name);
        }
        let timers = self.host.timers.clone();
        let bot = self.host.script.clone();
        match self.off_clock(move || timers.cancel(&bot, &name)).await {
            Ok(Ok(removed)) => removed,
            Ok(Err(e)) | Err(e) => {
                tracing::error!(script = %self.host.script, error = %e, "cannot cancel a timer");
                false
            }
        }
    }
}
