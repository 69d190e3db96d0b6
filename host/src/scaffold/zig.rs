//! The Zig template: `app.zig` (the component's exports, over the C bindings
//! of `wit-bindgen c` seen through `zig translate-c`) and `hello.zig` (the
//! logic, with its tests, which `zig test` runs natively), built as this
//! repository's `keyword-reply-zig` is: `zig build-exe` for wasm32-wasi with
//! Zig's own wasi-libc, then `wasm-tools component new` with the preview-1
//! reactor adapter.

use super::File;

const HELLO_ZIG: &str = r#"//! {name}'s logic: plain Zig, no bindings, so `zig test hello.zig` runs it.
//!
//! `ping` gets `pong`; `hello` gets a greeting by the sender's name.
//! Everything else passes (`null`) on to the next bot and the gateway's webhook.
const std = @import("std");

/// The reply to a message of `text` from `sender`, allocated with `gpa`;
/// or null to pass the message on.
pub fn answer(gpa: std.mem.Allocator, greeting: []const u8, text: []const u8, sender: []const u8) !?[]u8 {
    const trimmed = std.mem.trimEnd(u8, text, " \t\r\n");
    if (std.mem.eql(u8, trimmed, "ping")) return try gpa.dupe(u8, "pong");
    if (std.mem.eql(u8, trimmed, "hello")) return try std.fmt.allocPrint(gpa, "{s}, {s}!", .{ greeting, sender });
    return null;
}

test "ping gets pong" {
    const reply = (try answer(std.testing.allocator, "你好", "ping", "小明")).?;
    defer std.testing.allocator.free(reply);
    try std.testing.expectEqualStrings("pong", reply);
}

test "hello greets the sender by name" {
    const reply = (try answer(std.testing.allocator, "你好", "hello\n", "小明")).?;
    defer std.testing.allocator.free(reply);
    try std.testing.expectEqualStrings("你好, 小明!", reply);
}

test "anything else passes" {
    try std.testing.expectEqual(null, try answer(std.testing.allocator, "你好", "今天天气怎么样", "小明"));
}
"#;

const APP_ZIG: &str = r#"//! {name}: an openqq bot in Zig, the component's exports over the C bindings
//! wit-bindgen generates (bindings/bot.h, translated to bindings/bot_c.zig by
//! build.sh). The logic is in hello.zig.
//!
//! Ownership (wit-bindgen C): an export owns its arguments and frees them;
//! the strings it returns must come from malloc (the generated post-return
//! frees them), hence `std.heap.c_allocator`.
const std = @import("std");
const c = @import("bindings/bot_c.zig");
const hello = @import("hello.zig");

const gpa = std.heap.c_allocator;

// One instance serves many messages: the config lives in globals.
var greeting: []u8 = &.{};

fn slice(s: c.bot_string_t) []const u8 {
    if (s.len == 0) return "";
    return s.ptr[0..s.len];
}

/// The `greeting` key of the bot's config changes the word.
export fn exports_bot_init(config: [*c]c.bot_list_tuple2_string_string_t, err: [*c]c.bot_string_t) bool {
    _ = err; // returning false with err.* set rejects this version
    defer c.bot_list_tuple2_string_string_free(config);
    gpa.free(greeting);
    var word: []const u8 = "你好";
    const entries: []const c.bot_tuple2_string_string_t = if (config.*.len == 0) &.{} else config.*.ptr[0..config.*.len];
    for (entries) |entry| {
        if (std.mem.eql(u8, slice(entry.f0), "greeting")) word = slice(entry.f1);
    }
    greeting = gpa.dupe(u8, word) catch @trap();
    const line = "{name}: ready";
    var text = c.bot_string_t{ .ptr = @constCast(line.ptr), .len = line.len }; // borrowed by the import
    c.openqq_bot_host_log(c.OPENQQ_BOT_HOST_LEVEL_INFO, &text);
    return true;
}

export fn exports_bot_on_message(msg: [*c]c.bot_message_t, ret: [*c]c.bot_decision_t) bool {
    defer c.bot_message_free(msg);
    const reply = hello.answer(gpa, greeting, slice(msg.*.content), slice(msg.*.sender.name)) catch @trap();
    const text = reply orelse return false; // none: pass it on
    ret.* = .{};
    ret.*.reply.is_some = true;
    ret.*.reply.val = .{ .ptr = text.ptr, .len = text.len }; // from malloc: the bindings free it
    return true;
}

export fn exports_bot_on_event(event: [*c]c.bot_event_t) void {
    c.bot_event_free(event);
}

export fn exports_bot_on_timer(name: [*c]c.bot_string_t, payload: [*c]c.bot_string_t) void {
    c.bot_string_free(name);
    c.bot_string_free(payload);
}
"#;

/// Finds the tools as this repository's Zig example does.
const TOOLS: &str = r#"# wit-bindgen, wasm-tools, zig and the preview-1 reactor adapter: on PATH and
# in $OPENQQ_WASI_ADAPTER, or in $OPENQQ_BOT_TOOLS (openqq's scripts/toolchains.sh
# zig puts them in <openqq checkout>/.venv-bots, zig as its Python package).
if [[ -n "${OPENQQ_BOT_TOOLS:-}" ]]; then export PATH="$OPENQQ_BOT_TOOLS/bin:$PATH"; fi
adapter="${OPENQQ_WASI_ADAPTER:-${OPENQQ_BOT_TOOLS:-.}/share/wasi_snapshot_preview1.reactor.wasm}"
if command -v zig >/dev/null; then zig=(zig)
elif [[ -n "${OPENQQ_BOT_TOOLS:-}" ]] && "$OPENQQ_BOT_TOOLS/bin/python" -c 'import ziglang' 2>/dev/null; then
  zig=("$OPENQQ_BOT_TOOLS/bin/python" -m ziglang)
else echo "zig not found: install Zig 0.17, or set OPENQQ_BOT_TOOLS (openqq's scripts/toolchains.sh zig)" >&2; exit 1; fi
"#;

const BUILD_SH: &str = r#"#!/usr/bin/env bash
# Builds {file}.wasm (openqq:bot@0.2.0) from app.zig and hello.zig.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
{tools}for tool in wit-bindgen wasm-tools; do
  command -v "$tool" >/dev/null || { echo "$tool not found: set OPENQQ_BOT_TOOLS (openqq's scripts/toolchains.sh zig)" >&2; exit 1; }
done
[[ -f "$adapter" ]] || { echo "$adapter missing: set OPENQQ_WASI_ADAPTER or OPENQQ_BOT_TOOLS" >&2; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
rm -rf bindings
if ! log=$(wit-bindgen c wit/0.2.0 --world bot --out-dir bindings 2>&1); then echo "$log" >&2; exit 1; fi
# Zig 0.17 has no @cImport: translate the header instead (the first
# translate-c on a machine builds the translator, a minute or two).
"${zig[@]}" translate-c bindings/bot.h -target wasm32-wasi -lc > bindings/bot_c.zig
# -fno-entry -rdynamic: a library with exports, no main().
"${zig[@]}" build-exe app.zig bindings/bot.c bindings/bot_component_type.o \
  -target wasm32-wasi -O ReleaseSmall -fno-entry -rdynamic -lc -I bindings \
  -femit-bin="$tmp/core.wasm"
wasm-tools component new "$tmp/core.wasm" --adapt "wasi_snapshot_preview1=$adapter" -o "$tmp/component.wasm"
# Drop DWARF but keep function names, which traps show in the gateway's log.
wasm-tools strip "$tmp/component.wasm" -o {file}.wasm
wasm-tools validate --features all {file}.wasm
echo "{file}.wasm: $(stat -c %s {file}.wasm) bytes"
"#;

const TEST_SH: &str = r#"#!/usr/bin/env bash
# Runs hello.zig's tests natively.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
{tools}exec "${zig[@]}" test hello.zig
"#;

const README: &str = r#"# {name}

An openqq bot: a WebAssembly component for the world `openqq:bot/bot@0.2.0`,
written in Zig (0.17) over the C bindings of wit-bindgen. Edit `hello.zig`
(the logic and its tests) and `app.zig` (config, host calls).

```sh
# 1. test natively, then build the component (tools: see below)
bash test.sh && bash build.sh
# 2. ask the gateway whether it can run it, and what it imports
openqq check {file}.wasm
# 3. run a gateway (simulated QQ) with this bot; it swaps in every rebuild
openqq serve --scripts .
```

{talk}

- Tools: Zig 0.17, wit-bindgen 0.63 (C generator), wasm-tools and the
  preview-1 reactor adapter of wasmtime 48; openqq's `scripts/toolchains.sh zig`
  installs them all, into `.venv-bots` of its checkout:
  `export OPENQQ_BOT_TOOLS=<that directory>`.
- `wit/0.2.0/` is the world, written by `openqq new`; `bindings/` is what
  `wit-bindgen c` and `zig translate-c` generate from it on every build
  (`bindings/bot_c.zig` declares every import, `openqq_bot_host_*`…).
- Host calls only work inside the gateway; keep logic in `hello.zig` so it
  tests natively.
- The bot's name in the gateway is the file's: `{file}`. Give it config,
  grants and quotas in the gateway's `openqq.toml` (`[[scripts]]`).
"#;

const GITIGNORE: &str = "bindings/\n.zig-cache/\nzig-out/\n*.wasm\n";

pub(super) fn files(name: &str) -> Vec<File> {
    let file = super::file_name(name);
    let fill = |t: &str| {
        t.replace("{tools}", TOOLS)
            .replace("{talk}", super::TALK_TO_IT)
            .replace("{name}", name)
            .replace("{file}", &file)
    };
    let mut files = vec![
        File::new("hello.zig", fill(HELLO_ZIG)),
        File::new("app.zig", fill(APP_ZIG)),
        File::new("build.sh", fill(BUILD_SH)),
        File::new("test.sh", fill(TEST_SH)),
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
        let build = &files[2].text;
        assert!(build.contains("-o my_bot.wasm"), "{build}");
        assert!(files[3].text.contains("ziglang"), "{}", files[3].text);
    }
}
