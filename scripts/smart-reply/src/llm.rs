//! The model: an OpenAI-compatible chat-completions API (OpenAI, DeepSeek,
//! Moonshot, Ollama, llama.cpp's server, vLLM, …), one blocking request per
//! question: `POST {base_url}/v1/chat/completions` with `{"model",
//! "messages"}`, the answer in `choices[0].message.content`.

use std::fmt;

use openqq_bot::http::{self, Request};
use serde::{Deserialize, Serialize};

use crate::history::Turn;

/// Where the model is and how to ask it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Llm {
    /// `{base_url}/v1/chat/completions`.
    pub url: String,
    pub model: String,
    /// Sent as `Authorization: Bearer …` when set.
    pub api_key: Option<String>,
}

/// Why there is no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The request failed: denied by the gateway (no `http` grant for the
    /// origin, or the quota), timed out, refused, or a status that is not
    /// 2xx (a wrong key, a rate limit).
    Http(http::Error),
    /// The server answered something that is not a completion, or one
    /// without text.
    NoAnswer(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Http(e) => write!(f, "{e}"),
            Failure::NoAnswer(why) => write!(f, "no answer in the response: {why}"),
        }
    }
}

impl From<http::Error> for Failure {
    fn from(e: http::Error) -> Failure {
        Failure::Http(e)
    }
}

#[derive(Serialize)]
struct CompletionRequest<'a> {
    model: &'a str,
    messages: &'a [Turn],
}

#[derive(Deserialize)]
struct Completion {
    #[serde(default)]
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    message: AnswerMessage,
}

#[derive(Deserialize)]
struct AnswerMessage {
    /// `null` when the model answered with a tool call instead.
    content: Option<String>,
}

impl Llm {
    /// The API at `base_url` (`https://api.openai.com`, with or without a
    /// trailing `/`).
    pub fn new(base_url: &str, model: &str, api_key: Option<&str>) -> Llm {
        Llm {
            url: format!("{}/v1/chat/completions", base_url.trim_end_matches('/')),
            model: model.to_owned(),
            api_key: api_key.map(str::to_owned),
        }
    }

    /// The model's answer to `messages` (system prompt, history, question),
    /// trimmed.
    ///
    /// # Errors
    ///
    /// See [`Failure`].
    pub fn complete(&self, messages: &[Turn]) -> Result<String, Failure> {
        let body = CompletionRequest {
            model: &self.model,
            messages,
        };
        let mut request = Request::post(&self.url)
            .header("accept", "application/json")
            .json(&body)?;
        if let Some(key) = &self.api_key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        let completion: Completion = request.send()?.error_for_status()?.json()?;
        let content = completion
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| Failure::NoAnswer("no choices".into()))?
            .message
            .content
            .unwrap_or_default();
        match content.trim() {
            "" => Err(Failure::NoAnswer("empty content".into())),
            text => Ok(text.to_owned()),
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::history::Role;
    use openqq_bot::http::ErrorCode;
    use openqq_bot::testing::{self, MockHost};
    use serde_json::{Value, json};

    const URL: &str = "https://llm.example/v1/chat/completions";

    fn answer(text: &str) -> Value {
        json!({"id": "c1", "object": "chat.completion", "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ]})
    }

    #[test]
    fn asks_with_the_model_messages_and_key() {
        let host = MockHost::new();
        host.http_respond(URL, testing::http_json(200, &answer(" 你好！ \n")));
        let llm = Llm::new("https://llm.example/", "m1", Some("sk-1"));
        let turns = [
            Turn::new(Role::System, "be brief"),
            Turn::new(Role::User, "hi"),
        ];
        assert_eq!(llm.complete(&turns), Ok("你好！".into()));
        let sent = &host.http_requests()[0];
        assert_eq!(sent.url, URL);
        assert_eq!(sent.headers.get("authorization"), Some("Bearer sk-1"));
        assert_eq!(sent.headers.get("content-type"), Some("application/json"));
        let body: Value = serde_json::from_slice(&sent.body).unwrap();
        assert_eq!(
            body,
            json!({"model": "m1", "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "hi"}
            ]})
        );
        let keyless = Llm::new("https://llm.example", "m1", None);
        keyless.complete(&turns).unwrap();
        assert_eq!(host.http_requests()[1].headers.get("authorization"), None);
    }

    #[test]
    fn failures_say_why() {
        let host = MockHost::new();
        let llm = Llm::new("https://llm.example", "m", None);
        let turns = [Turn::new(Role::User, "hi")];
        let cases = [
            (
                testing::http_json(401, &json!({"error": "bad key"})),
                "HTTP status 401: {\"error\":\"bad key\"}",
            ),
            (
                testing::http_response(200, "<html>"),
                "cannot decode: body is not the JSON expected",
            ),
            (
                testing::http_json(200, &json!({"choices": []})),
                "no answer in the response: no choices",
            ),
            (
                testing::http_json(200, &answer("  ")),
                "no answer in the response: empty content",
            ),
            (
                testing::http_json(200, &json!({"choices": [{"message": {"content": null}}]})),
                "no answer in the response: empty content",
            ),
        ];
        for (response, want) in cases {
            host.http_respond(URL, response);
            let got = llm.complete(&turns).unwrap_err().to_string();
            assert!(got.starts_with(want), "{got}");
        }
        host.http_fail(URL, ErrorCode::HttpRequestDenied);
        let denied = llm.complete(&turns).unwrap_err();
        assert!(
            matches!(&denied, Failure::Http(e) if e.is_denied()),
            "{denied}"
        );
        assert!(denied.to_string().starts_with("denied: "));
    }
}
