//! Typed arguments: how a command declares them, and how the words after
//! its name become values.

use std::fmt;

/// What kind of value an argument takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A whole number, possibly negative (`i64`).
    Int,
    /// A whole number of zero or more (`u64`).
    Uint,
    /// One word.
    Word,
    /// Everything left on the line (spaces kept, ends trimmed). Last only.
    Rest,
    /// A QQ number: an @-mention (`@name`, taken from the message's
    /// mentions in order) or the digits themselves.
    Qq,
}

/// One declared argument: a name for the help text and for
/// [`Call`](super::Call)'s accessors, a kind, and whether it may be left out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arg {
    pub(super) name: String,
    pub(super) kind: Kind,
    pub(super) optional: bool,
}

impl Arg {
    fn new(name: &str, kind: Kind) -> Arg {
        Arg {
            name: name.to_owned(),
            kind,
            optional: false,
        }
    }

    /// A whole number, possibly negative.
    pub fn int(name: &str) -> Arg {
        Arg::new(name, Kind::Int)
    }

    /// A whole number of zero or more.
    pub fn uint(name: &str) -> Arg {
        Arg::new(name, Kind::Uint)
    }

    /// One word.
    pub fn word(name: &str) -> Arg {
        Arg::new(name, Kind::Word)
    }

    /// The rest of the line (declare it last).
    pub fn rest(name: &str) -> Arg {
        Arg::new(name, Kind::Rest)
    }

    /// A QQ number, from an @-mention or digits.
    pub fn qq(name: &str) -> Arg {
        Arg::new(name, Kind::Qq)
    }

    /// May be left out (then the accessor answers `None`). Optional
    /// arguments come after the required ones.
    #[must_use]
    pub fn optional(mut self) -> Arg {
        self.optional = true;
        self
    }
}

/// How the help text shows an argument: `<sides>` required, `[sides]`
/// optional, `<text…>` the rest of the line, `<@member>` a QQ number.
impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.kind {
            Kind::Rest => format!("{}…", self.name),
            Kind::Qq => format!("@{}", self.name),
            _ => self.name.clone(),
        };
        if self.optional {
            write!(f, "[{name}]")
        } else {
            write!(f, "<{name}>")
        }
    }
}

/// A parsed argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Int(i64),
    Uint(u64),
    Text(String),
    Qq(u64),
}

/// Why the words did not fit the declaration; the text is for the sender.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgError(pub String);

/// Parses `line` (what follows the command's name) against `args`.
/// `mentions` are the QQ numbers an `@name` word stands for, in order.
pub(super) fn parse(
    args: &[Arg],
    line: &str,
    mentions: &mut impl Iterator<Item = u64>,
) -> Result<Vec<(String, Value)>, ArgError> {
    let mut out = Vec::new();
    let mut rest = line.trim();
    for arg in args {
        if rest.is_empty() {
            if arg.optional {
                continue;
            }
            return Err(ArgError(format!("missing {arg}")));
        }
        if arg.kind == Kind::Rest {
            out.push((arg.name.clone(), Value::Text(rest.to_owned())));
            rest = "";
            continue;
        }
        let (word, after) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        rest = after.trim_start();
        let value = match arg.kind {
            Kind::Int => word.parse().map(Value::Int).map_err(|_| {
                ArgError(format!("{} must be a whole number, not {word:?}", arg.name))
            })?,
            Kind::Uint => word.parse().map(Value::Uint).map_err(|_| {
                ArgError(format!(
                    "{} must be a whole number ≥ 0, not {word:?}",
                    arg.name
                ))
            })?,
            Kind::Word | Kind::Rest => Value::Text(word.to_owned()),
            Kind::Qq => {
                if word.starts_with('@') {
                    let qq = mentions
                        .next()
                        .ok_or_else(|| ArgError(format!("{}: nobody mentioned", arg.name)))?;
                    Value::Qq(qq)
                } else {
                    let qq = word.parse().map_err(|_| {
                        ArgError(format!(
                            "{} must be an @-mention or a QQ number, not {word:?}",
                            arg.name
                        ))
                    })?;
                    Value::Qq(qq)
                }
            }
        };
        out.push((arg.name.clone(), value));
    }
    if !rest.is_empty() {
        return Err(ArgError(format!("too many arguments: {rest:?}")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[Arg], line: &str, mentions: &[u64]) -> Result<Vec<Value>, String> {
        parse(args, line, &mut mentions.iter().copied())
            .map(|v| v.into_iter().map(|(_, v)| v).collect())
            .map_err(|e| e.0)
    }

    #[test]
    fn each_kind_parses_and_says_why_not() {
        let args = [
            Arg::int("delta"),
            Arg::uint("n"),
            Arg::word("w"),
            Arg::rest("text"),
        ];
        assert_eq!(
            run(&args, " -3  7 ok  the rest  here ", &[]),
            Ok(vec![
                Value::Int(-3),
                Value::Uint(7),
                Value::Text("ok".into()),
                Value::Text("the rest  here".into())
            ])
        );
        assert_eq!(
            run(&args, "x", &[]),
            Err("delta must be a whole number, not \"x\"".into())
        );
        assert_eq!(
            run(&args, "1 -1", &[]),
            Err("n must be a whole number ≥ 0, not \"-1\"".into())
        );
        assert_eq!(run(&args, "1 2", &[]), Err("missing <w>".into()));
        assert_eq!(
            run(&[Arg::uint("n")], "1 2", &[]),
            Err("too many arguments: \"2\"".into())
        );
    }

    #[test]
    fn qq_comes_from_mentions_or_digits_and_optional_may_be_left_out() {
        let args = [Arg::qq("who"), Arg::uint("minutes").optional()];
        assert_eq!(
            run(&args, "@小明 10", &[42]),
            Ok(vec![Value::Qq(42), Value::Uint(10)])
        );
        assert_eq!(run(&args, "10001", &[]), Ok(vec![Value::Qq(10001)]));
        assert_eq!(
            run(&args, "@小明", &[]),
            Err("who: nobody mentioned".into())
        );
        assert_eq!(
            run(&args, "bob", &[]),
            Err("who must be an @-mention or a QQ number, not \"bob\"".into())
        );
        assert_eq!(Arg::uint("n").optional().to_string(), "[n]");
        assert_eq!(Arg::rest("text").to_string(), "<text…>");
    }
}
