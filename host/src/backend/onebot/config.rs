//! The `onebot` backend's settings: which side dials, where, with which
//! token, and its clocks; and the check of the URL.
//!
//! `crate::config` reads the file's `[backend]` section and builds an
//! `OnebotConfig` from it (the arrow runs that way only: nothing in the
//! backend reads the config file).

use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;

/// Which side of the OneBot WebSocket dials (`spec/onebot.md` §1.4, §1.5).
#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum OnebotMode {
    /// openqq dials the implementation's WebSocket server.
    #[default]
    Forward,
    /// openqq listens at `url`; the implementation dials in (Universal role).
    Reverse,
}

/// The `onebot` backend's settings (`[backend]` in the config file).
#[derive(Debug, Clone)]
pub struct OnebotConfig {
    /// `ws://host:port/path`: dialed in forward mode, listened on in reverse.
    pub url: String,
    pub access_token: String,
    pub mode: OnebotMode,
    /// Reads and mute/kick.
    pub timeout: Duration,
    /// Sends; past it the outcome is unknown and the send is not retried.
    pub send_timeout: Duration,
    /// Background contact refresh; `None` = only at login and reconnects.
    pub refresh: Option<Duration>,
}

impl OnebotConfig {
    /// Checks the URL.
    ///
    /// # Errors
    /// Not `ws://host[:port]/…` (TLS is not built in: use a loopback URL or
    /// a TLS-terminating proxy).
    pub fn check(&self) -> anyhow::Result<()> {
        if self.url.starts_with("wss://") {
            anyhow::bail!(
                "[backend] url: wss:// is not supported; connect over ws:// on the same host or through a TLS-terminating proxy"
            );
        }
        ws_parts(&self.url).with_context(|| {
            format!("[backend] url {:?} is not a ws://host:port/ URL", self.url)
        })?;
        Ok(())
    }
}

/// `ws://authority/path?query` → (authority, path without the query).
pub fn ws_parts(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("ws://")?;
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    let path = tail
        .split('?')
        .next()
        .filter(|p| !p.is_empty())
        .unwrap_or("/");
    (!authority.is_empty()).then_some((authority, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_address_and_path() {
        assert_eq!(
            ws_parts("ws://127.0.0.1:3001/"),
            Some(("127.0.0.1:3001", "/"))
        );
        assert_eq!(
            ws_parts("ws://127.0.0.1:8080"),
            Some(("127.0.0.1:8080", "/"))
        );
        assert_eq!(
            ws_parts("ws://localhost:8080/onebot/v11/ws?x=1"),
            Some(("localhost:8080", "/onebot/v11/ws"))
        );
        assert_eq!(ws_parts("ws://h:1?access_token=t"), Some(("h:1", "/")));
        assert_eq!(ws_parts("http://h/"), None);
        assert_eq!(ws_parts("ws:///x"), None);
    }
}
