//! Smart reply: answers the messages addressed to the bot with a chat
//! model behind an OpenAI-compatible API, remembering a short history per
//! chat.
//!
//! Config, in the bot's `[[scripts]]` entry of the gateway's config (see
//! this directory's README.md):
//!
//! ```toml
//! [[scripts]]
//! path = "target/bots/smart-reply.wasm"
//! http = ["https://api.openai.com"]      # the grant: the origin it may call
//! wall_ms = 30000                        # room for a slow answer
//! config = { base_url = "https://api.openai.com", model = "gpt-4o-mini", api_key = "sk-…" }
//! ```
//!
//! - `base_url`, `model` (required): it asks `POST {base_url}/v1/chat/completions`.
//! - `api_key`: sent as `Authorization: Bearer …` when set (a local server
//!   needs none).
//! - `system_prompt`: the first message of every request.
//! - `prefix` (`/ai`): a message starting with it is a question; so is one
//!   that mentions the account (`@<its name>`). `""`: mentions only.
//! - `max_history` (5): question-and-answer exchanges kept per chat and sent
//!   with the next question; 0 keeps none.
//! - `cooldown_seconds` (10): per asker, between questions. A question too
//!   soon is answered once with how long to wait, then taken silently.
//! - `max_reply_chars` (1000): longer answers are cut.
//! - `apology`: the reply when there is no answer (the request was denied,
//!   timed out, failed or got no completion); `""` passes the message on
//!   instead. Why is logged as a warning, at most once a minute.
//!
//! Addressed messages are answered in their own chat (a reply, which needs
//! no grant); others pass untouched. In groups and discussions the
//! question goes to the model as `<sender name>: <question>`, so it can tell
//! people apart in the shared history.

mod address;
mod cooldown;
pub mod history;
pub mod llm;

use std::time::Duration;

use openqq_bot::{Bot, ChatKind, Config, Decision, Level, Message, Throttle, host};

use cooldown::{Cooldown, Verdict};
use history::{Role, Turn};
use llm::Llm;

pub const DEFAULT_PREFIX: &str = "/ai";
pub const DEFAULT_SYSTEM_PROMPT: &str = "你是 QQ 聊天里的助手，回答简短、友好。\
     You are an assistant in a QQ chat: answer briefly and kindly, in the asker's language.";
pub const DEFAULT_MAX_HISTORY: usize = 5;
pub const DEFAULT_COOLDOWN_SECONDS: u64 = 10;
pub const DEFAULT_MAX_REPLY_CHARS: usize = 1000;
pub const DEFAULT_APOLOGY: &str =
    "抱歉，我现在答不上来，请稍后再试。/ Sorry, I cannot answer right now.";

/// The smart-reply bot.
#[derive(Debug)]
pub struct SmartReply {
    llm: Llm,
    system_prompt: String,
    prefix: String,
    max_history: usize,
    cooldown: Cooldown,
    max_reply_chars: usize,
    apology: String,
    /// Warnings that could otherwise come with every message.
    no_answer: Throttle,
    store_trouble: Throttle,
}

impl Bot for SmartReply {
    fn init(config: &Config) -> Result<Self, String> {
        let base_url: String = config.require("base_url")?;
        if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
            return Err(format!(
                "config `base_url` = {base_url:?}: want http://… or https://…"
            ));
        }
        let model: String = config.require("model")?;
        let api_key = config
            .get("api_key")
            .map(str::trim)
            .filter(|k| !k.is_empty());
        let max_history = config.parse_or("max_history", DEFAULT_MAX_HISTORY)?;
        if max_history > 50 {
            return Err(format!("config `max_history` = {max_history}: at most 50"));
        }
        let cooldown_seconds: u64 =
            config.parse_or("cooldown_seconds", DEFAULT_COOLDOWN_SECONDS)?;
        if cooldown_seconds > 86_400 {
            return Err(format!(
                "config `cooldown_seconds` = {cooldown_seconds}: at most 86400 (a day)"
            ));
        }
        let max_reply_chars = config.parse_or("max_reply_chars", DEFAULT_MAX_REPLY_CHARS)?;
        if !(1..=4500).contains(&max_reply_chars) {
            return Err(format!(
                "config `max_reply_chars` = {max_reply_chars}: want 1 to 4500 (QQ's limit)"
            ));
        }
        let llm = Llm::new(&base_url, model.trim(), api_key);
        let prefix = config.get_or("prefix", DEFAULT_PREFIX).to_owned();
        openqq_bot::info!(
            "smart-reply: asking `{}` at {} ({}), prefix {prefix:?}, {max_history} exchanges kept",
            llm.model,
            llm.url,
            if api_key.is_some() {
                "with a key"
            } else {
                "no key"
            },
        );
        Ok(SmartReply {
            llm,
            system_prompt: config
                .get_or("system_prompt", DEFAULT_SYSTEM_PROMPT)
                .to_owned(),
            prefix,
            max_history,
            cooldown: Cooldown::new(cooldown_seconds * 1000),
            max_reply_chars,
            apology: config.get_or("apology", DEFAULT_APOLOGY).to_owned(),
            no_answer: Throttle::new(Duration::from_secs(60)),
            store_trouble: Throttle::new(Duration::from_secs(60)),
        })
    }

    fn on_message(&mut self, msg: &Message) -> Option<Decision> {
        let question = address::question(msg, &self.prefix)?;
        let asker = msg
            .sender_qq()
            .map_or_else(|| msg.sender_id().to_owned(), |qq| qq.to_string());
        match self.cooldown.check(&asker, host::now_ms()) {
            Verdict::Go => {}
            Verdict::Wait { seconds, tell } => {
                openqq_bot::debug!("smart-reply: {asker} asked again {seconds} s too soon");
                // Taken either way: the question was for this bot.
                return Some(if tell {
                    Decision::reply(format!("请 {seconds} 秒后再问 / please wait {seconds} s"))
                } else {
                    Decision::default()
                });
            }
        }
        self.answer(msg, &question)
    }
}

impl SmartReply {
    /// Asks the model, keeps the exchange, and replies with the answer; or
    /// with the apology, or passes when that is empty.
    fn answer(&mut self, msg: &Message, question: &str) -> Option<Decision> {
        let key = history::key(msg);
        let mut turns = self.load_history(key.as_deref());
        let said = match msg.kind {
            ChatKind::Group | ChatKind::Discuss => format!("{}: {question}", msg.sender_name()),
            ChatKind::Friend | ChatKind::Sess => question.to_owned(),
        };
        turns.push(Turn::new(Role::User, said));
        let mut messages = Vec::with_capacity(turns.len() + 1);
        messages.push(Turn::new(Role::System, self.system_prompt.as_str()));
        messages.extend(turns.iter().cloned());
        let answer = match self.llm.complete(&messages) {
            Ok(answer) => cut(&answer, self.max_reply_chars),
            Err(why) => {
                self.no_answer.log(
                    Level::Warn,
                    &format!("smart-reply: no answer for message {}: {why}", msg.id),
                );
                return (!self.apology.is_empty()).then(|| Decision::reply(&self.apology));
            }
        };
        turns.push(Turn::new(Role::Assistant, answer.as_str()));
        if let Some(key) = key.filter(|_| self.max_history > 0)
            && let Err(e) = history::save(&key, &turns, self.max_history)
        {
            self.store_trouble.log(
                Level::Warn,
                &format!("smart-reply: history `{key}` not kept: {e}"),
            );
        }
        Some(Decision::reply(answer))
    }

    /// The chat's history; empty (and a warning) when it cannot be read.
    fn load_history(&mut self, key: Option<&str>) -> Vec<Turn> {
        let Some(key) = key.filter(|_| self.max_history > 0) else {
            return Vec::new();
        };
        history::load(key).unwrap_or_else(|e| {
            self.store_trouble.log(
                Level::Warn,
                &format!("smart-reply: history `{key}` not read: {e}"),
            );
            Vec::new()
        })
    }
}

/// `text` cut to `max` characters, with `…` when cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

openqq_bot::export_bot!(SmartReply);

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
