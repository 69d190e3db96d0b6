//! The publisher task: takes reports from the queue in batches, publishes
//! them to JetStream with their ids, and puts back what was not
//! acknowledged.
//!
//! A batch is sent whole, then its acknowledgements are awaited together
//! (one round trip per batch, not per report). A report whose publish or
//! acknowledgement failed — NATS down, the stream missing, no answer in
//! `ACK_WAIT` — goes back to the front of the queue and the task pauses
//! (doubling, up to `MAX_PAUSE`), then makes sure of the stream again.
//! A report that did reach the stream but whose acknowledgement was lost
//! is published again under the same `Nats-Msg-Id`, which JetStream drops
//! as a duplicate within the stream's duplicate window: nothing twice.

use std::sync::Arc;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, message::PublishMessage};
use futures_util::future::join_all;

use super::Shared;
use super::queue::Report;
use super::subject::{ACCOUNT, ANSWER, REPORT};
use crate::throttle::Throttle;

/// Reports sent before their acknowledgements are awaited.
const BATCH: usize = 256;
/// The first pause after a failed batch, and the longest.
const FIRST_PAUSE: Duration = Duration::from_millis(50);
const MAX_PAUSE: Duration = Duration::from_secs(2);
/// How long a publish waits for JetStream's acknowledgement.
pub const ACK_WAIT: Duration = Duration::from_secs(5);

const WARN_EVERY: Duration = Duration::from_secs(10);

pub(super) async fn run(
    shared: Arc<Shared>,
    js: jetstream::Context,
    stream: jetstream::stream::Config,
) {
    static NO_STREAM: Throttle = Throttle::new(WARN_EVERY);
    static FAILED: Throttle = Throttle::new(WARN_EVERY);
    let mut pause = FIRST_PAUSE;
    let mut stream_ready = false;
    loop {
        if !stream_ready {
            match js.get_or_create_stream(stream.clone()).await {
                Ok(_) => stream_ready = true,
                Err(e) => {
                    if let Some(held_back) = NO_STREAM.allow() {
                        tracing::warn!(stream = %stream.name, error = %e, held_back, buffered = shared.queue.len(), "bus: cannot reach the stream; reports wait");
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_PAUSE);
                    continue;
                }
            }
        }
        let Some(batch) = shared.queue.take(BATCH).await else {
            return;
        };
        let (published, failed) = publish(&js, shared.subjects.account(), batch).await;
        let stats = &shared.stats;
        stats
            .published
            .fetch_add(published as u64, std::sync::atomic::Ordering::Relaxed);
        let retry = !failed.is_empty();
        if retry {
            stats
                .retried
                .fetch_add(failed.len() as u64, std::sync::atomic::Ordering::Relaxed);
            if let Some(held_back) = FAILED.allow() {
                tracing::warn!(
                    failed = failed.len(),
                    held_back,
                    "bus: publishing failed; the reports wait and are published again"
                );
            }
        }
        shared.queue.done(published, failed);
        shared.note_buffered();
        if retry {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_PAUSE);
            stream_ready = false;
        } else {
            pause = FIRST_PAUSE;
        }
    }
}

/// Publishes a batch: (how many JetStream acknowledged, the rest in order).
async fn publish(
    js: &jetstream::Context,
    account: &str,
    batch: Vec<Report>,
) -> (usize, Vec<Report>) {
    let mut acks = Vec::with_capacity(batch.len());
    for r in &batch {
        let mut headers = HeaderMap::new();
        headers.insert(REPORT, r.id.as_str());
        headers.insert(ACCOUNT, account);
        if let Some(a) = &r.answer {
            headers.insert(ANSWER, a.as_str());
        }
        let m = PublishMessage::build()
            .payload(r.body.clone())
            .headers(headers)
            .message_id(&r.id);
        acks.push(js.send_publish(r.subject.clone(), m).await);
    }
    let outcomes = join_all(acks.into_iter().map(|a| async move {
        match a {
            Ok(ack) => ack.await.is_ok(),
            Err(_) => false,
        }
    }))
    .await;
    let mut published = 0;
    let mut failed = Vec::new();
    for (r, ok) in batch.into_iter().zip(outcomes) {
        if ok {
            published += 1;
        } else {
            failed.push(r);
        }
    }
    (published, failed)
}
