//! Where reports go: received messages no handler took (the pipeline's
//! `Fallback`), and in v2 the account's own sends and events — to the
//! webhook, if configured, and to the `check_event` buffer.

use std::sync::Arc;

use tokio::sync::broadcast;

use super::{ReportBuffer, WARN_EVERY, Webhook, report, target_line};
use crate::model::InboundMessage;
use crate::render::Dialect;
use crate::session::{SessionEvent, SessionHandle};
use crate::throttle::Throttle;
use crate::trace::Step;

/// Where reports go: the webhook (if configured) and, in v2, the
/// `check_event` buffer.
#[derive(Clone)]
pub struct Reports {
    pub webhook: Option<Webhook>,
    pub buffer: ReportBuffer,
    pub dialect: Dialect,
    /// The v2 events posted to the webhook (`post_event_list`).
    pub post_events: Arc<Vec<String>>,
    /// The fleet bus, when configured: it gets what the webhook gets.
    pub bus: Option<crate::bus::Bus>,
}

impl crate::pipeline::Fallback for Reports {
    /// A received message no handler took.
    fn pass(&self, msg: InboundMessage) {
        if self.dialect == Dialect::V2 {
            self.buffer.push(report::v2_received(&msg));
        }
        // With `messages = "all"` the bus published it before the bots.
        if let Some(bus) = &self.bus
            && bus.mode() == crate::config::BusMessages::Unanswered
        {
            bus.message(&msg);
        }
        match &self.webhook {
            Some(w) => w.report(msg),
            None => {
                msg.trace.step(|| Step::note(NO_WEBHOOK));
                tracing::info!(msg_id = %msg.id, kind = msg.kind.v1_type(), handler = "none", "no handler took the message")
            }
        }
    }

    /// The report the webhook would be posted, and whether there is one.
    fn would_pass(&self, msg: &InboundMessage) -> serde_json::Value {
        let report = match self.dialect {
            Dialect::V1 => report::v1(msg),
            Dialect::V2 => report::v2_received(msg),
        };
        let webhook = self.webhook.is_some();
        let bus = self.bus.is_some();
        msg.trace.step(|| {
            Step::note(match (webhook, bus) {
                (true, false) => "not done: the webhook's post (no bot took it)",
                (true, true) => {
                    "not done: the webhook's post and the bus's publish (no bot took it)"
                }
                (false, true) => "not done: the bus's publish (no bot took it)",
                (false, false) => NO_WEBHOOK,
            })
        });
        serde_json::json!({"webhook": webhook, "bus": bus, "report": report})
    }
}

const NO_WEBHOOK: &str = "no webhook configured (post_api is not set)";

impl Reports {
    /// Turns the session's own sends and events into v2 reports until the
    /// session goes away. v1 reports neither: it returns at once, dropping
    /// the subscription.
    pub async fn run(self, session: SessionHandle, mut events: broadcast::Receiver<SessionEvent>) {
        if self.dialect != Dialect::V2 {
            return;
        }
        loop {
            let e = match events.recv().await {
                Ok(e) => e,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    static LAGGED: Throttle = Throttle::new(WARN_EVERY);
                    if let Some(held_back) = LAGGED.allow() {
                        tracing::warn!(
                            missed = n,
                            held_back,
                            "reports fell behind: {n} send/event reports lost"
                        );
                    }
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            match e {
                SessionEvent::Sent(s) => {
                    let body = report::v2_sent(&s, &session.contacts());
                    if let Some(bus) = &self.bus {
                        bus.sent(&s, &body);
                    }
                    if let Some(w) = &self.webhook {
                        w.report_value(target_line(&s.target), s.msg_id.to_string(), &body);
                    }
                    self.buffer.push(body);
                }
                SessionEvent::Event(ev) => {
                    let body = report::v2_event(&ev);
                    if let Some(bus) = &self.bus
                        && self.post_events.iter().any(|n| n == ev.name())
                    {
                        bus.event(&ev, &body);
                    }
                    if let Some(w) = &self.webhook
                        && self.post_events.iter().any(|n| n == ev.name())
                    {
                        w.report_value(ev.chat_key(), ev.name().to_string(), &body);
                    }
                    if ev.buffered() {
                        self.buffer.push(body);
                    }
                    // The session reports nothing after its stop: the
                    // gateway waits for this task to end to know every
                    // report is queued.
                    if matches!(*ev, crate::model::Event::Stop) {
                        return;
                    }
                }
            }
        }
    }
}
