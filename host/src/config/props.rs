//! Property tests of the configuration file: any text is a config or an
//! error naming the file, never a panic; a setting of the wrong type or out
//! of its range is refused by an error that names its key.

use std::sync::atomic::{AtomicU64, Ordering};

use proptest::prelude::*;

use super::*;
use crate::props::config;

/// Writes `text` to a file of its own and loads it as `Config::load` would.
fn load(text: &str) -> (PathBuf, anyhow::Result<Config>) {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!("openqq-config-props-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let path = dir.join(format!("{}.toml", N.fetch_add(1, Ordering::Relaxed)));
    std::fs::write(&path, text).expect("a temporary file");
    let r = Config::load(&path);
    let _ = std::fs::remove_file(&path);
    (path, r)
}

/// (section, key, what it holds) of the settings whose types are checked.
const KEYS: &[(&str, &str, Holds)] = &[
    ("", "listen", Holds::Addr),
    ("", "post_api", Holds::Text),
    ("", "scripts_dir", Holds::Text),
    ("", "access_token", Holds::Text),
    ("", "api_version", Holds::Version),
    ("", "check_event_size", Holds::Number),
    ("backend", "kind", Holds::Kind),
    ("backend", "mode", Holds::Kind),
    ("backend", "url", Holds::Text),
    ("backend", "timeout_secs", Holds::Number),
    ("backend", "send_timeout_secs", Holds::Number),
    ("backend", "refresh_secs", Holds::Number),
    ("outbox", "spacing_ms", Holds::Number),
    ("outbox", "retries", Holds::Number),
    ("outbox", "queue", Holds::Number),
    ("webhook", "connect_timeout_secs", Holds::Number),
    ("webhook", "timeout_secs", Holds::Number),
    ("webhook", "concurrency", Holds::Number),
    ("webhook", "queue", Holds::Number),
    ("console", "log_lines", Holds::Number),
    ("limits", "timeout_ms", Holds::Number),
    ("limits", "memory_mb", Holds::Number),
    ("limits", "instances", Holds::Number),
];

#[derive(Debug, Clone, Copy)]
enum Holds {
    Number,
    Text,
    Addr,
    Kind,
    Version,
}

/// Values of the wrong type (or no valid value) for a setting.
fn wrong(holds: Holds) -> Vec<&'static str> {
    let mut v = vec!["{ a = 1 }", "[1, 2]", "1979-05-27T07:32:00Z"];
    v.extend(match holds {
        Holds::Number => ["\"5\"", "-1", "1.5", "true"].as_slice(),
        Holds::Text => ["5", "true", "2.5"].as_slice(),
        Holds::Addr => ["\"nonsense\"", "\"127.0.0.1\"", "5000", "\"[::1]:99999\""].as_slice(),
        Holds::Kind => ["\"sideways\"", "1", "\"\""].as_slice(),
        Holds::Version => ["3", "0", "\"two\"", "-2"].as_slice(),
    });
    v
}

fn text_of(section: &str, key: &str, value: &str, noise: &str) -> String {
    if section.is_empty() {
        format!("{key} = {value}\n{noise}")
    } else {
        format!("{noise}\n[{section}]\n{key} = {value}\n")
    }
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn any_text_is_a_config_or_an_error_naming_the_file(text in prop_oneof![
        any::<String>(),
        "([\\[\\]a-z_=\" .0-9{}]|\n|backend|limits|scripts|timeout_ms){0,40}",
    ]) {
        let (path, r) = load(&text);
        if let Err(e) = r {
            let e = format!("{e:#}");
            prop_assert!(e.contains(&path.display().to_string()), "{}", e);
        }
    }

    #[test]
    fn a_value_of_the_wrong_type_is_refused_naming_its_key(
        (section, key, value) in prop::sample::select(KEYS).prop_flat_map(|(s, k, h)| {
            (Just(s), Just(k), prop::sample::select(wrong(h)))
        }),
        // Valid settings around it: the error is still about this one.
        noise in prop::sample::select(vec!["", "check_event_size = 5", "post_api = \"http://127.0.0.1:9/\""]),
    ) {
        // (A key given twice is a TOML syntax error, "duplicate key" on
        // its line: not this property's business.)
        prop_assume!(!noise.starts_with(key));
        let text = text_of(section, key, value, noise);
        let (_, r) = load(&text);
        let e = format!("{:#}", r.expect_err("a wrong value"));
        prop_assert!(e.contains(key), "{:?} does not name `{}`:\n{}", e, key, text);
        if !section.is_empty() {
            prop_assert!(e.contains(section), "{:?} does not name [{}]:\n{}", e, section, text);
        }
    }

    #[test]
    fn a_duration_out_of_its_range_is_refused_naming_its_key(
        which in 0usize..7,
        value in prop_oneof![Just(0u64), 60_001u64..i64::MAX as u64, Just(i64::MAX as u64)],
    ) {
        let (name, _, min, max) = DURATIONS[which];
        let (section, key) = name.trim_start_matches('[').split_once("] ").expect("[section] key");
        let text = format!("[{section}]\n{key} = {value}\n");
        let (_, r) = load(&text);
        if (min..=max).contains(&value) {
            prop_assert!(r.is_ok());
        } else {
            let e = format!("{:#}", r.expect_err("out of range"));
            prop_assert!(e.contains(name), "{:?} does not name {}", e, name);
        }
    }

    #[test]
    fn an_unknown_key_is_refused_naming_it(
        section in prop::sample::select(vec!["", "backend", "outbox", "webhook", "limits"]),
        key in "[a-z_]{1,12}",
    ) {
        let known = KEYS.iter().any(|(_, k, _)| *k == key)
            || ["scripts", "cache_dir", "post_event_list", "admin_token", "world"].contains(&key.as_str());
        prop_assume!(!known);
        let (_, r) = load(&text_of(section, &key, "1", ""));
        let e = format!("{:#}", r.expect_err("an unknown key"));
        prop_assert!(e.contains(&format!("`{key}`")), "{}", e);
    }
}

/// Regression (found by `a_value_of_the_wrong_type_is_refused_naming_its_key`):
/// the error said "invalid type: map, expected socket address" and no key.
#[test]
fn a_wrong_type_names_the_key_path() {
    let (_, r) = load("listen = { a = 1 }\n");
    let e = format!("{:#}", r.expect_err("a map is no address"));
    assert!(e.contains("in `listen`"), "{e}");
    let (_, r) = load("[backend]\ntimeout_secs = \"5\"\n");
    let e = format!("{:#}", r.expect_err("a string is no number"));
    assert!(e.contains("in `backend.timeout_secs`"), "{e}");
}
