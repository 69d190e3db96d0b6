//! What the property tests share. Each harness is a `props` module in a file
//! beside the code it tests (`extract_props.rs`, `cq_props.rs`, …), so
//! `cargo test -p openqq --lib props` runs them all and `scripts/fuzz.sh`
//! runs them longer.

use proptest::prelude::*;
use proptest::test_runner::Config;

/// `cases` per property, unless `PROPTEST_CASES` says otherwise: proptest
/// reads that variable only for its default config, never for
/// `Config::with_cases`, so a harness that sets its own count asks here.
pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// proptest's default config (regression files, shrinking) with
/// `cases(default)` cases.
pub fn config(default: u32) -> Config {
    Config {
        cases: cases(default),
        ..Config::default()
    }
}

/// Any JSON value: scalars of every kind (big and negative numbers, floats
/// of any size, any text), arrays and objects nested a few levels.
pub fn json_value() -> BoxedStrategy<serde_json::Value> {
    // NaN and the infinities become null.
    json_of(any::<f64>().boxed())
}

/// As `json_value`, with floats that serde_json reads back exactly (it
/// reads some of its own float output one unit in the last place off, not
/// the code under test's doing): for properties that compare values.
pub fn json_exact() -> BoxedStrategy<serde_json::Value> {
    json_of(any::<i32>().prop_map(|m| f64::from(m) / 1000.0).boxed())
}

fn json_of(floats: BoxedStrategy<f64>) -> BoxedStrategy<serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        floats.prop_map(Value::from),
        "(?s).{0,12}".prop_map(Value::String),
        "[0-9 +-]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(("(?s).{0,8}", inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
    .boxed()
}
