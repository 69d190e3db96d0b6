//! Outbound HTTP origins, Spin-style: `https://api.example.com`,
//! `http://127.0.0.1:8080`. An origin is a scheme, a host and a port; a
//! request is allowed when its URL has exactly those (the default port of
//! the scheme when none is written). No wildcards over schemes or hosts:
//! a grant names what the operator agreed to.

use std::fmt;

use axum::http::Uri;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    https: bool,
    /// Lower-cased, as hosts compare.
    host: String,
    port: u16,
}

impl Origin {
    /// Parses `http://host[:port]` or `https://host[:port]` (a trailing `/`
    /// is allowed, a path is not).
    ///
    /// # Errors
    /// Another scheme, a path or query, a missing host, a bad port.
    pub fn parse(s: &str) -> Result<Origin, String> {
        let uri: Uri = s
            .trim()
            .parse()
            .map_err(|e| format!("`{s}`: not a URL ({e})"))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            Some(other) => {
                return Err(format!("`{s}`: scheme `{other}` (only http and https)"));
            }
            None => return Err(format!("`{s}`: no scheme (write `https://{s}`)")),
        };
        if uri.path_and_query().is_some_and(|p| p.as_str() != "/") {
            return Err(format!(
                "`{s}`: an origin has no path (write `{}://{}`)",
                uri.scheme_str().unwrap_or("https"),
                uri.authority().map_or("", |a| a.as_str())
            ));
        }
        let authority = uri.authority().ok_or_else(|| format!("`{s}`: no host"))?;
        if authority.as_str().contains('@') {
            return Err(format!("`{s}`: an origin has no user name or password"));
        }
        let host = authority.host();
        if host.is_empty() || host.contains('*') {
            return Err(format!("`{s}`: a host is named, without wildcards"));
        }
        // No user info (refused above): the authority is the host, then
        // `:port` or nothing.
        let port = match authority.as_str().get(host.len()..).unwrap_or("") {
            "" if https => 443,
            "" => 80,
            rest => rest
                .strip_prefix(':')
                .and_then(|p| p.parse::<u16>().ok())
                .ok_or_else(|| format!("`{s}`: `{rest}` is not a port number"))?,
        };
        Ok(Origin {
            https,
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    /// Whether a request to `scheme://host:port` is within this origin.
    pub fn allows(&self, https: bool, host: &str, port: Option<u16>) -> bool {
        let port = port.unwrap_or(if https { 443 } else { 80 });
        self.https == https && self.port == port && self.host.eq_ignore_ascii_case(host)
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        let default = if self.https { 443 } else { 80 };
        if self.port == default {
            write!(f, "{scheme}://{}", self.host)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_origin_allows_its_scheme_host_and_port_only() {
        let o = Origin::parse("https://API.example.com").unwrap();
        assert!(o.allows(true, "api.example.com", None));
        assert!(o.allows(true, "api.example.com", Some(443)));
        assert!(!o.allows(false, "api.example.com", None));
        assert!(!o.allows(true, "api.example.com", Some(8443)));
        assert!(!o.allows(true, "evil.example.com", None));
        assert!(!o.allows(true, "api.example.com.evil.net", None));
        assert_eq!(o.to_string(), "https://api.example.com");
        let local = Origin::parse("http://127.0.0.1:8080/").unwrap();
        assert!(local.allows(false, "127.0.0.1", Some(8080)));
        assert!(!local.allows(false, "127.0.0.1", Some(8081)));
        assert_eq!(local.to_string(), "http://127.0.0.1:8080");
    }

    #[test]
    fn what_is_not_an_origin_is_refused_with_why() {
        for (bad, says) in [
            ("api.example.com", "no scheme"),
            ("ftp://example.com", "scheme"),
            ("https://example.com/v1", "no path"),
            ("https://*.example.com", "without wildcards"),
            ("https://user:pw@example.com", "user name"),
            ("https://example.com:99999", "not a port"),
        ] {
            let e = Origin::parse(bad).expect_err(bad);
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
