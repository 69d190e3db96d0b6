//! The bot's config as `init` receives it.

use std::fmt::Display;
use std::str::FromStr;

/// The bot's `config` table from the gateway's TOML file, flattened to dotted
/// keys in the order the gateway gives them.
///
/// `{ reply = { ping = "pong" } }` arrives as `reply.ping = "pong"`, an array
/// `words = ["a", "b"]` as `words.0` and `words.1`, and numbers and booleans
/// as their TOML text (`5`, `true`). When a key appears twice the first wins.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    entries: Vec<(String, String)>,
}

impl Config {
    /// Wraps the key/value pairs `init` received.
    pub fn new(entries: Vec<(String, String)>) -> Self {
        Config { entries }
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `key`, or `default` when it is not set.
    pub fn get_or<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        self.get(key).unwrap_or(default)
    }

    /// The value of `key` parsed as `T` (surrounding whitespace ignored), or
    /// `None` when it is not set.
    ///
    /// # Errors
    ///
    /// A value that does not parse, as a message naming the key, for example
    /// ``config `max_messages`: invalid digit found in string (got "five")``.
    pub fn parse<T>(&self, key: &str) -> Result<Option<T>, String>
    where
        T: FromStr,
        T::Err: Display,
    {
        let Some(raw) = self.get(key) else {
            return Ok(None);
        };
        raw.trim()
            .parse()
            .map(Some)
            .map_err(|e| format!("config `{key}`: {e} (got {raw:?})"))
    }

    /// Like [`parse`](Self::parse), with `default` when the key is not set.
    ///
    /// # Errors
    ///
    /// A value that is set but does not parse.
    pub fn parse_or<T>(&self, key: &str, default: T) -> Result<T, String>
    where
        T: FromStr,
        T::Err: Display,
    {
        Ok(self.parse(key)?.unwrap_or(default))
    }

    /// Like [`parse`](Self::parse), for a key the bot cannot work without.
    ///
    /// # Errors
    ///
    /// A missing key (``config `group` is required``) or a value that does not
    /// parse.
    pub fn require<T>(&self, key: &str) -> Result<T, String>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.parse(key)?
            .ok_or_else(|| format!("config `{key}` is required"))
    }

    /// The entries whose key starts with `prefix`, as (rest of the key, value),
    /// in the order given.
    ///
    /// `prefixed("reply.")` turns `reply.ping = "pong"` into `("ping", "pong")`.
    pub fn prefixed<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.iter()
            .filter_map(move |(k, v)| k.strip_prefix(prefix).map(|rest| (rest, v)))
    }

    /// The array `key` (`key.0`, `key.1`, … as flattened) parsed as `T`s, in
    /// the order given; empty when there is none.
    ///
    /// # Errors
    ///
    /// An item that does not parse, as a message naming its key, for example
    /// ``config `groups.1`: invalid digit found in string (got "abc")``.
    pub fn list<T>(&self, key: &str) -> Result<Vec<T>, String>
    where
        T: FromStr,
        T::Err: Display,
    {
        let prefix = format!("{key}.");
        self.iter()
            .filter(|(k, _)| {
                k.strip_prefix(&prefix)
                    .is_some_and(|i| !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()))
            })
            .map(|(k, raw)| {
                raw.trim()
                    .parse()
                    .map_err(|e| format!("config `{k}`: {e} (got {raw:?})"))
            })
            .collect()
    }

    /// All entries, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl From<Vec<(String, String)>> for Config {
    fn from(entries: Vec<(String, String)>) -> Self {
        Config::new(entries)
    }
}

/// Builds a config from pairs, as tests do: `Config::from_iter([("a", "1")])`.
impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Config {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        Config::new(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Config {
        Config::from_iter([
            ("reply.ping", "pong"),
            ("max", " 5 "),
            ("reply.hi", "hello"),
            ("bad", "five"),
            ("max", "6"),
        ])
    }

    #[test]
    fn get_finds_the_first_entry() {
        let c = sample();
        assert_eq!(c.get("max"), Some(" 5 "));
        assert_eq!(c.get("missing"), None);
        assert_eq!(c.get_or("missing", "dflt"), "dflt");
        assert_eq!(c.get_or("reply.ping", "dflt"), "pong");
        assert_eq!(c.len(), 5);
        assert!(!c.is_empty());
        assert!(Config::default().is_empty());
    }

    #[test]
    fn parse_trims_and_names_the_key_on_error() {
        let c = sample();
        assert_eq!(c.parse::<u32>("max"), Ok(Some(5)));
        assert_eq!(c.parse::<u32>("missing"), Ok(None));
        assert_eq!(c.parse_or::<u32>("missing", 7), Ok(7));
        let err = c.parse::<u32>("bad").unwrap_err();
        assert_eq!(
            err,
            "config `bad`: invalid digit found in string (got \"five\")"
        );
        assert_eq!(c.require::<u32>("max"), Ok(5));
        assert_eq!(
            c.require::<u32>("missing"),
            Err("config `missing` is required".to_owned())
        );
    }

    #[test]
    fn list_parses_array_items_only() {
        let c = Config::from_iter([
            ("groups.0", "1"),
            ("groups.x", "not an item"),
            ("groupsy", "2"),
            ("groups.1", " 3 "),
            ("other.0", "4"),
        ]);
        assert_eq!(c.list::<u64>("groups"), Ok(vec![1, 3]));
        assert_eq!(c.list::<u64>("missing"), Ok(vec![]));
        let bad = Config::from_iter([("groups.0", "1"), ("groups.1", "abc")]);
        assert_eq!(
            bad.list::<u64>("groups"),
            Err("config `groups.1`: invalid digit found in string (got \"abc\")".to_owned())
        );
    }

    #[test]
    fn prefixed_keeps_the_order_given() {
        let c = sample();
        let rules: Vec<_> = c.prefixed("reply.").collect();
        assert_eq!(rules, [("ping", "pong"), ("hi", "hello")]);
        assert_eq!(c.prefixed("nothing.").count(), 0);
    }
}
