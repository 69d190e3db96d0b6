//! An openqq fleet worker: reports in from NATS JetStream, answers out to
//! the gateway that sent them.
//!
//! Every worker binds the same durable pull consumer (`--consumer`), so
//! JetStream shares the reports among them: each report goes to one worker
//! at a time, and one that is not acked within `ack_wait` (its worker died,
//! or hung) goes to another. A report that takes an answer carries the
//! subject to send it to (`Openqq-Answer`) and its id (`Openqq-Report`);
//! the worker sends `{"report": id, ...the post_api answer...}` there as a
//! request, and acks the report only once the gateway replied — so an
//! answer is never lost (at-least-once), and the gateway carries out at
//! most one answer per report, whatever JetStream redelivers.
//!
//! Events and the account's own sends (v2) take no answer: they are acked
//! as they come.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use async_nats::jetstream::{self, AckKind, consumer::pull};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Where to find the reports and how to take them.
#[derive(Debug, Clone)]
pub struct Options {
    /// The NATS server(s), as the gateways' `[bus] url`.
    pub url: String,
    /// The gateways' `[bus] stream`.
    pub stream: String,
    /// The durable consumer every worker of one kind shares.
    pub consumer: String,
    /// Only these subjects (e.g. `openqq.*.message.>`); none: all.
    pub filter: Option<String>,
    /// How long a report may go unacked before another worker gets it.
    pub ack_wait: Duration,
    /// Reports answered at once by this worker.
    pub concurrency: usize,
    /// Time spent on each report before answering: a stand-in for real
    /// work (tests and benchmarks); zero by default.
    pub work: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            url: "nats://127.0.0.1:4222".into(),
            stream: "OPENQQ".into(),
            consumer: "workers".into(),
            filter: None,
            ack_wait: Duration::from_secs(30),
            concurrency: 64,
            work: Duration::ZERO,
        }
    }
}

/// Decides about one report (the post_api JSON): the answer (`{"reply":
/// …}`, `{"shutup": 1}`, or `{}` for nothing), as a post_api receiver
/// would give it.
pub type Decide = Arc<dyn Fn(&Value) -> Value + Send + Sync>;

/// The benchmarks' receiver's decision: reply `v1:<content>`.
pub fn echo_v1() -> Decide {
    Arc::new(|report| {
        let content = report["content"].as_str().unwrap_or("");
        json!({ "reply": format!("v1:{content}") })
    })
}

/// What this worker did.
#[derive(Debug, Default)]
pub struct Counts {
    /// Reports whose answer the gateway took (acted, nothing asked, or
    /// already answered by another worker), then acked.
    pub answered: AtomicU64,
    /// Reports that took no answer (events, sends), acked.
    pub acked: AtomicU64,
    /// Answers that got no reply (the gateway unreachable): not acked,
    /// so the report comes again.
    pub retried: AtomicU64,
}

/// Takes reports until `stop` completes, then finishes the reports in
/// hand. Dropping the future instead abandons them unacked, as a crash
/// would (they come again after `ack_wait`). Transient faults — NATS restarting, a gateway down — are waited
/// out: the consumer is bound again, and unacked reports come again.
///
/// # Errors
/// The first connection, when `url` is not a NATS address.
pub async fn run(
    opts: Options,
    decide: Decide,
    counts: Arc<Counts>,
    stop: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let client = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .max_reconnects(None)
        .reconnect_delay_callback(|n| Duration::from_millis(20 * (n.min(50) as u64 + 1)))
        .connect(opts.url.as_str())
        .await
        .with_context(|| format!("connecting to {}", opts.url))?;
    let js = jetstream::new(client.clone());
    let slots = Arc::new(Semaphore::new(opts.concurrency.max(1)));
    // Owned here: dropping `run` aborts the reports in hand.
    let mut tasks = JoinSet::new();
    tokio::pin!(stop);
    loop {
        let consumer = tokio::select! {
            _ = &mut stop => break,
            c = bind(&js, &opts) => c,
        };
        let mut messages = match consumer {
            Ok(c) => match c.messages().await {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(error = %e, "worker: cannot pull; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            },
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "worker: no consumer yet; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        loop {
            while tasks.try_join_next().is_some() {}
            let next = tokio::select! {
                _ = &mut stop => {
                    while tasks.join_next().await.is_some() {}
                    return Ok(());
                }
                n = messages.next() => n,
            };
            let m = match next {
                Some(Ok(m)) => m,
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "worker: pulling failed; binding again");
                    break;
                }
                None => break,
            };
            let Ok(slot) = slots.clone().acquire_owned().await else {
                break;
            };
            let (client, decide, counts) = (client.clone(), decide.clone(), counts.clone());
            let work = opts.work;
            tasks.spawn(async move {
                if !work.is_zero() {
                    tokio::time::sleep(work).await;
                }
                handle(&client, &decide, &counts, m).await;
                drop(slot);
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// The shared durable consumer, created by the first worker.
async fn bind(
    js: &jetstream::Context,
    opts: &Options,
) -> anyhow::Result<jetstream::consumer::Consumer<pull::Config>> {
    let stream = js
        .get_stream(&opts.stream)
        .await
        .with_context(|| format!("stream {}", opts.stream))?;
    let config = pull::Config {
        durable_name: Some(opts.consumer.clone()),
        ack_policy: jetstream::consumer::AckPolicy::Explicit,
        ack_wait: opts.ack_wait,
        max_ack_pending: 20_000,
        filter_subject: opts.filter.clone().unwrap_or_default(),
        ..Default::default()
    };
    stream
        .get_or_create_consumer(&opts.consumer, config)
        .await
        .with_context(|| format!("consumer {}", opts.consumer))
}

/// One report: answer it (if it takes one) and ack once the gateway has
/// the answer; without a reply, ask for it again a little later.
async fn handle(
    client: &async_nats::Client,
    decide: &Decide,
    counts: &Counts,
    m: jetstream::Message,
) {
    let header = |name: &str| {
        m.headers
            .as_ref()
            .and_then(|h| h.get(name))
            .map(|v| v.as_str().to_string())
    };
    let (Some(subject), Some(report)) = (header("Openqq-Answer"), header("Openqq-Report")) else {
        let _ = m.ack().await;
        counts.acked.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let body: Value = serde_json::from_slice(&m.payload).unwrap_or(Value::Null);
    let mut answer = decide(&body);
    if !answer.is_object() {
        answer = json!({});
    }
    answer["report"] = json!(report);
    let payload = serde_json::to_vec(&answer).unwrap_or_default();
    match client.request(subject, payload.into()).await {
        Ok(_) => {
            // Acked only now: a worker that dies before this line leaves
            // the report to be delivered again.
            let _ = m.ack().await;
            counts.answered.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => {
            tracing::debug!(error = %e, %report, "worker: the gateway did not take the answer; again later");
            counts.retried.fetch_add(1, Ordering::Relaxed);
            let _ = m
                .ack_with(AckKind::Nak(Some(Duration::from_millis(500))))
                .await;
        }
    }
}
