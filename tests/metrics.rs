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
    parse(&res.text().await.expect("body"));
    // The reply's send is counted once QQ confirmed it, just after the
    // sim recorded it.
    let m = scrape_until(&gw, |m| {
        m.get("openqq_sends_total{origin=\"bot\",outcome=\"ok\"}") == Some(&1.0)
    })
    .await;
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

    // The call-time histogram: one sample a call, in cumulative buckets
    // (prometheus-client writes `le` first).
    assert_eq!(get("openqq_bot_call_seconds_count{bot=\"echo\"}"), 2.0);
    assert!(get("openqq_bot_call_seconds_sum{bot=\"echo\"}") > 0.0);
    let mut buckets: Vec<(f64, f64)> = m
        .iter()
        .filter_map(|(series, v)| {
            let le = series
                .strip_prefix("openqq_bot_call_seconds_bucket{le=\"")?
                .strip_suffix("\",bot=\"echo\"}")?;
            Some((le.parse::<f64>().unwrap_or(f64::INFINITY), *v))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert_eq!(buckets.len(), 18, "17 bounds and +Inf: {buckets:?}");
    assert_eq!(buckets[0].0, 50e-6);
    assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1), "{buckets:?}");
    assert_eq!(buckets[17], (f64::INFINITY, 2.0));

    assert_eq!(get("openqq_messages_received_total{kind=\"friend\"}"), 2.0);
    assert_eq!(get("openqq_messages_received_total{kind=\"group\"}"), 0.0);
    // The gateway's own login (and, later, its stop) are not from QQ.
    assert_eq!(get("openqq_messages_received_total{kind=\"event\"}"), 0.0);
    assert_eq!(
        get("openqq_sends_total{origin=\"bot\",outcome=\"failed\"}"),
        0.0
    );
    assert_eq!(
        get("openqq_sends_total{origin=\"webhook\",outcome=\"ok\"}"),
        0.0
    );
    assert_eq!(get("openqq_webhook_answers_total{status=\"2xx\"}"), 1.0);
    assert_eq!(get("openqq_webhook_answers_total{status=\"5xx\"}"), 0.0);
    assert_eq!(get("openqq_webhook_post_seconds_count"), 1.0);
    assert_eq!(get("openqq_webhook_post_seconds_bucket{le=\"+Inf\"}"), 1.0);
    assert_eq!(get("openqq_outbox_depth"), 0.0);
    assert_eq!(get("openqq_backend_up"), 1.0);
    assert_eq!(get("openqq_backend_link_state{state=\"up\"}"), 1.0);
    assert_eq!(get("openqq_backend_link_state{state=\"down\"}"), 0.0);
    assert_eq!(get("openqq_backend_reconnects_total"), 0.0);
    // A member who joins is an event from QQ.
    let join = json!({"gnumber": 552603, "qq": 5550003});
    assert_eq!(gw.post_json("/sim/join", &join).await["code"], 0);
    scrape_until(&gw, |m| {
        m.get("openqq_messages_received_total{kind=\"event\"}") == Some(&1.0)
    })
    .await;
    gw.gateway.stop().await;
}

/// Scrapes `/metrics` until `done` holds; panics after `WAIT`.
async fn scrape_until(
    gw: &TestGateway,
    done: impl Fn(&HashMap<String, f64>) -> bool,
) -> HashMap<String, f64> {
    support::wait::poll("a scrape that shows it", WAIT, || async {
        let text = gw
            .http
            .get(gw.url("/metrics"))
            .send()
            .await
            .expect("scrape")
            .text()
            .await
            .expect("body");
        let m = parse(&text);
        done(&m).then_some(m)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_sends_by_origin_and_outcome_and_retries() {
    let gw = TestGateway::with_config(test_config()).await;
    let send = |content: &'static str| {
        let gw = &gw;
        async move {
            gw.get(&format!("/openqq/send_message?qq=123456&content={content}"))
                .await["code"]
                .clone()
        }
    };
    assert_eq!(send("ok").await, json!(0));
    // A dropped link: retried once, then it goes through.
    gw.post_json("/sim/fail", &json!({"count": 1, "kind": "down"}))
        .await;
    assert_eq!(send("retried").await, json!(0));
    // QQ refuses: failed, not retried.
    gw.post_json("/sim/fail", &json!({"count": 1, "kind": "refuse"}))
        .await;
    assert_eq!(send("refused").await, json!(-3));
    let m = scrape_until(&gw, |_| true).await;
    let get = |series: &str| {
        m.get(series)
            .copied()
            .unwrap_or_else(|| panic!("{series} in {m:#?}"))
    };
    assert_eq!(
        get("openqq_sends_total{origin=\"api\",outcome=\"ok\"}"),
        2.0
    );
    assert_eq!(
        get("openqq_sends_total{origin=\"api\",outcome=\"failed\"}"),
        1.0
    );
    assert_eq!(get("openqq_send_retries_total"), 1.0);
    assert_eq!(get("openqq_outbox_depth"), 0.0);
    assert_eq!(
        get("openqq_messages_received_total{kind=\"friend\"}"),
        0.0,
        "sends are not received messages"
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_follow_the_onebot_link_down_and_back() {
    use openqq::config::BackendKind;
    use support::onebot_peer::{Peer, PeerWorld, Quirks};

    let peer = Peer::serve(PeerWorld::standard(), Quirks::napcat(), "").await;
    let mut config = test_config();
    config.backend.kind = BackendKind::Onebot;
    config.backend.url = Some(peer.url.clone());
    config.backend.refresh_secs = 0;
    let gw = TestGateway::with_config(config).await;
    peer.connected(1).await;
    let up = |m: &HashMap<String, f64>| {
        m.get("openqq_backend_up") == Some(&1.0)
            && m.get("openqq_backend_link_state{state=\"up\"}") == Some(&1.0)
    };
    let m = scrape_until(&gw, up).await;
    assert_eq!(m["openqq_backend_reconnects_total"], 0.0);
    assert_eq!(m["openqq_backend_link_state{state=\"connecting\"}"], 0.0);

    // A message in: counted by its chat's kind.
    let text = json!([{"type": "text", "data": {"text": "hi"}}]);
    assert!(peer.push(peer.group_message(552603, 888888, 7001, text)));
    scrape_until(&gw, |m| {
        m.get("openqq_messages_received_total{kind=\"group\"}") == Some(&1.0)
    })
    .await;

    // The implementation goes away: down; it comes back: up, one reconnect.
    peer.set_accepting(false);
    peer.drop_connections();
    let m = scrape_until(&gw, |m| m.get("openqq_backend_up") == Some(&0.0)).await;
    assert_eq!(m["openqq_backend_link_state{state=\"down\"}"], 1.0);
    assert_eq!(m["openqq_backend_link_state{state=\"up\"}"], 0.0);
    peer.set_accepting(true);
    peer.connected(2).await;
    let m = scrape_until(&gw, up).await;
    assert_eq!(m["openqq_backend_reconnects_total"], 1.0);
    gw.gateway.stop().await;
}
