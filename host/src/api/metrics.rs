//! `GET /metrics`: the gateway's counters in the Prometheus text exposition
//! format (OpenMetrics, written by `prometheus-client`). Every value is read
//! from the live counters at the scrape — the bots' `ScriptStats` (their
//! call-time histograms too), the webhook's, the session's and the
//! outbox's, the backend's link, the process's memory — so nothing is
//! counted twice and a message costs an atomic add where it is counted.
//! Same access rule as `/admin/*`.

use std::fmt;
use std::sync::atomic::AtomicU64;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use super::state::AppState;
use crate::backend::LINK_STATES;
use crate::histogram::Snapshot;
use crate::scripts::{Script, ScriptStats};
use crate::session::{ORIGINS, RECEIVED};

/// OpenMetrics text, which Prometheus scrapes natively.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

pub async fn metrics(State(s): State<AppState>) -> Response {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Gateway(s)));
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &registry) {
        Ok(()) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The gateway's state, read at each scrape.
struct Gateway(AppState);

impl fmt::Debug for Gateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Gateway")
    }
}

/// Each bot's counters, `openqq_bot_<name>_total` and what they count, in
/// the order `bot_counts` reads them.
const BOT_COUNTERS: [(&str, &str); 10] = [
    ("calls", "Calls of the bot (messages offered to it)"),
    ("decisions", "Messages the bot took (a reply or a mute)"),
    ("passes", "Messages the bot passed on"),
    (
        "traps",
        "Calls that trapped or hit a memory or resource cap",
    ),
    ("timeouts", "Calls stopped at their CPU deadline"),
    ("wall_clock", "Calls stopped at their wall-clock limit"),
    (
        "skipped",
        "Messages passed on without a call (paused, or instance busy)",
    ),
    (
        "other_chats",
        "Messages of chats outside the bot's chats grant",
    ),
    ("timer_calls", "Timer calls"),
    ("denied", "Actions refused by the bot's grants and quotas"),
];

/// A bot's counters, in the order of `BOT_COUNTERS`.
fn bot_counts(s: &Script) -> [u64; 10] {
    let st = &s.stats;
    let stats = [
        &st.calls,
        &st.decisions,
        &st.passes,
        &st.traps,
        &st.timeouts,
        &st.wall_clock,
        &st.skipped,
        &st.other_chats,
        &st.timer_calls,
    ];
    let mut all = [0; 10];
    for (count, stat) in all.iter_mut().zip(stats) {
        *count = at(stat);
    }
    all[9] = s.current().granted.denials.total();
    all
}

fn at(c: &AtomicU64) -> u64 {
    ScriptStats::get(c)
}

impl Collector for Gateway {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), fmt::Error> {
        let scripts = self.0.scripts.list();
        let counts: Vec<[u64; 10]> = scripts.iter().map(|s| bot_counts(s)).collect();
        for (i, (name, help)) in BOT_COUNTERS.into_iter().enumerate() {
            let name = format!("openqq_bot_{name}");
            let mut family = enc.encode_descriptor(&name, help, None, MetricType::Counter)?;
            for (s, counts) in scripts.iter().zip(&counts) {
                let labels = [("bot", &*s.name)];
                ConstCounter::new(counts[i]).encode(family.encode_family(&labels)?)?;
            }
        }
        let mut calls = enc.encode_descriptor(
            "openqq_bot_call_seconds",
            "Call times of the bot (each call's, in buckets)",
            None,
            MetricType::Histogram,
        )?;
        for s in scripts.iter() {
            let labels = [("bot", &*s.name)];
            Histogram(s.stats.call_time.snapshot()).encode(calls.encode_family(&labels)?)?;
        }
        let times: Vec<_> = scripts
            .iter()
            .filter_map(|s| Some((&*s.name, s.stats.percentiles_us()?)))
            .collect();
        for (name, help, pick) in [
            (
                "openqq_bot_call_p50_seconds",
                "Median call time over the bot's recent calls",
                (|(p50, _)| p50) as fn((f64, f64)) -> f64,
            ),
            (
                "openqq_bot_call_p99_seconds",
                "99th percentile call time over the bot's recent calls",
                |(_, p99)| p99,
            ),
        ] {
            let mut family = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for (bot, us) in &times {
                ConstGauge::new(pick(*us) / 1e6).encode(family.encode_family(&[("bot", *bot)])?)?;
            }
        }
        if let Some(webhook) = &self.0.webhook {
            let [answered, acted, ignored, failed, dropped] = webhook.stats().snapshot();
            let mut reports = enc.encode_descriptor(
                "openqq_webhook_reports",
                "post_api reports by outcome",
                None,
                MetricType::Counter,
            )?;
            for (outcome, v) in [
                ("answered", answered),
                ("acted", acted),
                ("ignored", ignored),
                ("failed", failed),
                ("dropped", dropped),
            ] {
                ConstCounter::new(v).encode(reports.encode_family(&[("outcome", outcome)])?)?;
            }
            let mut answers = enc.encode_descriptor(
                "openqq_webhook_answers",
                "post_api answers by HTTP status class",
                None,
                MetricType::Counter,
            )?;
            for (class, n) in ["1xx", "2xx", "3xx", "4xx", "5xx"]
                .into_iter()
                .zip(&webhook.stats().by_status)
            {
                ConstCounter::new(at(n)).encode(answers.encode_family(&[("status", class)])?)?;
            }
            Histogram(webhook.stats().post_time.snapshot()).encode(enc.encode_descriptor(
                "openqq_webhook_post_seconds",
                "Answered post_api posts' times, from sending to the answer read",
                None,
                MetricType::Histogram,
            )?)?;
            let waiting = webhook.backlog().waiting as i64;
            gauge(
                &mut enc,
                "openqq_webhook_backlog",
                "Reports waiting to be posted",
                waiting,
            )?;
        }
        if let Some(bus) = &self.0.bus {
            let mut reports = enc.encode_descriptor(
                "openqq_bus_reports",
                "Fleet bus reports (published, dropped, retried) and answers (acted, ignored, duplicate, unknown), API calls",
                None,
                MetricType::Counter,
            )?;
            for (outcome, v) in crate::bus::BusStats::NAMES.into_iter().zip(bus.snapshot()) {
                ConstCounter::new(v).encode(reports.encode_family(&[("outcome", outcome)])?)?;
            }
            let buffered = bus.buffered.load(std::sync::atomic::Ordering::Relaxed) as i64;
            gauge(
                &mut enc,
                "openqq_bus_buffered",
                "Reports waiting to be published to the bus",
                buffered,
            )?;
        }
        self.session(&mut enc)?;
        let uptime = self.0.started.elapsed().map_or(0.0, |d| d.as_secs_f64());
        gauge(
            &mut enc,
            "openqq_uptime_seconds",
            "Time since the gateway started",
            uptime,
        )?;
        if let Some(rss) = resident_bytes() {
            let help = "Resident memory of the gateway process";
            gauge(&mut enc, "openqq_process_resident_memory_bytes", help, rss)?;
        }
        Ok(())
    }
}

impl Gateway {
    /// What came in, what went out, and the link to QQ.
    fn session(&self, enc: &mut DescriptorEncoder) -> Result<(), fmt::Error> {
        let session = &self.0.session;
        let mut received = enc.encode_descriptor(
            "openqq_messages_received",
            "Messages received by chat kind, and events (logins, joins, leaves...)",
            None,
            MetricType::Counter,
        )?;
        for (kind, n) in RECEIVED.into_iter().zip(session.stats().received()) {
            ConstCounter::new(n).encode(received.encode_family(&[("kind", kind)])?)?;
        }
        let (ok, failed) = session.stats().sends();
        let mut sends = enc.encode_descriptor(
            "openqq_sends",
            "Sends by origin (api, bot, webhook) and outcome (ok, or failed after retries)",
            None,
            MetricType::Counter,
        )?;
        for (outcome, counts) in [("ok", ok), ("failed", failed)] {
            for (origin, n) in ORIGINS.into_iter().zip(counts) {
                let labels = [("origin", origin), ("outcome", outcome)];
                ConstCounter::new(n).encode(sends.encode_family(&labels)?)?;
            }
        }
        let outbox = session.outbox_stats();
        let retried = at(&outbox.retried);
        let help = "Send attempts retried after a transport fault";
        counter(enc, "openqq_send_retries", help, retried)?;
        let holding = at(&outbox.holding) as i64;
        let help = "Sends in the outbox: waiting for their turn or under way";
        gauge(enc, "openqq_outbox_depth", help, holding)?;
        let link = session.link();
        let help = "Whether the link to QQ is up (the simulator always is)";
        gauge(enc, "openqq_backend_up", help, i64::from(link.is_up()))?;
        let mut states = enc.encode_descriptor(
            "openqq_backend_link_state",
            "The link to QQ's state: 1 for the current one",
            None,
            MetricType::Gauge,
        )?;
        for state in LINK_STATES {
            let v = i64::from(state == link.state);
            ConstGauge::new(v).encode(states.encode_family(&[("state", state)])?)?;
        }
        let help = "Connections to QQ made after the first one";
        counter(enc, "openqq_backend_reconnects", help, link.reconnects)
    }
}

/// A histogram as read at the scrape (`crate::histogram`).
struct Histogram(Snapshot);

impl EncodeMetric for Histogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), fmt::Error> {
        let s = &self.0;
        encoder.encode_histogram::<NoLabelSet>(s.sum, s.count, &s.buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

/// One counter without labels.
fn counter(enc: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> Result<(), fmt::Error> {
    ConstCounter::new(v).encode(enc.encode_descriptor(name, help, None, MetricType::Counter)?)
}

/// One gauge without labels.
fn gauge<N>(enc: &mut DescriptorEncoder, name: &str, help: &str, v: N) -> Result<(), fmt::Error>
where
    ConstGauge<N>: EncodeMetric,
{
    ConstGauge::new(v).encode(enc.encode_descriptor(name, help, None, MetricType::Gauge)?)
}

/// The process's resident memory (Linux, `/proc/self/statm`).
fn resident_bytes() -> Option<i64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: i64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}
