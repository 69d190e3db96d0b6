//! `[journal]` (the opt-in record of inbound messages) and a script's swap
//! `gate` (`[[scripts]] gate = "replay:200"`), which replays that record.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// The most messages a journal may keep: the gate and `openqq replay` read
/// it whole, so it stays a size a reload can read in a moment.
pub const MAX_MESSAGES: usize = 1_000_000;
/// The most messages a gate may replay.
pub const MAX_GATE: usize = 100_000;

/// `[journal]`: where inbound messages are recorded, and for how long.
///
/// Off unless `path` is set: the journal holds users' messages (their
/// text, names and numbers), so recording them is the operator's choice.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JournalSection {
    /// The JSONL file, one message per line; none: no journal.
    pub path: Option<PathBuf>,
    /// The newest messages kept (default 10,000).
    pub max_messages: usize,
    /// How long a message is kept: a number and `s`, `m`, `h` or `d`
    /// (default `"7d"`).
    pub max_age: String,
}

impl Default for JournalSection {
    fn default() -> Self {
        JournalSection {
            path: None,
            max_messages: 10_000,
            max_age: "7d".to_string(),
        }
    }
}

impl JournalSection {
    /// `max_age` as a duration.
    ///
    /// # Errors
    /// Text that is not a number followed by `s`, `m`, `h` or `d`.
    pub fn max_age(&self) -> anyhow::Result<Duration> {
        parse_age(&self.max_age).ok_or_else(|| {
            anyhow::anyhow!(
                "[journal] max_age = {:?}: write a number and s, m, h or d (e.g. \"7d\", \"12h\")",
                self.max_age
            )
        })
    }

    /// Checks the bounds, and that every gated script has a journal to
    /// replay: a gate without one would let every version through while
    /// looking as if it checked them, so it is refused at load.
    ///
    /// # Errors
    /// A bound out of range, or a `gate` while `[journal] path` is unset.
    pub fn check(&self, scripts: &[super::ScriptEntry]) -> anyhow::Result<()> {
        if !(1..=MAX_MESSAGES).contains(&self.max_messages) {
            anyhow::bail!(
                "[journal] max_messages = {}, but it must be 1 to {MAX_MESSAGES}",
                self.max_messages
            );
        }
        let age = self.max_age()?;
        if age.is_zero() {
            anyhow::bail!("[journal] max_age must be more than 0");
        }
        if self.path.is_none()
            && let Some(e) = scripts.iter().find(|e| e.gate.is_some())
        {
            anyhow::bail!(
                "[[scripts]] {}: gate = \"replay:…\" replays the journal, but there is none: set [journal] path (the journal records users' messages; see the README)",
                e.script_name()
            );
        }
        Ok(())
    }
}

/// `"30s"`, `"15m"`, `"12h"`, `"7d"`.
fn parse_age(text: &str) -> Option<Duration> {
    let text = text.trim();
    let unit = text.chars().last()?;
    let n: u64 = text[..text.len() - unit.len_utf8()].trim().parse().ok()?;
    let secs = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return None,
    };
    n.checked_mul(secs).map(Duration::from_secs)
}

/// A script's swap gate: before a new version takes over, it decides the
/// last `last` journaled messages of the bot's chats in a scratch
/// instance; a trap or a timeout rejects it, and so does any decision that
/// differs from the running version's when `same` is set.
///
/// Written `"replay:N"` or `"replay:N:same"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gate {
    pub last: usize,
    /// Require the new version to decide every replayed message as the
    /// running one does.
    pub same: bool,
}

impl std::str::FromStr for Gate {
    type Err = String;

    fn from_str(s: &str) -> Result<Gate, String> {
        let bad = || {
            format!(
                "gate = {s:?}: write \"replay:N\" or \"replay:N:same\" (N from 1 to {MAX_GATE})"
            )
        };
        let mut parts = s.split(':');
        if parts.next() != Some("replay") {
            return Err(bad());
        }
        let last: usize = parts.next().and_then(|n| n.parse().ok()).ok_or_else(bad)?;
        let same = match parts.next() {
            None => false,
            Some("same") => true,
            Some(_) => return Err(bad()),
        };
        if parts.next().is_some() || !(1..=MAX_GATE).contains(&last) {
            return Err(bad());
        }
        Ok(Gate { last, same })
    }
}

impl std::fmt::Display for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "replay:{}", self.last)?;
        if self.same {
            f.write_str(":same")?;
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Gate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Gate, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gates_parse_and_print() {
        let g: Gate = "replay:200".parse().unwrap();
        assert_eq!(
            g,
            Gate {
                last: 200,
                same: false
            }
        );
        assert_eq!(g.to_string(), "replay:200");
        let g: Gate = "replay:5:same".parse().unwrap();
        assert!(g.same && g.last == 5);
        for bad in [
            "replay",
            "replay:0",
            "replay:x",
            "replay:5:other",
            "replay:5:same:x",
            "run:5",
        ] {
            assert!(bad.parse::<Gate>().is_err(), "{bad}");
        }
    }

    #[test]
    fn ages_parse() {
        assert_eq!(parse_age("7d"), Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_age("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_age("12h"), Some(Duration::from_secs(12 * 3600)));
        assert_eq!(parse_age("7"), None);
        assert_eq!(parse_age("d"), None);
        assert_eq!(parse_age("1w"), None);
    }

    #[test]
    fn a_gate_needs_a_journal() {
        let entry = super::super::ScriptEntry {
            path: "bot.wasm".into(),
            gate: Some("replay:10".parse().unwrap()),
            ..Default::default()
        };
        let off = JournalSection::default();
        let e = off.check(std::slice::from_ref(&entry)).unwrap_err();
        assert!(e.to_string().contains("[journal] path"), "{e}");
        let on = JournalSection {
            path: Some("j.jsonl".into()),
            ..JournalSection::default()
        };
        on.check(&[entry]).unwrap();
    }
}
