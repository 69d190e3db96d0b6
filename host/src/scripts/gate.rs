//! The swap gate (`[[scripts]] gate = "replay:N"` or `"replay:N:same"`):
//! before a new version of a bot takes over, it decides the last N
//! journaled messages of the bot's chats in a scratch instance
//! (`replay.rs`: nothing reaches QQ, the KV or the web). A trap or a
//! timeout rejects it; with `same`, so does any message the running
//! version (replayed the same way) decides differently.
//!
//! It runs in the reloader's task, not in a lane: while it runs, the old
//! version keeps serving and other bots' messages are not held up.

use std::path::Path;
use std::sync::Arc;

use super::loaded::LoadedScript;
use super::replay::{self, Outcome, chat_label, snippet};
use crate::config::Gate;
use crate::model::InboundMessage;
use crate::session::SessionHandle;

/// How many failing or differing messages a rejection names.
const SHOWN: usize = 3;

/// Runs `gate` on `new` against the running version `old`; `Err` says
/// why the new version is rejected, naming the first messages at fault.
pub async fn check(
    gate: Gate,
    journal: Option<&Path>,
    new: &Arc<LoadedScript>,
    old: &Arc<LoadedScript>,
    session: &SessionHandle,
) -> Result<String, String> {
    // `Config::check` refuses a gate without a journal.
    let Some(path) = journal.map(Path::to_path_buf) else {
        return Err(format!(
            "gate {gate}: no [journal] path is set, so there is nothing to replay"
        ));
    };
    let scratch_new = replay::scratch_copy(new).map_err(|e| format!("gate {gate}: {e:#}"))?;
    let messages = {
        let keep = scratch_new.clone();
        let last = gate.last;
        let read = tokio::task::spawn_blocking(move || {
            if !path.exists() {
                return Ok(Vec::new());
            }
            crate::journal::read(&path, last, |m| replay::listens(&keep, m))
        })
        .await
        .map_err(|e| format!("gate {gate}: reading the journal failed: {e}"))?;
        read.map_err(|e| format!("gate {gate}: {e:#}"))?
    };
    if messages.is_empty() {
        tracing::info!(script = %new.name, %gate, "swap gate: no journaled messages of this bot's chats; nothing to replay");
        return Ok(format!("gate {gate}: no journaled messages to replay"));
    }
    let outcomes = replay::run(&scratch_new, session, &messages)
        .await
        .map_err(|e| format!("gate {gate}: in a scratch instance: {e}"))?;
    let failed: Vec<String> = messages
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| matches!(o, Outcome::Failed(_)))
        .map(|(m, o)| format!("{}: {o}", about(m)))
        .collect();
    if !failed.is_empty() {
        return Err(format!(
            "gate {gate}: failed on {} of {} journaled messages: {}",
            failed.len(),
            messages.len(),
            first(&failed)
        ));
    }
    if gate.same {
        let scratch_old = replay::scratch_copy(old).map_err(|e| format!("gate {gate}: {e:#}"))?;
        match replay::run(&scratch_old, session, &messages).await {
            Ok(before) => {
                let differ: Vec<String> = messages
                    .iter()
                    .zip(before.iter().zip(&outcomes))
                    .filter(|(_, (b, a))| !a.same_as(b))
                    .map(|(m, (b, a))| format!("{}: {b} → {a}", about(m)))
                    .collect();
                if !differ.is_empty() {
                    return Err(format!(
                        "gate {gate}: {} of {} journaled messages decided differently from the running version: {}",
                        differ.len(),
                        messages.len(),
                        first(&differ)
                    ));
                }
            }
            // A running version that cannot start again cannot be
            // compared with: the new one's own run decides.
            Err(e) => {
                tracing::warn!(script = %new.name, %gate, "swap gate: the running version cannot run in a scratch instance ({e}); decisions not compared");
            }
        }
    }
    let passed = format!(
        "gate {gate}: passed on {} journaled messages",
        messages.len()
    );
    tracing::info!(script = %new.name, "{passed}");
    Ok(passed)
}

/// `#<id> <chat> "<content>"`.
fn about(m: &InboundMessage) -> String {
    format!("#{} {} {:?}", m.id, chat_label(m), snippet(&m.content, 40))
}

/// The first `SHOWN` items, `; `-separated, with how many more.
fn first(items: &[String]) -> String {
    let mut text = items
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if items.len() > SHOWN {
        text.push_str(&format!("; and {} more", items.len() - SHOWN));
    }
    text
}
