//! The Rust template: a crate that builds with `cargo build --release
//! --target wasm32-wasip2`, the SDK beside it as a path dependency
//! (`openqq-bot/`, the same sources as this repository's `guest-sdk`), and
//! the world in `wit/0.2.0`, where the SDK's bindings look for it; and a
//! `Cargo.lock` (`rust.lock`, cut from the workspace's by
//! `scripts/scaffold-lock.sh`) so it builds offline with the versions this
//! repository tests.

use std::path::PathBuf;

use super::File;
use super::embedded::SDK;

/// The versions the SDK's dependencies are pinned to here; a unit test
/// checks them against the workspace's `Cargo.toml`.
const WIT_BINDGEN: &str = "0.61";

/// The template's `Cargo.lock` without the bot's own entry, which `lock`
/// adds under the bot's name.
const LOCK: &str = include_str!("rust.lock");
const LOCK_SEPARATOR: &str = "\n[[package]]\n";
const SDK_VERSION: &str = "0.1.0";

const CARGO_TOML: &str = r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
# cdylib: the WebAssembly component; rlib: `cargo test` runs natively.
crate-type = ["cdylib", "rlib"]

[dependencies]
openqq-bot = { path = "openqq-bot" }

# A project of its own, even inside another Cargo workspace.
[workspace]

[profile.release]
opt-level = "s"
"#;

const SDK_CARGO_TOML: &str = r#"[package]
name = "openqq-bot"
version = "{sdk_version}"
description = "Write openqq bots (WebAssembly components for openqq:bot/bot@0.2.0) in Rust; written by `openqq new`"
edition = "2024"
publish = false

[dependencies]
wit-bindgen = "{wit_bindgen}"
serde = { version = "1", default-features = false, features = ["std"] }
serde_json = { version = "1", default-features = false, features = ["std"] }

[dev-dependencies]
serde = { version = "1", features = ["derive"] }
"#;

const LIB_RS: &str = r#"//! {name}: an openqq bot.
//!
//! `ping` gets `pong`; `hello` gets a greeting by the sender's name (the
//! `greeting` key of the bot's config changes the word). Everything else
//! passes on to the next bot and the gateway's webhook.

use openqq_bot::{Bot, Config, Decision, Message};

pub struct Hello {
    greeting: String,
}

impl Bot for Hello {
    fn init(config: &Config) -> Result<Self, String> {
        let greeting = config.get_or("greeting", "你好").to_owned();
        Ok(Hello { greeting })
    }

    fn on_message(&mut self, msg: &Message) -> Option<Decision> {
        match msg.text() {
            "ping" => Some(Decision::reply("pong")),
            "hello" => Some(Decision::reply(format!(
                "{}, {}!",
                self.greeting,
                msg.sender_name()
            ))),
            _ => None,
        }
    }
}

openqq_bot::export_bot!(Hello);

// Runs natively with `cargo test`: the SDK's mock host stands in for the gateway.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use openqq_bot::testing::{self, MockHost};

    fn bot() -> Hello {
        Hello::init(&Config::default()).expect("the default config")
    }

    #[test]
    fn ping_gets_pong() {
        let _host = MockHost::new();
        let msg = testing::group_message(552603, 10001, "小明", "ping");
        assert_eq!(bot().on_message(&msg), Some(Decision::reply("pong")));
    }

    #[test]
    fn hello_greets_the_sender_by_name() {
        let _host = MockHost::new();
        let msg = testing::friend_message(10001, "小明", "hello");
        assert_eq!(bot().on_message(&msg), Some(Decision::reply("你好, 小明!")));
    }

    #[test]
    fn anything_else_passes() {
        let _host = MockHost::new();
        let msg = testing::friend_message(10001, "小明", "今天天气怎么样");
        assert_eq!(bot().on_message(&msg), None);
    }
}
"#;

const README: &str = r#"# {name}

An openqq bot: a WebAssembly component for the world
`openqq:bot/bot@0.2.0`, written in Rust. Edit `src/lib.rs`.

```sh
# 1. test natively, then build the component (needs `rustup target add wasm32-wasip2`)
cargo test && cargo build --release --target wasm32-wasip2
# 2. ask the gateway whether it can run it, and what it imports
openqq check target/wasm32-wasip2/release/{file}.wasm
# 3. run a gateway (simulated QQ) with this bot; it swaps in every rebuild
openqq serve --scripts target/wasm32-wasip2/release
```

{talk}

- `openqq-bot/` is the Rust SDK (`cargo doc --open` documents it), `wit/0.2.0/`
  the world it binds: both written by `openqq new`; replace them with a newer
  gateway's by running `openqq new` again elsewhere and copying them over.
- `Cargo.lock` pins the versions this gateway was tested with, so
  `cargo build --offline` works once cargo has them (`--locked` keeps them).
- The bot's name in the gateway is the file's: `{file}`. Give it config,
  grants and quotas in the gateway's `openqq.toml` (`[[scripts]]`).
"#;

const GITIGNORE: &str = "target/\n";

/// The name of one `[[package]]` of a lock, from its first line.
fn block_name(block: &str) -> Option<&str> {
    block
        .lines()
        .next()?
        .strip_prefix("name = \"")?
        .strip_suffix('"')
}

/// The name of each `[[package]]` of a lock's text, in order.
fn lock_names(lock: &str) -> impl Iterator<Item = &str> {
    lock.split(LOCK_SEPARATOR).skip(1).filter_map(block_name)
}

/// The crates a new project depends on (the SDK's dependencies, all the
/// way down): a bot of one of these names would clash with it.
pub(super) fn dependency_names() -> impl Iterator<Item = &'static str> {
    lock_names(LOCK)
}

/// The `Cargo.lock` of a crate named `name`: the template's, with the bot's
/// entry where cargo sorts it (by name), so `cargo build --locked` finds
/// nothing to change.
fn lock(name: &str) -> String {
    let mut blocks: Vec<&str> = LOCK.split(LOCK_SEPARATOR).collect();
    let at = blocks
        .iter()
        .skip(1)
        .position(|b| block_name(b).is_some_and(|n| n > name))
        .map_or(blocks.len(), |i| i + 1);
    let own =
        format!("name = \"{name}\"\nversion = \"0.1.0\"\ndependencies = [\n \"openqq-bot\",\n]\n");
    blocks.insert(at, &own);
    blocks.join(LOCK_SEPARATOR)
}

pub(super) fn files(name: &str) -> Vec<File> {
    let fill = |t: &str| {
        t.replace("{talk}", super::TALK_TO_IT)
            .replace("{name}", name)
            .replace("{file}", &name.replace('-', "_"))
            .replace("{sdk_version}", SDK_VERSION)
            .replace("{wit_bindgen}", WIT_BINDGEN)
    };
    let mut files = vec![
        File::new("Cargo.toml", fill(CARGO_TOML)),
        File::new("Cargo.lock", lock(name)),
        File::new("src/lib.rs", fill(LIB_RS)),
        File::new("README.md", fill(README)),
        File::new(".gitignore", GITIGNORE),
        File::new("openqq-bot/Cargo.toml", fill(SDK_CARGO_TOML)),
    ];
    for (path, text) in SDK {
        let inside = path.strip_prefix("guest-sdk/").unwrap_or(path);
        files.push(File::new(PathBuf::from("openqq-bot").join(inside), *text));
    }
    files.extend(super::wit_files());
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace_toml(rel: &str) -> toml::Table {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(rel);
        let text = std::fs::read_to_string(&path).expect("a Cargo.toml of the checkout");
        text.parse().expect("valid TOML")
    }

    #[test]
    fn the_sdk_is_pinned_as_in_the_workspace() {
        let ws = workspace_toml("Cargo.toml");
        let deps = &ws["workspace"]["dependencies"];
        assert_eq!(deps["wit-bindgen"].as_str(), Some(WIT_BINDGEN));
        let sdk = workspace_toml("guest-sdk/Cargo.toml");
        assert_eq!(sdk["package"]["version"].as_str(), Some(SDK_VERSION));
    }

    #[test]
    fn every_placeholder_is_filled_and_the_tomls_parse() {
        let files = files("my-bot");
        for f in &files[..6] {
            assert!(
                !f.text.contains("{name}") && !f.text.contains("{file}"),
                "{:?}",
                f.path
            );
        }
        for f in files
            .iter()
            .filter(|f| f.path.extension().is_some_and(|x| x == "toml"))
        {
            f.text
                .parse::<toml::Table>()
                .expect("generated TOML parses");
        }
        let readme = &files[3].text;
        assert!(readme.contains("release/my_bot.wasm"), "{readme}");
    }
}

#[cfg(test)]
mod lock_tests {
    use super::*;

    /// `(name, version) -> checksum` of every registry package of a lock.
    fn registry(lock: &str) -> std::collections::BTreeMap<(String, String), String> {
        let table: toml::Table = lock.parse().expect("a lock parses as TOML");
        let packages = table["package"].as_array().expect("[[package]]");
        packages
            .iter()
            .filter_map(|p| {
                let get = |k: &str| p.get(k)?.as_str().map(str::to_owned);
                Some(((get("name")?, get("version")?), get("checksum")?))
            })
            .collect()
    }

    #[test]
    fn the_lock_pins_what_the_workspace_lock_pins() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
        let workspace = registry(&std::fs::read_to_string(path).expect("the workspace's lock"));
        let template = registry(LOCK);
        assert!(template.len() > 10, "{template:?}");
        for (package, checksum) in &template {
            assert_eq!(
                workspace.get(package),
                Some(checksum),
                "{package:?} is not in the workspace's Cargo.lock: run scripts/scaffold-lock.sh"
            );
        }
    }

    #[test]
    fn the_bots_entry_goes_where_cargo_sorts_it() {
        for name in ["a", "my-bot", "openqq-bots", "zzz"] {
            let text = lock(name);
            let names: Vec<&str> = lock_names(&text).collect();
            let mut sorted = names.clone();
            sorted.sort();
            assert_eq!(names, sorted, "{name}");
            assert_eq!(names.iter().filter(|n| **n == name).count(), 1, "{name}");
            let table: toml::Table = text.parse().expect("the lock parses");
            assert_eq!(table["version"].as_integer(), Some(4));
        }
        assert!(dependency_names().any(|n| n == "serde"));
        assert!(dependency_names().any(|n| n == "openqq-bot"));
    }
}
