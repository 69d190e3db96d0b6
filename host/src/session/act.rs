//! Carrying out a decision about a received message.
//!
//! `act` returns at once with a future that does the work; whoever holds
//! the chat's order (the pipeline's lane, the webhook's line) starts these
//! futures in order and need not wait for them: the reply's send is handed
//! to QQ on the future's first poll, the mute once the reply is out, and
//! their outcomes only reach the log. So a chat's next message is decided
//! while QQ is still confirming the previous reply.

use std::future::Future;

use crate::model::DecidedBy;
use crate::model::{Decided, InboundMessage};
use crate::trace::{Done, Step, Who};

use super::{PreparedSend, SessionHandle};

impl SessionHandle {
    /// The work of carrying out `decided` for `msg`. Failures are logged,
    /// never raised: the message itself was already handled.
    pub fn act(
        &self,
        msg: &InboundMessage,
        decided: Decided,
    ) -> impl Future<Output = ()> + Send + 'static {
        let refusal = decided.decision.shutup_refusal(msg);
        let Decided { by, decision } = decided;
        let reply = decision.reply.filter(|r| !r.is_empty()).and_then(|text| {
            let Some(target) = self.reply_target(msg) else {
                tracing::warn!(msg_id = %msg.id, handler = %by, "no way to reply to this message");
                msg.trace
                    .step(|| Step::note("no way to reply to this message"));
                return None;
            };
            let prepared = PreparedSend {
                msg_id: self.inner.outbox.reserve(),
                target,
                content: text,
            };
            let session = self.clone();
            let (msg_id, by, trace) = (msg.id.clone(), by.clone(), msg.trace.clone());
            Some(async move {
                let who = match &by {
                    DecidedBy::Native(name) => Who::Named(name),
                    DecidedBy::Script(name) => Who::Bot(name.clone()),
                    DecidedBy::Webhook => Who::Named("webhook"),
                };
                match session
                    .send_traced(prepared, by.origin(), &trace, who)
                    .await
                {
                    Ok(id) => tracing::debug!(%msg_id, handler = %by, reply_id = %id, "reply sent"),
                    Err(e) => tracing::warn!(%msg_id, handler = %by, error = %e, "reply failed"),
                }
            })
        });
        let mute = decision.shutup.and_then(|secs| {
            let refused = |detail: String| Step::Mute {
                qq: msg.sender.qq.map(|q| q.to_string()).unwrap_or_default(),
                outcome: Done::Failed,
                detail: Some(detail),
            };
            if let Some(refusal) = refusal {
                tracing::warn!(msg_id = %msg.id, handler = %by, %refusal, "mute refused");
                msg.trace.step(|| refused(format!("refused: {refusal}")));
                return None;
            }
            let (Some(group), Some(qq)) = (msg.group.as_ref().and_then(|g| g.number), msg.sender.qq)
            else {
                tracing::warn!(msg_id = %msg.id, handler = %by, "mute refused: sender or group unknown");
                msg.trace
                    .step(|| refused("refused: sender or group unknown".into()));
                return None;
            };
            let session = self.clone();
            let (msg_id, by, trace) = (msg.id.clone(), by.clone(), msg.trace.clone());
            Some(async move {
                let done = session.shutup_member(group, qq, secs).await;
                trace.step(|| Step::Mute {
                    qq: qq.to_string(),
                    outcome: Done::from(&done),
                    detail: done.as_ref().err().map(|e| e.to_string()),
                });
                if let Err(e) = done {
                    tracing::warn!(%msg_id, handler = %by, error = %e, "mute failed");
                }
            })
        });
        // The mute waits for the reply's outcome: a warning then a mute must
        // reach QQ in that order, and the reply may wait in a spaced outbox
        // or for a retry. The lane does not wait for either.
        async move {
            if let Some(reply) = reply {
                reply.await;
            }
            if let Some(mute) = mute {
                mute.await;
            }
        }
    }
}
