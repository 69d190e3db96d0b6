//! The mock behind [`crate::http`]: canned responses per URL, every
//! request recorded, enforced `http` grants.

use std::collections::BTreeMap;

use super::grants::may_fetch;
use super::{MockHost, with_state};
use crate::http::{Error, ErrorCode, Headers, Request, Response, Target};

/// The mock's web: what each URL answers, and what was asked.
#[derive(Default)]
pub(super) struct Web {
    answers: BTreeMap<String, Result<Response, ErrorCode>>,
    requests: Vec<Request>,
}

impl MockHost {
    /// Answers every later request to `url` (as the bot writes it, without
    /// a `#fragment`) with `response`, whatever the method; replaces an
    /// earlier answer. A URL with no answer fails with
    /// `ErrorCode::ConnectionRefused`.
    pub fn http_respond(&self, url: &str, response: Response) {
        with_state(|s| s.web.answers.insert(url.to_owned(), Ok(response)));
    }

    /// Fails every later request to `url` with `code` (e.g.
    /// `ErrorCode::ConnectionTimeout`).
    pub fn http_fail(&self, url: &str, code: ErrorCode) {
        with_state(|s| s.web.answers.insert(url.to_owned(), Err(code)));
    }

    /// Every request sent so far, refused ones included, oldest first.
    pub fn http_requests(&self) -> Vec<Request> {
        with_state(|s| s.web.requests.clone())
    }
}

/// A response with `status` and `body`, no headers.
pub fn http_response(status: u16, body: impl Into<Vec<u8>>) -> Response {
    Response {
        status,
        headers: Headers::default(),
        body: body.into(),
    }
}

/// A response with `status` and `value` as its JSON body.
pub fn http_json(status: u16, value: &serde_json::Value) -> Response {
    let mut r = http_response(status, value.to_string());
    r.headers.append("content-type", "application/json");
    r
}

pub(crate) fn send(req: &Request, target: &Target) -> Result<Response, Error> {
    with_state(|s| {
        s.web.requests.push(req.clone());
        if may_fetch(s, &target.origin()).is_err() {
            return Err(Error::Http(ErrorCode::HttpRequestDenied));
        }
        let url = req.url.split('#').next().unwrap_or("");
        match s.web.answers.get(url) {
            Some(answer) => answer.clone().map_err(Error::Http),
            None => Err(Error::Http(ErrorCode::ConnectionRefused)),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Grants;
    use serde_json::json;

    const URL: &str = "https://api.example.com/v1/x";

    #[test]
    fn canned_answers_per_url_and_requests_recorded() {
        let mock = MockHost::new();
        mock.http_respond(URL, http_json(200, &json!({"ok": true})));
        let r = Request::post(URL).json(&json!({"q": 1})).unwrap();
        let answer = r.send().unwrap();
        assert_eq!(
            answer.json::<serde_json::Value>().unwrap(),
            json!({"ok": true})
        );
        assert_eq!(answer.headers.get("Content-Type"), Some("application/json"));
        assert_eq!(
            Request::get("https://api.example.com/other").send(),
            Err(Error::Http(ErrorCode::ConnectionRefused))
        );
        mock.http_fail(URL, ErrorCode::ConnectionTimeout);
        assert!(Request::get(URL).send().unwrap_err().is_timeout());
        assert!(matches!(
            Request::get("nope").send(),
            Err(Error::Invalid(_))
        ));

        let asked = mock.http_requests();
        assert_eq!(asked.len(), 3, "an invalid URL is not sent");
        assert_eq!(asked[0], r);
        assert_eq!(asked[1].url, "https://api.example.com/other");
    }

    #[test]
    fn enforced_grants_deny_other_origins() {
        let mock = MockHost::new();
        mock.http_respond(URL, http_response(200, "hi"));
        mock.http_respond("http://127.0.0.1:8080/", http_response(200, "local"));
        mock.enforce_grants(Grants::least().http("https://api.example.com"));
        assert_eq!(Request::get(URL).send().unwrap().text(), Ok("hi"));
        let refused = Request::get("http://127.0.0.1:8080/").send().unwrap_err();
        assert!(refused.is_denied(), "{refused}");
        assert_eq!(
            mock.denials(),
            ["denied: http to http://127.0.0.1:8080: not in http"]
        );
        mock.enforce_grants(Grants::least().http("http://127.0.0.1:8080/"));
        assert_eq!(
            Request::get("http://127.0.0.1:8080/")
                .send()
                .unwrap()
                .text(),
            Ok("local")
        );
        assert!(Request::get(URL).send().unwrap_err().is_denied());
    }
}
