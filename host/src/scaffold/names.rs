//! Which bot names `openqq new` accepts. A name becomes the project's
//! directory, its `.wasm` file (`-` as `_`) and so the bot's name in the
//! gateway, and in Rust and JavaScript its crate or package: a name that
//! would not build, or would build something confusing, is refused up front
//! rather than by the language's toolchain minutes later.
//!
//! Every language: lower-case ASCII letters, digits, `-` and `_`, starting
//! with a letter, at most 64 bytes; not the SDK's own name. Then per language:
//! - Rust: not a crate of the standard library (`use std::…` would find the
//!   bot), not a keyword (cargo refuses those), not a crate the project
//!   depends on (`serde`, `syn`…: two crates of one name);
//! - JavaScript: not a Node.js built-in module (npm refuses those) nor the
//!   project's build tool (npm refuses to install a package into itself);
//! - Python, C, Zig: the name only names files (the code is `app.py`,
//!   `app.c`, `app.zig`), so nothing more.

use anyhow::bail;

use super::{Lang, file_name};

/// The Rust SDK's crate and every language's helper: a bot of that name
/// would depend on itself.
const SDK_NAMES: &[&str] = &["openqq-bot", "openqq_bot"];

/// The crates of Rust's standard library, as `-` → `_` names them.
const RUST_CRATES: &[&str] = &["std", "core", "alloc", "test", "proc_macro"];

/// Rust's keywords, strict and reserved, of every edition up to 2024.
const RUST_KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Node.js's built-in modules (`node:…`), which npm refuses as new
/// packages' names, and names npm itself reserves.
const NODE_BUILTINS: &[&str] = &[
    "assert",
    "async_hooks",
    "buffer",
    "child_process",
    "cluster",
    "console",
    "constants",
    "crypto",
    "dgram",
    "diagnostics_channel",
    "dns",
    "domain",
    "events",
    "fs",
    "http",
    "http2",
    "https",
    "inspector",
    "module",
    "net",
    "os",
    "path",
    "perf_hooks",
    "process",
    "punycode",
    "querystring",
    "readline",
    "repl",
    "sea",
    "sqlite",
    "stream",
    "string_decoder",
    "sys",
    "test",
    "timers",
    "tls",
    "trace_events",
    "tty",
    "url",
    "util",
    "v8",
    "vm",
    "wasi",
    "worker_threads",
    "zlib",
    "node_modules",
];

/// What a JavaScript project depends on to build.
const JS_TOOLS: &[&str] = &["componentize-qjs"];

/// Refuses `name` for a bot in `lang`, saying why.
pub fn check_name(name: &str, lang: Lang) -> anyhow::Result<()> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_ok =
        chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !first_ok || !rest_ok || name.len() > 64 {
        bail!(
            "bad bot name {name:?}: use lower-case letters, digits, '-' and '_', starting with a letter (at most 64)"
        );
    }
    if SDK_NAMES.contains(&name) {
        bail!("bad bot name {name:?}: it is the SDK's own name; call the bot something else");
    }
    let ident = file_name(name);
    match lang {
        Lang::Rust if RUST_CRATES.contains(&ident.as_str()) => bail!(
            "bad bot name {name:?}: it is a crate of Rust's standard library, which the bot's crate would shadow"
        ),
        Lang::Rust if RUST_KEYWORDS.contains(&ident.as_str()) => bail!(
            "bad bot name {name:?}: it is a Rust keyword, which cargo refuses as a crate name"
        ),
        Lang::Rust if super::rust::dependency_names().any(|d| file_name(d) == ident) => bail!(
            "bad bot name {name:?}: the project depends on a crate of that name (see its Cargo.lock)"
        ),
        Lang::Js if NODE_BUILTINS.contains(&name) => bail!(
            "bad bot name {name:?}: it is a Node.js built-in module, which npm refuses as a package name"
        ),
        Lang::Js if JS_TOOLS.contains(&name) => bail!(
            "bad bot name {name:?}: the project depends on a package of that name to build, and npm refuses to install a package into itself"
        ),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_are_not_crate_and_file_names_are_refused_in_every_language() {
        for lang in Lang::ALL {
            for good in ["a", "my-bot", "bot_2", "weather"] {
                assert!(check_name(good, lang).is_ok(), "{lang}: {good}");
            }
            for bad in [
                "",
                "2bot",
                "My-bot",
                "a b",
                "../x",
                "a/b",
                "机器人",
                "-a",
                "a.b",
                "openqq-bot",
                "openqq_bot",
                &"a".repeat(65),
            ] {
                assert!(check_name(bad, lang).is_err(), "{lang}: {bad:?}");
            }
        }
    }

    #[test]
    fn each_language_refuses_what_its_toolchain_would() {
        let refused = |name: &str, lang: Lang| match check_name(name, lang) {
            Ok(()) => panic!("{lang}: {name:?} accepted"),
            Err(e) => e.to_string(),
        };
        for name in ["std", "core", "alloc", "test", "proc_macro", "proc-macro"] {
            assert!(
                refused(name, Lang::Rust).contains("standard library"),
                "{name}"
            );
        }
        for name in ["fn", "self", "async", "r#fn", "gen", "type"] {
            assert!(check_name(name, Lang::Rust).is_err(), "{name}");
        }
        assert!(refused("match", Lang::Rust).contains("keyword"));
        for name in ["serde", "serde-json", "wit-bindgen", "syn"] {
            assert!(refused(name, Lang::Rust).contains("depends on"), "{name}");
        }
        for name in ["fs", "http", "test", "node_modules", "child_process"] {
            assert!(refused(name, Lang::Js).contains("Node.js"), "{name}");
        }
        assert!(refused("componentize-qjs", Lang::Js).contains("into itself"));
        // Only the files' names: no crate, no package of that name.
        for lang in [Lang::Python, Lang::C, Lang::Zig] {
            for name in ["std", "fn", "fs", "test", "componentize-qjs"] {
                assert!(check_name(name, lang).is_ok(), "{lang}: {name}");
            }
        }
        // A Rust bot may be called what Node reserves, and the reverse.
        assert!(check_name("fs", Lang::Rust).is_ok());
        assert!(check_name("fn", Lang::Js).is_ok());
    }
}
