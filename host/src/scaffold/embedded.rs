//! What `openqq new` copies into a project, compiled into the binary so a
//! gateway installed by `cargo install` alone can scaffold bots: the Rust SDK
//! (`guest-sdk/src`), the 0.2.0 world (`wit/0.2.0`), the Python and
//! JavaScript command-layer helpers (`guest-py`, `guest-js`) and the JavaScript
//! example's build helpers (`scripts/keyword-reply-js`), as they are in this
//! checkout. A unit test checks the lists name every file on disk.

/// `(path in this repository, contents)`.
pub type Embedded = &'static [(&'static str, &'static str)];

macro_rules! embed {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../", $path)))),*]
    };
}

/// The Rust SDK's sources.
pub const SDK: Embedded = embed![
    "guest-sdk/src/addressing.rs",
    "guest-sdk/src/bindings.rs",
    "guest-sdk/src/command/args.rs",
    "guest-sdk/src/command/mod.rs",
    "guest-sdk/src/command/tests.rs",
    "guest-sdk/src/config.rs",
    "guest-sdk/src/host.rs",
    "guest-sdk/src/http/mod.rs",
    "guest-sdk/src/http/wasi.rs",
    "guest-sdk/src/kv.rs",
    "guest-sdk/src/lib.rs",
    "guest-sdk/src/message.rs",
    "guest-sdk/src/moderation.rs",
    "guest-sdk/src/runtime.rs",
    "guest-sdk/src/testing/addressing.rs",
    "guest-sdk/src/testing/grants.rs",
    "guest-sdk/src/testing/host.rs",
    "guest-sdk/src/testing/http.rs",
    "guest-sdk/src/testing/kv.rs",
    "guest-sdk/src/testing/mod.rs",
    "guest-sdk/src/testing/moderation.rs",
    "guest-sdk/src/testing/timers.rs",
    "guest-sdk/src/throttle.rs",
    "guest-sdk/src/timer.rs",
];

/// The `openqq:bot@0.2.0` world and the WASI packages it uses.
pub const WIT: Embedded = embed![
    "wit/0.2.0/bot.wit",
    "wit/0.2.0/deps/cli.wit",
    "wit/0.2.0/deps/clocks.wit",
    "wit/0.2.0/deps/filesystem.wit",
    "wit/0.2.0/deps/http.wit",
    "wit/0.2.0/deps/io.wit",
    "wit/0.2.0/deps/random.wit",
    "wit/0.2.0/deps/sockets.wit",
];

/// What a JavaScript project builds with: the pinned componentize-qjs
/// (`package.json`, `package-lock.json`) and the script that works around its
/// `init` export (`rename-init.mjs`), shared with this repository's
/// JavaScript example so both build the same way.
pub const JS: Embedded = embed![
    "scripts/keyword-reply-js/package-lock.json",
    "scripts/keyword-reply-js/package.json",
    "scripts/keyword-reply-js/rename-init.mjs",
];

/// The command-layer helpers of the languages without the Rust SDK: the
/// message's addressing and the decision as native objects.
pub const HELPERS: Embedded = embed!["guest-js/openqq_commands.js", "guest-py/openqq_commands.py"];

/// The text of one embedded file, by its path in this repository.
pub fn get(list: Embedded, path: &str) -> &'static str {
    list.iter()
        .find(|(p, _)| *p == path)
        .map(|(_, text)| *text)
        .unwrap_or_else(|| panic!("{path} is not embedded"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    fn files_under(root: &Path, dir: &str) -> BTreeSet<String> {
        fn walk(root: &Path, at: &Path, out: &mut BTreeSet<String>) {
            let entries = std::fs::read_dir(at).expect("a directory of the checkout");
            for entry in entries {
                let path = entry.expect("a readable entry").path();
                if path.is_dir() {
                    walk(root, &path, out);
                } else if let Ok(rel) = path.strip_prefix(root) {
                    out.insert(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        let mut out = BTreeSet::new();
        walk(root, &root.join(dir), &mut out);
        out
    }

    #[test]
    fn the_lists_name_every_file_of_the_sdk_and_the_world() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        for (list, dir) in [(SDK, "guest-sdk/src"), (WIT, "wit/0.2.0")] {
            let listed: BTreeSet<String> = list.iter().map(|(p, _)| p.to_string()).collect();
            assert_eq!(
                listed,
                files_under(&root, dir),
                "host/src/scaffold/embedded.rs must list every file of {dir}"
            );
        }
        // The helpers: every source file of guest-js and guest-py.
        let helpers: BTreeSet<String> = ["guest-js", "guest-py"]
            .iter()
            .flat_map(|d| files_under(&root, d))
            .filter(|p| p.ends_with(".js") || p.ends_with(".py"))
            .collect();
        let listed: BTreeSet<String> = HELPERS.iter().map(|(p, _)| p.to_string()).collect();
        assert_eq!(listed, helpers, "host/src/scaffold/embedded.rs: HELPERS");
        // The JavaScript example's files that are its build, not its bot.
        let js: BTreeSet<String> = files_under(&root, "scripts/keyword-reply-js")
            .into_iter()
            .filter(|p| !p.contains("/node_modules/") && !p.ends_with(".md"))
            .filter(|p| !p.ends_with("/app.js") && !p.ends_with("/build.sh"))
            .filter(|p| !p.ends_with("/.gitignore"))
            .collect();
        let listed: BTreeSet<String> = JS.iter().map(|(p, _)| p.to_string()).collect();
        assert_eq!(listed, js, "host/src/scaffold/embedded.rs: JS");
    }
}
