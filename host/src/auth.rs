//! Shared secrets presented with a request: the API's `access_token`, the
//! admin routes' `admin_token` and the OneBot reverse connection's token.
//!
//! One rule for all three: the secret comes as `Authorization: Bearer …`
//! (or `Token …`, as OneBot implementations send it; the scheme is
//! case-insensitive) or in a query parameter, and it is compared in
//! constant time so a caller cannot learn it byte by byte from timings.

use axum::http::{HeaderMap, Uri, header};

/// What a request presented against an expected secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presented {
    /// No secret at all (a 401 where the protocol distinguishes it).
    Missing,
    /// A secret that is not the expected one.
    Wrong,
    Right,
}

/// Where a secret is looked for: the `Authorization` header, then the
/// query parameter `query_key`.
#[derive(Debug, Clone, Copy)]
pub struct TokenCheck {
    pub query_key: &'static str,
}

impl TokenCheck {
    pub const fn new(query_key: &'static str) -> TokenCheck {
        TokenCheck { query_key }
    }

    /// Compares what `headers` and `uri` present with `secret`.
    pub fn check(&self, headers: &HeaderMap, uri: &Uri, secret: &str) -> Presented {
        let from_header = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer);
        let from_query = || {
            form_urlencoded::parse(uri.query()?.as_bytes())
                .find(|(k, _)| k == self.query_key)
                .map(|(_, v)| v.into_owned())
        };
        // Either place may carry it: a client behind a proxy that adds its
        // own `Authorization` still gets in with the query parameter.
        let from_query = from_query();
        match (from_header, from_query.as_deref()) {
            (None, None) => Presented::Missing,
            (h, q) if [h, q].into_iter().flatten().any(|g| same_secret(g, secret)) => {
                Presented::Right
            }
            _ => Presented::Wrong,
        }
    }
}

/// The token of an `Authorization: Bearer <t>` / `Token <t>` header.
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token"))
        .then(|| token.trim())
}

/// Equality whose time depends only on the lengths, not on where the
/// strings differ.
pub fn same_secret(given: &str, expected: &str) -> bool {
    given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(auth: Option<&str>, uri: &str) -> Presented {
        let mut headers = HeaderMap::new();
        if let Some(a) = auth {
            headers.insert(header::AUTHORIZATION, a.parse().unwrap());
        }
        TokenCheck::new("access_token").check(&headers, &uri.parse().unwrap(), "s3cret")
    }

    #[test]
    fn header_or_query_with_either_scheme() {
        assert_eq!(check(Some("Bearer s3cret"), "/x"), Presented::Right);
        assert_eq!(check(Some("bearer  s3cret "), "/x"), Presented::Right);
        assert_eq!(check(Some("Token s3cret"), "/x"), Presented::Right);
        assert_eq!(check(None, "/x?access_token=s3cret"), Presented::Right);
        assert_eq!(check(None, "/x?access_token=s3cre"), Presented::Wrong);
        assert_eq!(check(Some("Bearer nope"), "/x"), Presented::Wrong);
        assert_eq!(check(Some("Basic s3cret"), "/x"), Presented::Missing);
        assert_eq!(check(None, "/x?token=s3cret"), Presented::Missing);
        assert_eq!(
            check(Some("Bearer x"), "/x?access_token=s3cret"),
            Presented::Right
        );
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("ab", "abc"));
        assert!(!same_secret("", "a"));
    }
}
