//! Actions: the request frame we send and the answer we read back. The echo
//! ties the two together (answers arrive out of order); success is
//! `status == "ok"` alone, since retcodes differ per implementation, and the
//! explanation is whichever of `message`, `wording`, `msg` is present.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::CodecError;
use super::scalars::{Id, Text};
use crate::backend::BackendError;

/// An action request frame. The echo is always a fresh string: NapCat and
/// nonebot only match string echoes, and responses come back out of order
/// (go-cqhttp answers each request in its own goroutine).
pub fn request(action: &str, params: Value, echo: &str) -> String {
    json!({"action": action, "params": params, "echo": echo}).to_string()
}

/// An action's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionResponse {
    pub status: String,
    pub retcode: i64,
    pub data: Value,
    pub echo: Value,
    /// The implementation's explanation: `message`, else `wording`, else
    /// go-cqhttp's `msg` code.
    pub message: String,
}

impl ActionResponse {
    /// The echo as we sent it; `None` when the implementation lost it
    /// (NapCat#950 answers `""`, LuckyLilliaBot#261 `null`).
    pub fn echo_key(&self) -> Option<String> {
        match &self.echo {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// Whether this frame says the access token was refused: NapCat and
    /// LLOneBot accept the upgrade, send this and close (`spec` §1.4).
    pub fn is_auth_failure(&self) -> bool {
        self.status != "ok" && matches!(self.retcode, 1401 | 1403)
    }

    /// `data` on success. Success is `status == "ok"` only: retcodes differ
    /// per implementation (go-cqhttp 100, NapCat 1200 or even 200, spec
    /// 1400/1404) and only serve the log.
    ///
    /// # Errors
    /// `Rejected` with the implementation's retcode and message.
    pub fn into_result(self) -> Result<Value, BackendError> {
        if self.status == "ok" {
            return Ok(self.data);
        }
        let reason = if self.message.is_empty() {
            format!("{} (retcode {})", self.status, self.retcode)
        } else {
            self.message
        };
        Err(BackendError::Rejected {
            retcode: self.retcode,
            reason,
        })
    }
}

/// The field names of a response we read.
#[derive(Deserialize, Default)]
#[serde(default)]
struct RawResponse {
    status: Text,
    retcode: Id,
    data: Value,
    echo: Value,
    message: Text,
    wording: Text,
    msg: Text,
}

/// A frame without `post_type`, read as an action's answer.
///
/// # Errors
/// A field we read has a shape no implementation sends.
pub(super) fn decode_response(obj: Map<String, Value>) -> Result<ActionResponse, CodecError> {
    let r: RawResponse =
        serde_json::from_value(Value::Object(obj)).map_err(|e| CodecError(e.to_string()))?;
    let message = [r.message.0, r.wording.0, r.msg.0]
        .into_iter()
        .find(|m| !m.is_empty())
        .unwrap_or_default();
    Ok(ActionResponse {
        status: r.status.0,
        retcode: r.retcode.0,
        data: r.data,
        echo: r.echo,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{Frame, decode};
    use super::*;

    fn response(text: &str) -> ActionResponse {
        match decode(text).unwrap() {
            Frame::Response(r) => r,
            other => panic!("not a response: {other:?}"),
        }
    }

    #[test]
    fn requests_carry_a_string_echo() {
        let r: Value = serde_json::from_str(&request("get_status", json!({}), "openqq-7")).unwrap();
        assert_eq!(
            r,
            json!({"action": "get_status", "params": {}, "echo": "openqq-7"})
        );
    }

    #[test]
    fn responses_succeed_on_status_ok_only() {
        let ok = response(r#"{"status":"ok","retcode":0,"data":{"message_id":-12},"echo":"e1"}"#);
        assert_eq!(ok.echo_key().as_deref(), Some("e1"));
        assert_eq!(ok.into_result().unwrap(), json!({"message_id": -12}));

        // NapCat: retcode 1200 with a message.
        let napcat = response(
            r#"{"status":"failed","retcode":1200,"data":null,"message":"Timeout: NTEvent","wording":"x","echo":"e2"}"#,
        );
        assert_eq!(
            napcat.into_result(),
            Err(BackendError::Rejected {
                retcode: 1200,
                reason: "Timeout: NTEvent".into()
            })
        );
        // go-cqhttp: retcode 100, `msg` code and `wording`.
        let gocq = response(
            r#"{"status":"failed","retcode":100,"data":null,"msg":"SEND_MSG_API_ERROR","wording":"消息发送失败","echo":"e3"}"#,
        );
        assert_eq!(
            gocq.into_result(),
            Err(BackendError::Rejected {
                retcode: 100,
                reason: "消息发送失败".into()
            })
        );
        // NapCat over HTTP: retcode 200 is still a failure.
        assert!(
            response(r#"{"status":"failed","retcode":200,"data":null}"#)
                .into_result()
                .is_err()
        );
        // `async` is not success either.
        assert!(
            response(r#"{"status":"async","retcode":1,"data":null}"#)
                .into_result()
                .is_err()
        );
    }

    #[test]
    fn lost_echoes_and_auth_frames_are_recognised() {
        assert_eq!(response(r#"{"status":"ok","echo":""}"#).echo_key(), None);
        assert_eq!(response(r#"{"status":"ok","echo":null}"#).echo_key(), None);
        assert_eq!(response(r#"{"status":"ok"}"#).echo_key(), None);
        assert_eq!(
            response(r#"{"status":"ok","echo":17}"#)
                .echo_key()
                .as_deref(),
            Some("17")
        );
        let denied =
            response(r#"{"status":"failed","retcode":1403,"data":null,"message":"token验证失败"}"#);
        assert!(denied.is_auth_failure());
        assert!(!response(r#"{"status":"failed","retcode":1200}"#).is_auth_failure());
    }
}
