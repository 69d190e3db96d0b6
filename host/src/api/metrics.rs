//! `GET /metrics`: the gateway's counters in the Prometheus text exposition
//! format (OpenMetrics, written by `prometheus-client`). Every value is read
//! from the live counters at the scrape — the bots' `ScriptStats`, the
//! webhook's, the process's memory — so nothing is counted twice and
//! nothing costs a message anything. Same access rule as `/admin/*`.

use std::fmt;
use std::sync::atomic::AtomicU64;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use super::state::AppState;
use crate::scripts::{Script, ScriptStats};

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

/// One counter per bot, read from its stats by `read`.
type PerBot = (&'static str, &'static str, fn(&Script) -> u64);

const BOT_COUNTERS: [PerBot; 10] = [
    (
        "openqq_bot_calls",
        "Calls of the bot (messages offered to it)",
        |s| at(&s.stats.calls),
    ),
    (
        "openqq_bot_decisions",
        "Messages the bot took (a reply or a mute)",
        |s| at(&s.stats.decisions),
    ),
    ("openqq_bot_passes", "Messages the bot passed on", |s| {
        at(&s.stats.passes)
    }),
    (
        "openqq_bot_traps",
        "Calls that trapped or hit a memory or resource cap",
        |s| at(&s.stats.traps),
    ),
    (
        "openqq_bot_timeouts",
        "Calls stopped at their CPU deadline",
        |s| at(&s.stats.timeouts),
    ),
    (
        "openqq_bot_wall_clock",
        "Calls stopped at their wall-clock limit",
        |s| at(&s.stats.wall_clock),
    ),
    (
        "openqq_bot_skipped",
        "Messages passed on without a call (paused, or instance busy)",
        |s| at(&s.stats.skipped),
    ),
    (
        "openqq_bot_other_chats",
        "Messages of chats outside the bot's chats grant",
        |s| at(&s.stats.other_chats),
    ),
    ("openqq_bot_timer_calls", "Timer calls", |s| {
        at(&s.stats.timer_calls)
    }),
    (
        "openqq_bot_denied",
        "Actions refused by the bot's grants and quotas",
        |s| s.current().granted.denials.total(),
    ),
];

fn at(c: &AtomicU64) -> u64 {
    ScriptStats::get(c)
}

impl Collector for Gateway {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), fmt::Error> {
        let scripts = self.0.scripts.list();
        for (name, help, read) in BOT_COUNTERS {
            let mut family = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
            for s in scripts.iter() {
                let labels = [("bot", &*s.name)];
                ConstCounter::new(read(s)).encode(family.encode_family(&labels)?)?;
            }
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
            let waiting = webhook.backlog().waiting as i64;
            gauge(
                &mut enc,
                "openqq_webhook_backlog",
                "Reports waiting to be posted",
                waiting,
            )?;
        }
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
