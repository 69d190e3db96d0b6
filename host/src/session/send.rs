//! Sending: where a send goes (the Openqq look-up rules), numbering it,
//! and carrying it out through the outbox, with a v2 send report.

use crate::model::{ChatKind, InboundMessage, MsgId, SendOrigin, SendTarget, SentMessage};
use crate::trace::{Done, Handle, Step, Who};

use super::{
    Contacts, Missing, PreparedSend, SendRequest, SessionError, SessionEvent, SessionHandle,
};

impl SessionHandle {
    /// Resolves where a send goes, by the Openqq look-up rules.
    ///
    /// # Errors
    /// `NotFound` with the kind of contact that is missing.
    pub fn resolve(&self, req: &SendRequest) -> Result<SendTarget, SessionError> {
        let c = self.contacts();
        let nf = |m| SessionError::NotFound(m);
        Ok(match req {
            SendRequest::Friend(l) => {
                let f = c.find_friend(l).ok_or(nf(Missing::Friend))?;
                SendTarget::Friend {
                    id: f.id.clone(),
                    qq: f.qq,
                }
            }
            SendRequest::Group(l) => {
                let g = c.find_group(l).ok_or(nf(Missing::Group))?;
                SendTarget::Group {
                    gid: g.gid.clone(),
                    gnumber: g.gnumber,
                }
            }
            SendRequest::Discuss(l) => {
                let d = c.find_discuss(l).ok_or(nf(Missing::Discuss))?;
                SendTarget::Discuss {
                    did: d.did.clone(),
                    key: d.key,
                }
            }
            SendRequest::Sess {
                group: Some(gl),
                member,
                ..
            } => {
                let g = c.find_group(gl).ok_or(nf(Missing::GroupMember))?;
                let m = Contacts::find_member(g, member).ok_or(nf(Missing::GroupMember))?;
                SendTarget::GroupSess {
                    gid: g.gid.clone(),
                    gnumber: g.gnumber,
                    id: m.id.clone(),
                    qq: m.qq,
                }
            }
            SendRequest::Sess {
                group: None,
                discuss: Some(dl),
                member,
            } => {
                let d = c.find_discuss(dl).ok_or(nf(Missing::DiscussMember))?;
                let m =
                    Contacts::find_discuss_member(d, member).ok_or(nf(Missing::DiscussMember))?;
                SendTarget::DiscussSess {
                    did: d.did.clone(),
                    key: d.key,
                    id: m.id.clone(),
                    qq: m.qq,
                }
            }
            SendRequest::Sess {
                group: None,
                discuss: None,
                ..
            } => return Err(nf(Missing::SessChat)),
        })
    }

    /// Sends a message: resolve, then through the outbox.
    ///
    /// # Errors
    /// Not found, content missing, or the outbox's failure.
    pub async fn send(
        &self,
        req: &SendRequest,
        content: &str,
        origin: SendOrigin,
    ) -> Result<MsgId, SessionError> {
        let target = self.resolve(req)?;
        self.send_to(target, content, origin).await
    }

    /// Sends to an already resolved target (replies to inbound messages).
    pub async fn send_to(
        &self,
        target: SendTarget,
        content: &str,
        origin: SendOrigin,
    ) -> Result<MsgId, SessionError> {
        if content.is_empty() {
            return Err(SessionError::ContentMissing);
        }
        let prepared = PreparedSend {
            msg_id: self.inner.outbox.reserve(),
            target,
            content: content.to_string(),
        };
        self.send_prepared(prepared, origin).await
    }

    /// Everything about a send that can be known at once — where it goes,
    /// that it has content, its `msg_id` — without sending it yet: a bot's
    /// `host::send` answers with this and the send goes after its call.
    ///
    /// # Errors
    /// Not found, or content missing.
    pub fn prepare(&self, req: &SendRequest, content: &str) -> Result<PreparedSend, SessionError> {
        self.prepare_to(self.resolve(req)?, content)
    }

    /// As `prepare`, to a target already resolved (a bot's grants are
    /// checked between the two).
    ///
    /// # Errors
    /// Content missing.
    pub fn prepare_to(
        &self,
        target: SendTarget,
        content: &str,
    ) -> Result<PreparedSend, SessionError> {
        if content.is_empty() {
            return Err(SessionError::ContentMissing);
        }
        Ok(PreparedSend {
            target,
            msg_id: self.inner.outbox.reserve(),
            content: content.to_string(),
        })
    }

    /// Carries out a prepared send through the outbox and waits for QQ.
    ///
    /// # Errors
    /// The outbox's failure.
    pub async fn send_prepared(
        &self,
        prepared: PreparedSend,
        origin: SendOrigin,
    ) -> Result<MsgId, SessionError> {
        self.send_traced(prepared, origin, &Handle::off(), Who::Named("api"))
            .await
    }

    /// As `send_prepared`, its outcome a step of `trace` (the message or
    /// timer call that caused it), made by `by`.
    ///
    /// # Errors
    /// The outbox's failure.
    pub async fn send_traced(
        &self,
        prepared: PreparedSend,
        origin: SendOrigin,
        trace: &Handle,
        by: Who,
    ) -> Result<MsgId, SessionError> {
        let PreparedSend {
            msg_id,
            target,
            content,
        } = prepared;
        let (result, retries) = self
            .inner
            .outbox
            .send_counted(msg_id, &target, &content)
            .await;
        self.inner.stats.send(&origin, result.is_ok());
        trace.step(|| Step::Send {
            msg_id: Some(msg_id.0),
            outcome: Done::from(&result),
            detail: result.as_ref().err().map(|e| e.to_string()),
            retries,
            by,
        });
        let (msg_id, outcome) = match &result {
            Ok(id) => (*id, Ok(())),
            Err(SessionError::Send {
                msg_id,
                failure,
                info,
            }) => (*msg_id, Err((failure.code(), info.clone()))),
            Err(_) => return result,
        };
        if self.inner.reports.receiver_count() == 0 {
            return result;
        }
        let time = crate::clock::unix_now();
        let sent = SentMessage {
            msg_id,
            target,
            content,
            origin,
            time,
            outcome,
        };
        let _ = self.inner.reports.send(SessionEvent::Sent(sent));
        result
    }

    /// Where a reply to `msg` goes: back to the friend, group or discussion,
    /// or as a temp message to the sender.
    pub fn reply_target(&self, msg: &InboundMessage) -> Option<SendTarget> {
        let qq = msg.sender.qq?;
        let id = msg.sender.id.clone();
        Some(match msg.kind {
            ChatKind::Friend => SendTarget::Friend { id, qq },
            ChatKind::Group => {
                let g = msg.group.as_ref()?;
                SendTarget::Group {
                    gid: g.id.clone(),
                    gnumber: g.number?,
                }
            }
            ChatKind::Discuss => {
                let d = msg.discuss.as_ref()?;
                SendTarget::Discuss {
                    did: d.id.clone(),
                    key: d.key,
                }
            }
            ChatKind::Sess => match (&msg.group, &msg.discuss) {
                (Some(g), _) => SendTarget::GroupSess {
                    gid: g.id.clone(),
                    gnumber: g.number?,
                    id,
                    qq,
                },
                (None, Some(d)) => SendTarget::DiscussSess {
                    did: d.id.clone(),
                    key: d.key,
                    id,
                    qq,
                },
                (None, None) => return None,
            },
        })
    }
}
