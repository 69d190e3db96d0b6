//! Workers' answers: the post_api answer shape plus the report's id, on
//! `<prefix>.<account>.answer`, as request/reply.
//!
//! ```json
//! {"report": "1234567-1765000000000-m10001", "reply": "hi", "shutup": 1, "shutup_time": 120}
//! ```
//!
//! The answer is read exactly as the webhook reads a 200 JSON answer
//! (`webhook::parse_answer`) and carried out the same way
//! (`SessionHandle::act`), at most once per report (`ledger`). The reply
//! tells the worker what became of it — `{"code":0,"status":"acted"}`,
//! `"nothing asked"`, code 1 `"already answered"`, code 2 `"unknown
//! report"`, code 400 for a malformed answer — and comes after the reply
//! and mute were handed to QQ, so a worker that acks its JetStream message
//! after this reply never loses an answer: no reply (the gateway is down)
//! means no ack, and JetStream delivers the report again.

use std::sync::Arc;

use async_nats::{Client, Subscriber};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::Shared;
use super::ledger::Taken;
use super::stats::BusStats;
use crate::model::{Decided, DecidedBy};
use crate::session::SessionHandle;
use crate::trace::Step;

/// Answers being carried out at once; more wait in the subscription.
const AT_ONCE: usize = 256;

pub(super) async fn run(
    shared: Arc<Shared>,
    client: Client,
    session: SessionHandle,
    mut sub: Subscriber,
) {
    let slots = Arc::new(Semaphore::new(AT_ONCE));
    let mut tasks = JoinSet::new();
    while let Some(m) = sub.next().await {
        while tasks.try_join_next().is_some() {}
        let Ok(slot) = slots.clone().acquire_owned().await else {
            break;
        };
        let (shared, client, session) = (shared.clone(), client.clone(), session.clone());
        tasks.spawn(async move {
            let verdict = answer(&shared, &session, &m.payload).await;
            if let Some(reply) = m.reply {
                let body = serde_json::to_vec(&verdict).unwrap_or_default();
                if let Err(e) = client.publish(reply, body.into()).await {
                    tracing::debug!(error = %e, "bus: cannot reply to an answer");
                }
            }
            drop(slot);
        });
    }
}

/// Carries out one answer; what became of it, for the worker.
async fn answer(shared: &Shared, session: &SessionHandle, body: &[u8]) -> Value {
    let stats = &shared.stats;
    let id = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("report")?.as_str().map(str::to_string));
    let Some(id) = id else {
        BusStats::add(&stats.ignored);
        return json!({"code": 400, "status": "an answer needs \"report\": the report's id"});
    };
    let decision =
        match crate::webhook::parse_answer(200, Some("application/json"), body, shared.dialect) {
            Ok(d) => d,
            Err(why) => {
                BusStats::add(&stats.ignored);
                return json!({"code": 400, "status": format!("answer ignored: {why}")});
            }
        };
    let taken = shared.ledger().take(&id);
    match taken {
        Taken::Already => {
            BusStats::add(&stats.duplicate);
            tracing::info!(report = %id, "bus: a second answer to one report, not carried out");
            json!({"code": 1, "status": "already answered"})
        }
        Taken::Unknown => {
            BusStats::add(&stats.unknown);
            tracing::info!(report = %id, "bus: an answer to a report this gateway does not hold");
            json!({"code": 2, "status": "unknown report"})
        }
        Taken::Message(msg) => match decision {
            None => {
                BusStats::add(&stats.ignored);
                msg.trace
                    .step(|| Step::note("the bus's worker asked for nothing"));
                json!({"code": 0, "status": "nothing asked"})
            }
            Some(decision) => {
                tracing::info!(msg_id = %msg.id, handler = "bus", ?decision, "message handled");
                msg.trace
                    .step(|| Step::note("answered by a worker over the bus"));
                let decided = Decided {
                    by: DecidedBy::Webhook,
                    decision,
                };
                session.act(&msg, decided).await;
                BusStats::add(&stats.acted);
                json!({"code": 0, "status": "acted"})
            }
        },
    }
}
