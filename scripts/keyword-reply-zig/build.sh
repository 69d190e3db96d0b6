#!/usr/bin/env bash
# Builds target/bots/keyword-reply-zig.wasm: wit-bindgen c + zig translate-c
# + zig build-exe (Zig's own wasi-libc, preview 1) + the preview-1 reactor adapter.
# Tools: scripts/toolchains.sh zig
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
tools="${OPENQQ_BOT_TOOLS:-$repo/.venv-bots}"
[[ -d "$tools/bin" ]] && export PATH="$tools/bin:$PATH"
wit="${OPENQQ_WIT_DIR:-$repo/wit/0.1.0}"
adapter="${OPENQQ_WASI_ADAPTER:-$tools/share/wasi_snapshot_preview1.reactor.wasm}"
out="$repo/target/bots/keyword-reply-zig.wasm"
for tool in wit-bindgen wasm-tools; do
  command -v "$tool" >/dev/null || { echo "$tool not found: run scripts/toolchains.sh zig" >&2; exit 1; }
done
if command -v zig >/dev/null; then zig=(zig)
elif [[ -x "$tools/bin/python" ]] && "$tools/bin/python" -c 'import ziglang' 2>/dev/null; then zig=("$tools/bin/python" -m ziglang)
else echo "zig not found: run scripts/toolchains.sh zig" >&2; exit 1; fi
[[ -f "$adapter" ]] || { echo "$adapter missing: run scripts/toolchains.sh zig" >&2; exit 1; }

start=$(date +%s.%N)
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
b="$here/bindings"
rm -rf "$b"
if ! log=$(wit-bindgen c "$wit" --world bot --out-dir "$b" 2>&1); then echo "$log" >&2; exit 1; fi
# Zig 0.17 removed @cImport: translate the header once per build instead.
# (The very first translate-c on a machine builds the translator: ~2 min.)
"${zig[@]}" translate-c "$b/bot.h" -target wasm32-wasi -lc > "$b/bot_c.zig"
cp "$here/app.zig" "$b/app.zig"   # app.zig imports "bot_c.zig" from its own directory
# -fno-entry -rdynamic: a library with exports, no main().
(cd "$tmp" && "${zig[@]}" build-exe "$b/app.zig" "$b/bot.c" "$b/bot_component_type.o" \
  -target wasm32-wasi -O ReleaseSmall -fno-entry -rdynamic -lc -I "$b" -femit-bin="$tmp/core.wasm")
mkdir -p "$(dirname "$out")"
wasm-tools component new "$tmp/core.wasm" --adapt "wasi_snapshot_preview1=$adapter" -o "$tmp/component.wasm"
wasm-tools strip "$tmp/component.wasm" -o "$out"
wasm-tools validate --features all "$out"
end=$(date +%s.%N)
printf '%s: %s bytes (%.1f s)\n' "${out#$repo/}" "$(stat -c %s "$out")" "$(awk -v a="$start" -v b="$end" 'BEGIN{print b-a}')"
