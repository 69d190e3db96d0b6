//! `[bus]`: the fleet bus (NATS JetStream) a gateway publishes its reports
//! to and takes answers and API commands from (`crate::bus`). Absent, there
//! is no bus. Checked by `Config::check`; turned into durations and the
//! client's options only by `crate::bus`.

use std::path::PathBuf;

use serde::Deserialize;

/// `[bus]`: where the NATS server is, how to log in, what to publish.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusSection {
    /// The bus's kind; only `"nats"` (JetStream) is built.
    pub kind: BusKind,
    /// The NATS server(s): `nats://host:port`, or several separated by
    /// commas (a cluster's seeds).
    pub url: String,
    /// Credentials: `user` + `password`, or `token`, or a `.creds` file
    /// (NATS's JWT + nkey). At most one kind.
    pub user: Option<String>,
    pub password: Option<String>,
    pub token: Option<String>,
    pub creds: Option<PathBuf>,
    /// The JetStream stream that holds every gateway's reports; created if
    /// missing (any gateway may create it; the first one's settings stay).
    pub stream: String,
    /// The first token of every subject: `<prefix>.<account>.message.group`.
    pub prefix: String,
    /// Which received messages are published: those no bot took
    /// (`"unanswered"`, as `post_api`), or every one (`"all"`).
    pub messages: BusMessages,
    /// Reports held while NATS is unreachable (or slower than the gateway);
    /// past it, new reports are dropped and counted (`/metrics`).
    pub buffer: usize,
    /// Published messages kept so a worker's answer can be carried out
    /// (the oldest forgotten first), and as many answered report ids
    /// remembered so a second answer is not carried out again.
    pub answers_kept: usize,
    /// How long the stream keeps a report nobody took (hours; 0 = no limit).
    pub max_age_hours: u64,
}

#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BusKind {
    #[default]
    Nats,
}

/// Which received messages go on the bus.
#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BusMessages {
    /// Those no bot took: what `post_api` gets.
    #[default]
    Unanswered,
    /// Every received message, before the bots decide (workers see
    /// everything; an answer to one a bot took is carried out too).
    All,
}

impl Default for BusSection {
    fn default() -> Self {
        BusSection {
            kind: BusKind::Nats,
            url: "nats://127.0.0.1:4222".into(),
            user: None,
            password: None,
            token: None,
            creds: None,
            stream: "OPENQQ".into(),
            prefix: "openqq".into(),
            messages: BusMessages::Unanswered,
            buffer: 100_000,
            answers_kept: 100_000,
            max_age_hours: 24 * 7,
        }
    }
}

/// The most reports the buffer or the answer book may hold.
const MAX_HELD: usize = 10_000_000;

impl BusSection {
    /// Checks what the types cannot say.
    ///
    /// # Errors
    /// A setting out of range or two kinds of credentials, named by key.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.url.trim().is_empty() {
            anyhow::bail!("[bus] url is empty; give the NATS server, e.g. nats://127.0.0.1:4222");
        }
        for u in self.url.split(',') {
            let u = u.trim();
            let rest = u.split_once("://").map_or(u, |(scheme, rest)| {
                if matches!(scheme, "nats" | "tls") {
                    rest
                } else {
                    ""
                }
            });
            if rest.is_empty() || rest.contains('/') && !rest.ends_with('/') {
                anyhow::bail!(
                    "[bus] url {u:?} is not a NATS address (nats://host:port or tls://host:port)"
                );
            }
        }
        let kinds = [
            self.user.is_some() || self.password.is_some(),
            self.token.is_some(),
            self.creds.is_some(),
        ];
        if kinds.iter().filter(|k| **k).count() > 1 {
            anyhow::bail!("[bus] give one kind of credentials: user + password, token, or creds");
        }
        if self.user.is_some() != self.password.is_some() {
            anyhow::bail!("[bus] user and password go together");
        }
        if let Some(path) = &self.creds
            && !path.is_file()
        {
            anyhow::bail!("[bus] creds {} is not a readable file", path.display());
        }
        if self.stream.is_empty()
            || self
                .stream
                .chars()
                .any(|c| c.is_whitespace() || matches!(c, '.' | '*' | '>' | '/' | '\\'))
        {
            anyhow::bail!(
                "[bus] stream = {:?}, but a stream name must be non-empty, without spaces, '.', '*', '>', '/' or '\\'",
                self.stream
            );
        }
        if !is_subject_prefix(&self.prefix) {
            anyhow::bail!(
                "[bus] prefix = {:?}, but it must be subject tokens (letters, digits, '-', '_') joined by '.'",
                self.prefix
            );
        }
        for (key, v) in [("buffer", self.buffer), ("answers_kept", self.answers_kept)] {
            if !(1..=MAX_HELD).contains(&v) {
                anyhow::bail!("[bus] {key} = {v}, but it must be 1 to {MAX_HELD}");
            }
        }
        if self.max_age_hours > 24 * 365 * 10 {
            anyhow::bail!(
                "[bus] max_age_hours = {}, but it must be 0 (no limit) to 87600",
                self.max_age_hours
            );
        }
        Ok(())
    }
}

/// Tokens of letters, digits, `-` and `_`, joined by dots: no wildcards, so
/// a gateway's subjects are exactly its own.
fn is_subject_prefix(p: &str) -> bool {
    !p.is_empty()
        && p.split('.').all(|t| {
            !t.is_empty()
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bus(toml: &str) -> anyhow::Result<BusSection> {
        let b: BusSection = toml::from_str(toml)?;
        b.check()?;
        Ok(b)
    }

    #[test]
    fn defaults_are_a_local_server_and_the_unanswered_messages() {
        let b = bus("").unwrap();
        assert_eq!(b.kind, BusKind::Nats);
        assert_eq!(
            (b.url.as_str(), b.prefix.as_str(), b.stream.as_str()),
            ("nats://127.0.0.1:4222", "openqq", "OPENQQ")
        );
        assert_eq!(b.messages, BusMessages::Unanswered);
        assert_eq!(
            bus("messages = \"all\"").unwrap().messages,
            BusMessages::All
        );
        assert!(bus("kind = \"kafka\"").is_err());
        assert!(bus("messages = \"some\"").is_err());
    }

    #[test]
    fn bad_settings_are_named() {
        let err = |t: &str| bus(t).unwrap_err().to_string();
        assert!(err("url = \"http://x:4222\"").contains("[bus] url"));
        assert!(err("prefix = \"a.*\"").contains("[bus] prefix"));
        assert!(err("prefix = \"a..b\"").contains("[bus] prefix"));
        assert!(err("stream = \"a.b\"").contains("[bus] stream"));
        assert!(err("buffer = 0").contains("[bus] buffer = 0"));
        assert!(err("user = \"u\"").contains("user and password"));
        assert!(err("token = \"t\"\nuser = \"u\"\npassword = \"p\"").contains("one kind"));
        assert!(err("creds = \"/nonexistent/x.creds\"").contains("creds"));
        assert!(bus("url = \"nats://a:4222, nats://b:4222\"\nprefix = \"fleet.eu-1\"").is_ok());
        assert!(bus("url = \"127.0.0.1:4222\"").is_ok());
    }
}
