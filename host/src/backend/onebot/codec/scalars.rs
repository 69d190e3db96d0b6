//! The lenient scalars every OneBot record is built from. Implementations
//! disagree on types (`spec/onebot.md` §6): an id may be a number, a numeric
//! string or a float, a display string may be a number or `null`, a boolean
//! may be `1` or `"1"`. Each type here reads every such form, so the records
//! in `action`, `event` and `data` can simply `#[derive(Deserialize)]`.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use serde_json::Value;

use crate::model::{GroupNumber, Qq};

/// A QQ number, group number or message id: `i64` on the wire, but sent as a
/// number or a numeric string depending on the implementation (message ids can
/// exceed `i32` and be negative: go-cqhttp#18, Shiro#385).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Id(pub i64);

impl Id {
    /// As a QQ number; `None` for 0 and negatives (no such account).
    pub fn qq(self) -> Option<Qq> {
        u64::try_from(self.0).ok().filter(|&n| n > 0).map(Qq)
    }

    pub fn group(self) -> Option<GroupNumber> {
        self.qq().map(|q| GroupNumber(q.0))
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Id, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Id;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer or a numeric string")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Id, E> {
                Ok(Id(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Id, E> {
                i64::try_from(v)
                    .map(Id)
                    .map_err(|_| E::custom("id out of range"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Id, E> {
                // Some JavaScript implementations serialise big ids as floats.
                if v.fract() == 0.0 && v.abs() < 9.0e15 {
                    Ok(Id(v as i64))
                } else {
                    Err(E::custom("id is not an integer"))
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Id, E> {
                let t = v.trim();
                if t.is_empty() {
                    return Ok(Id(0));
                }
                t.parse()
                    .map(Id)
                    .map_err(|_| E::custom("id is not numeric"))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Id, E> {
                Ok(Id(0))
            }
        }
        d.deserialize_any(V)
    }
}

/// A display string that some implementation sends as a number, a bool or
/// `null` (`level`, `card`, `remark`…).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Text, D::Error> {
        Ok(Text(match Value::deserialize(d)? {
            Value::String(s) => s,
            Value::Null => String::new(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => other.to_string(),
        }))
    }
}

/// A boolean that may come as `true`, `1` or `"1"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flag(pub bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Flag, D::Error> {
        Ok(Flag(match Value::deserialize(d)? {
            Value::Bool(b) => b,
            Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
            Value::String(s) => matches!(s.trim(), "1" | "true" | "True"),
            _ => false,
        }))
    }
}

/// For a field that is only informative: anything undecodable reads as 0
/// rather than making the whole event undecodable (and dropped).
pub(super) fn lenient_id<'de, D: Deserializer<'de>>(d: D) -> Result<Id, D::Error> {
    let v = Value::deserialize(d)?;
    Ok(Id::deserialize(v).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_numbers_and_numeric_strings() {
        #[derive(Deserialize)]
        struct T {
            a: Id,
            b: Id,
            c: Id,
            d: Option<Id>,
            e: Id,
        }
        let t: T = serde_json::from_str(
            r#"{"a": 1482675043933618437, "b": "-2147483649", "c": 12.0, "d": null, "e": " 42 "}"#,
        )
        .unwrap();
        assert_eq!(t.a, Id(1482675043933618437));
        assert_eq!(t.b, Id(-2147483649));
        assert_eq!(t.c, Id(12));
        assert_eq!(t.d, None);
        assert_eq!(t.e, Id(42));
        assert!(serde_json::from_str::<Id>(r#""abc""#).is_err());
        assert_eq!(Id(-5).qq(), None);
        assert_eq!(Id(0).qq(), None);
        assert_eq!(Id(10001).qq(), Some(Qq(10001)));
    }

    #[test]
    fn text_and_flag_are_lenient() {
        assert_eq!(serde_json::from_str::<Text>("5").unwrap().0, "5");
        assert_eq!(serde_json::from_str::<Text>("null").unwrap().0, "");
        assert!(serde_json::from_str::<Flag>("1").unwrap().0);
        assert!(serde_json::from_str::<Flag>(r#""true""#).unwrap().0);
        assert!(!serde_json::from_str::<Flag>("false").unwrap().0);
    }
}
