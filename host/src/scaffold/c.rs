//! The C template: `app.c` (the component's exports, over the bindings
//! `wit-bindgen c` generates from `wit/0.2.0`) and `hello.c` (the logic,
//! plain C that `test.sh` compiles natively with a test `main`), built as
//! this repository's `keyword-reply-c` is: clang with the wasm32-wasi
//! wasi-libc (preview 1), then `wasm-tools component new` with the
//! preview-1 reactor adapter.

use super::File;

const HELLO_H: &str = r#"// {name}'s logic: plain C, no bindings, so test.sh compiles it natively.
#ifndef HELLO_H
#define HELLO_H

#include <stddef.h>

// The reply to a message of `text` from `sender` (neither NUL-terminated),
// malloc'd and NUL-terminated; or NULL to pass the message on.
char *hello_answer(const char *greeting, const char *text, size_t text_len, const char *sender,
                   size_t sender_len);

#endif
"#;

const HELLO_C: &str = r#"// `ping` gets `pong`; `hello` gets a greeting by the sender's name.
// Everything else passes on to the next bot and the gateway's webhook.
#include "hello.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static int equals(const char *text, size_t len, const char *word) {
  return len == strlen(word) && memcmp(text, word, len) == 0;
}

char *hello_answer(const char *greeting, const char *text, size_t text_len, const char *sender,
                   size_t sender_len) {
  while (text_len > 0 && is_space(text[text_len - 1])) text_len--;
  if (equals(text, text_len, "ping")) {
    char *reply = malloc(5);
    if (reply) memcpy(reply, "pong", 5);
    return reply;
  }
  if (equals(text, text_len, "hello")) {
    size_t n = strlen(greeting) + sender_len + 4;  // ", " "!" NUL
    char *reply = malloc(n);
    if (reply) snprintf(reply, n, "%s, %.*s!", greeting, (int)sender_len, sender);
    return reply;
  }
  return NULL;
}
"#;

const APP_C: &str = r#"// {name}: an openqq bot in C, the component's exports over the bindings
// wit-bindgen generates (bindings/bot.h). The logic is in hello.c.
//
// Ownership (wit-bindgen C): an export owns its arguments and frees them; the
// strings it returns must be malloc'd (the generated post-return frees them).
#include "bot.h"
#include "hello.h"

#include <stdlib.h>
#include <string.h>

// One instance serves many messages: the config lives in globals.
static char *greeting;

static void log_info(const char *line) {
  bot_string_t text;
  bot_string_set(&text, line);  // borrowed: imports do not take ownership
  openqq_bot_host_log(OPENQQ_BOT_HOST_LEVEL_INFO, &text);
}

// The `greeting` key of the bot's config changes the word.
bool exports_bot_init(bot_list_tuple2_string_string_t *config, bot_string_t *err) {
  (void)err;  // returning false with *err set rejects this version
  free(greeting);
  greeting = strdup("你好");
  for (size_t i = 0; i < config->len; i++) {
    bot_string_t *key = &config->ptr[i].f0, *value = &config->ptr[i].f1;
    if (key->len == strlen("greeting") && memcmp(key->ptr, "greeting", key->len) == 0) {
      free(greeting);
      greeting = strndup((const char *)value->ptr, value->len);
    }
  }
  bot_list_tuple2_string_string_free(config);
  if (!greeting) abort();
  log_info("{name}: ready");
  return true;
}

bool exports_bot_on_message(bot_message_t *msg, bot_decision_t *ret) {
  char *reply = hello_answer(greeting, (const char *)msg->content.ptr, msg->content.len,
                             (const char *)msg->sender.name.ptr, msg->sender.name.len);
  bot_message_free(msg);
  if (!reply) return false;  // none: pass it on
  memset(ret, 0, sizeof *ret);
  ret->reply.is_some = true;
  ret->reply.val.ptr = (uint8_t *)reply;  // malloc'd: the bindings free it
  ret->reply.val.len = strlen(reply);
  return true;
}

void exports_bot_on_event(bot_event_t *event) { bot_event_free(event); }

void exports_bot_on_timer(bot_string_t *name, bot_string_t *payload) {
  bot_string_free(name);
  bot_string_free(payload);
}
"#;

const TEST_HELLO_C: &str = r#"// Unit tests of hello.c: test.sh compiles them natively, no gateway needed.
#include "hello.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

static void expect(const char *name, const char *text, const char *want) {
  char *got = hello_answer("你好", text, strlen(text), "小明", strlen("小明"));
  int ok = (!got && !want) || (got && want && strcmp(got, want) == 0);
  printf("%s %s\n", ok ? "ok  " : "FAIL", name);
  if (!ok) {
    printf("  got %s, want %s\n", got ? got : "(pass)", want ? want : "(pass)");
    failures++;
  }
  free(got);
}

int main(void) {
  expect("ping gets pong", "ping", "pong");
  expect("hello greets the sender by name", "hello\n", "你好, 小明!");
  expect("anything else passes", "今天天气怎么样", NULL);
  printf("%s: %d failed\n", failures ? "FAILED" : "passed", failures);
  return failures != 0;
}
"#;

/// Finds the tools as this repository's C example does.
const TOOLS: &str = r#"# wit-bindgen, wasm-tools and the preview-1 reactor adapter: on PATH and in
# $OPENQQ_WASI_ADAPTER, or in $OPENQQ_BOT_TOOLS (openqq's scripts/toolchains.sh c
# puts them in <openqq checkout>/.venv-bots); clang-19 with Debian's wasi-libc.
if [[ -n "${OPENQQ_BOT_TOOLS:-}" ]]; then export PATH="$OPENQQ_BOT_TOOLS/bin:$PATH"; fi
adapter="${OPENQQ_WASI_ADAPTER:-${OPENQQ_BOT_TOOLS:-.}/share/wasi_snapshot_preview1.reactor.wasm}"
cc="${CC_WASM:-clang-19}"
for tool in wit-bindgen wasm-tools "$cc"; do
  command -v "$tool" >/dev/null || { echo "$tool not found: set OPENQQ_BOT_TOOLS (openqq's scripts/toolchains.sh c)" >&2; exit 1; }
done
[[ -f "$adapter" ]] || { echo "$adapter missing: set OPENQQ_WASI_ADAPTER or OPENQQ_BOT_TOOLS" >&2; exit 1; }
"#;

const BUILD_SH: &str = r#"#!/usr/bin/env bash
# Builds {file}.wasm (openqq:bot@0.2.0) from app.c and hello.c.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
{tools}tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
rm -rf bindings
if ! log=$(wit-bindgen c wit/0.2.0 --world bot --out-dir bindings 2>&1); then echo "$log" >&2; exit 1; fi
# -mexec-model=reactor: a library with exports, no main().
"$cc" --target=wasm32-wasi --sysroot="${WASI_SYSROOT:-/usr}" -O2 -Wall -Wextra -mexec-model=reactor \
  -I bindings -I . -o "$tmp/core.wasm" app.c hello.c bindings/bot.c bindings/bot_component_type.o
wasm-tools component new "$tmp/core.wasm" --adapt "wasi_snapshot_preview1=$adapter" -o "$tmp/component.wasm"
# Drop DWARF but keep function names, which traps show in the gateway's log.
wasm-tools strip "$tmp/component.wasm" -o {file}.wasm
wasm-tools validate --features all {file}.wasm
echo "{file}.wasm: $(stat -c %s {file}.wasm) bytes"
"#;

const TEST_SH: &str = r#"#!/usr/bin/env bash
# Compiles hello.c with test_hello.c natively and runs the tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
mkdir -p build
"${CC:-cc}" -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -g -o build/test_hello test_hello.c hello.c
exec build/test_hello
"#;

const README: &str = r#"# {name}

An openqq bot: a WebAssembly component for the world `openqq:bot/bot@0.2.0`,
written in C (wit-bindgen c, clang-19, wasi-libc). Edit `hello.c` (the
logic) and `app.c` (config, host calls).

```sh
# 1. test natively, then build the component (tools: see below)
bash test.sh && bash build.sh
# 2. ask the gateway whether it can run it, and what it imports
openqq check {file}.wasm
# 3. run a gateway (simulated QQ) with this bot; it swaps in every rebuild
openqq serve --scripts .
```

{talk}

- Tools: wit-bindgen 0.63 (C generator), wasm-tools, clang-19 with the
  wasm32 runtime and Debian's `wasi-libc`, and the preview-1 reactor adapter
  of wasmtime 48; openqq's `scripts/toolchains.sh c` installs them all, into
  `.venv-bots` of its checkout: `export OPENQQ_BOT_TOOLS=<that directory>`.
- `wit/0.2.0/` is the world, written by `openqq new`; `bindings/` is what
  `wit-bindgen c` generates from it on every build (`bindings/bot.h` declares
  every import, `openqq_bot_host_*`, `openqq_bot_kv_*`…).
- Host calls only work inside the gateway; keep logic in `hello.c` so it
  tests natively.
- The bot's name in the gateway is the file's: `{file}`. Give it config,
  grants and quotas in the gateway's `openqq.toml` (`[[scripts]]`).
"#;

const GITIGNORE: &str = "bindings/\nbuild/\n*.wasm\n";

pub(super) fn files(name: &str) -> Vec<File> {
    let file = super::file_name(name);
    let fill = |t: &str| {
        t.replace("{tools}", TOOLS)
            .replace("{talk}", super::TALK_TO_IT)
            .replace("{name}", name)
            .replace("{file}", &file)
    };
    let mut files = vec![
        File::new("hello.h", fill(HELLO_H)),
        File::new("hello.c", HELLO_C),
        File::new("app.c", fill(APP_C)),
        File::new("test_hello.c", TEST_HELLO_C),
        File::new("build.sh", fill(BUILD_SH)),
        File::new("test.sh", TEST_SH),
        File::new("README.md", fill(README)),
        File::new(".gitignore", GITIGNORE),
    ];
    files.extend(super::wit_files());
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_is_filled() {
        let files = files("my-bot");
        for f in files.iter().filter(|f| !f.path.starts_with("wit")) {
            for hole in ["{name}", "{file}", "{tools}", "{talk}"] {
                assert!(!f.text.contains(hole), "{:?} keeps {hole}", f.path);
            }
        }
        let build = &files[4].text;
        assert!(build.contains("-o my_bot.wasm"), "{build}");
        assert!(build.contains("OPENQQ_BOT_TOOLS"), "{build}");
    }
}
