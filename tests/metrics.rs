//! `/metrics`: the gateway's counters in the Prometheus text format, read
//! by a scraper as Prometheus would, behind the `/admin` access rule.

use std::collections::HashMap;
use std::time::Duration;

use openqq::config::Config;
use serde_json::json;

use crate::support::receiver::Receiver;
use crate::support::{self, DataDir, TestGateway, entry, test_config};

const WAIT: Duration = Duration::from_secs(20);

/// The samples of an OpenMetrics / Prometheus text exposition, by series
/// (`name{labels}`); panics on a line that is neither a sample nor a
/// known comment, and unless the text ends with `# EOF`.
fn parse(text: &str) -> HashMap<String, f64> {
    let mut samples = HashMap::new();
    let mut ended = false;
    for line in text.lines() {
        assert!(!ended, "text after # EOF: {line}");
        if line == "# EOF" {
            ended = true;
            continue;
        }
        if let Some(comment) = line.strip_prefix("# ") {
            let kind = comment.split(' ').next().unwrap_or("");
            assert!(["HELP", "TYPE", "UNIT"].contains(&kind), "comment: {line}");
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("sample: {line}"));
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                && !name.starts_with(|c: char| c.is_ascii_digit()),
            "metric name: {line}"
        );
        if name_end < series.len() {
            let labels = &series[name_end..];
            assert!(
                labels.starts_with('{') && labels.ends_with('}'),
                "labels: {line}"
            );
            for pair in labels[1..labels.len() - 1]
                .split(',')
                .filter(|p| !p.is_empty())
            {
                let (k, v) = pair
                    .split_once('=')
                    .unwrap_or_else(|| panic!("label: {line}"));
                assert!(
                    !k.is_empty() && v.starts_with('"') && v.ends_with('"'),
                    "label: {line}"
                );
            }
        }
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("value: {line}"));
        samples.insert(series.to_string(), value);
    }
    assert!(ended, "no # EOF");
    samples
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_what_bots_and_the_webhook_did() {
    let data = DataDir::fresh("metrics");
    let mut rx = Receiver::start().await;
    let gw = TestGateway::with_config(Config {
        post_api: Some(rx.url.clone()),
        ..support::config_with_store(&data, vec![entry("echo", "")])
    })
    .await;
    let seq = gw.last_seq().await;
    gw.receive(json!({"type": "message", "sender_qq": 123456, "content": "ping"}))
        .await;
    gw.sent_until(seq, WAIT, |s| !s.is_empty()).await;
    gw.receive(json!({"type": "message", "sender_qq": 123456, "content": "hello"}))
        .await;
    assert_eq!(rx.next().await.body["content"], "hello");
    gw.webhook_stats_until(|s| s[0] >= 1).await;

    let res = gw
        .http
        .get(gw.url("/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(res.status(), 200);
    let kind = res.headers()["content-type"]
        .to_str()
        .unwrap_or("")
        .to_string();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    let m = parse(&res.text().await.expect("body"));
    let get = |series: &str| {
        m.get(series)
            .copied()
            .unwrap_or_else(|| panic!("{series} in {m:#?}"))
    };
    assert_eq!(get("openqq_bot_calls_total{bot=\"echo\"}"), 2.0);
    assert_eq!(get("openqq_bot_decisions_total{bot=\"echo\"}"), 1.0);
    assert_eq!(get("openqq_bot_passes_total{bot=\"echo\"}"), 1.0);
    assert_eq!(get("openqq_bot_traps_total{bot=\"echo\"}"), 0.0);
    assert_eq!(get("openqq_bot_denied_total{bot=\"echo\"}"), 0.0);
    assert!(get("openqq_bot_call_p99_seconds{bot=\"echo\"}") > 0.0);
    assert_eq!(
        get("openqq_webhook_reports_total{outcome=\"answered\"}"),
        1.0
    );
    assert_eq!(
        get("openqq_webhook_reports_total{outcome=\"dropped\"}"),
        0.0
    );
    assert!(get("openqq_process_resident_memory_bytes") > 1e6);
    assert!(get("openqq_uptime_seconds") >= 0.0);
    gw.gateway.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_follow_the_admin_access_rule() {
    let gw = TestGateway::with_config(Config {
        admin_token: Some("s3cret".into()),
        ..test_config()
    })
    .await;
    let without = gw
        .http
        .get(gw.url("/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(without.status(), 403);
    let with = gw
        .http
        .get(gw.url("/metrics"))
        .bearer_auth("s3cret")
        .send()
        .await
        .expect("scrape");
    assert_eq!(with.status(), 200);
    parse(&with.text().await.expect("body"));
    gw.gateway.stop().await;
}
