//! The Python template: `app.py` built into a component by componentize-py
//! (as `scripts/toolchains.sh python` installs it), against the 0.2.0 world
//! in `wit/0.2.0`. componentize-py's bindings are plain Python outside a
//! component, so `test.sh` runs the bot's unit tests with CPython.

use super::File;

const APP_PY: &str = r#""""{name}: an openqq bot in Python.

`ping` gets `pong`; `hello` gets a greeting by the sender's name (the
`greeting` key of the bot's config changes the word). Everything else
passes on to the next bot and the gateway's webhook.
"""
from typing import List, Optional, Tuple

import wit_world
from wit_world.imports import host
from wit_world.imports.openqq_bot_types import Decision, Event, Message


def answer(greeting: str, msg: Message) -> Optional[Decision]:
    """The bot's whole logic, free of host calls so it tests natively."""
    text = msg.content.rstrip()
    if text == "ping":
        return Decision(reply="pong", shutup=None)
    if text == "hello":
        return Decision(reply=f"{greeting}, {msg.sender.name}!", shutup=None)
    return None


class WitWorld(wit_world.WitWorld):
    greeting = "你好"

    def init(self, config: List[Tuple[str, str]]) -> None:
        WitWorld.greeting = dict(config).get("greeting", "你好")
        host.log(host.Level.INFO, "{name}: ready")

    def on_message(self, msg: Message) -> Optional[Decision]:
        return answer(WitWorld.greeting, msg)

    def on_event(self, event: Event) -> None:
        return None

    def on_timer(self, name: str, payload: str) -> None:
        return None
"#;

const TEST_APP_PY: &str = r#""""Unit tests of app.py, run natively by test.sh (no gateway needed)."""
import unittest

from app import answer
from wit_world.imports.openqq_bot_types import ChatKind, Decision, Message, Person


def friend_message(content: str) -> Message:
    sender = Person(id="1001", qq=10001, name="小明")
    me = Person(id="1", qq=1234567, name="小灰")
    return Message(id="1", kind=ChatKind.FRIEND, time=0, content=content,
                   sender=sender, receiver=me, group=None, discuss=None)


class AnswerTest(unittest.TestCase):
    def test_ping_gets_pong(self):
        self.assertEqual(answer("你好", friend_message("ping")), Decision(reply="pong", shutup=None))

    def test_hello_greets_the_sender_by_name(self):
        self.assertEqual(answer("你好", friend_message("hello")).reply, "你好, 小明!")

    def test_anything_else_passes(self):
        self.assertIsNone(answer("你好", friend_message("今天天气怎么样")))


if __name__ == "__main__":
    unittest.main()
"#;

const TOOLS: &str = r#"# componentize-py: on PATH, or in $OPENQQ_BOT_TOOLS/bin (openqq's
# scripts/toolchains.sh python puts it in <openqq checkout>/.venv-bots/bin).
if [[ -n "${OPENQQ_BOT_TOOLS:-}" ]]; then export PATH="$OPENQQ_BOT_TOOLS/bin:$PATH"; fi
command -v componentize-py >/dev/null || { echo "componentize-py not found: pip install componentize-py==0.25.1, or set OPENQQ_BOT_TOOLS" >&2; exit 1; }
cd "$(dirname "${BASH_SOURCE[0]}")"
rm -rf bindings
componentize-py -d wit/0.2.0 -w bot bindings bindings >/dev/null
"#;

const BUILD_SH: &str = r#"#!/usr/bin/env bash
# Builds {file}.wasm (openqq:bot@0.2.0) from app.py.
set -euo pipefail
{tools}componentize-py -d wit/0.2.0 -w bot componentize -p . -p bindings app -o {file}.wasm >/dev/null
echo "{file}.wasm: $(stat -c %s {file}.wasm) bytes"
"#;

const TEST_SH: &str = r#"#!/usr/bin/env bash
# Runs test_app.py with CPython against componentize-py's bindings.
set -euo pipefail
{tools}PYTHONPATH=.:bindings exec python3 -m unittest -v test_app
"#;

const README: &str = r#"# {name}

An openqq bot: a WebAssembly component for the world `openqq:bot/bot@0.2.0`,
written in Python and built with componentize-py. Edit `app.py`.

```sh
# 1. test natively, then build the component (needs componentize-py 0.25)
bash test.sh && bash build.sh
# 2. ask the gateway whether it can run it, and what it imports
openqq check {file}.wasm
# 3. run a gateway (simulated QQ) with this bot; it swaps in every rebuild
openqq serve --scripts .
```

{talk}

- `wit/0.2.0/` is the world, written by `openqq new`; `bindings/` is what
  componentize-py generates from it (not to be edited or committed).
- Host calls (`wit_world.imports.host`, `kv`, `timers`…) only work inside the
  gateway; keep logic in functions like `answer` so it tests natively.
- `openqq_commands.py` is openqq's command layer (prefix or @-mention,
  typed arguments, aliases, generated help, permissions, cooldowns) and the
  message's addressing (role, mentions, quote): `from openqq_commands
  import Commands`; its docstring shows how.
- The bot's name in the gateway is the file's: `{file}`. Give it config,
  grants and quotas in the gateway's `openqq.toml` (`[[scripts]]`).
"#;

const GITIGNORE: &str = "bindings/\n__pycache__/\n*.wasm\n";

pub(super) fn files(name: &str) -> Vec<File> {
    let file = name.replace('-', "_");
    let fill = |t: &str| {
        t.replace("{tools}", TOOLS)
            .replace("{talk}", super::TALK_TO_IT)
            .replace("{name}", name)
            .replace("{file}", &file)
    };
    let mut files = vec![
        File::new("app.py", fill(APP_PY)),
        File::new("test_app.py", TEST_APP_PY),
        File::new("build.sh", fill(BUILD_SH)),
        File::new("test.sh", fill(TEST_SH)),
        File::new("README.md", fill(README)),
        File::new(".gitignore", GITIGNORE),
    ];
    // The helper as it is (its own text may hold braces of the language).
    files.push(File::new(
        "openqq_commands.py",
        super::embedded::get(super::embedded::HELPERS, "guest-py/openqq_commands.py"),
    ));
    files.extend(super::wit_files());
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_is_filled_and_the_scripts_find_their_tools() {
        let files = files("my-bot");
        for f in &files[..6] {
            for hole in ["{name}", "{file}", "{tools}", "{talk}"] {
                assert!(!f.text.contains(hole), "{:?} keeps {hole}", f.path);
            }
        }
        assert!(
            files[2].text.contains("-o my_bot.wasm"),
            "{}",
            files[2].text
        );
        assert!(
            files[3].text.contains("OPENQQ_BOT_TOOLS"),
            "{}",
            files[3].text
        );
    }
}
