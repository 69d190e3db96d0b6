#!/usr/bin/env bash
# Builds target/bots/keyword-reply-c.wasm: wit-bindgen c + clang-19 with
# Debian's wasi-libc (preview 1) + the preview-1 reactor adapter.
# Tools: scripts/toolchains.sh c
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
tools="${OPENQQ_BOT_TOOLS:-$repo/.venv-bots}"
[[ -d "$tools/bin" ]] && export PATH="$tools/bin:$PATH"
wit="${OPENQQ_WIT_DIR:-$repo/wit/0.1.0}"
adapter="${OPENQQ_WASI_ADAPTER:-$tools/share/wasi_snapshot_preview1.reactor.wasm}"
cc="${CC_WASM:-clang-19}"
out="$repo/target/bots/keyword-reply-c.wasm"
for tool in wit-bindgen wasm-tools "$cc"; do
  command -v "$tool" >/dev/null || { echo "$tool not found: run scripts/toolchains.sh c" >&2; exit 1; }
done
[[ -f "$adapter" ]] || { echo "$adapter missing: run scripts/toolchains.sh c" >&2; exit 1; }

start=$(date +%s.%N)
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
rm -rf "$here/bindings"
if ! log=$(wit-bindgen c "$wit" --world bot --out-dir "$here/bindings" 2>&1); then echo "$log" >&2; exit 1; fi
# -mexec-model=reactor: a library with exports, no main(); wasi-libc's
# reactor crt1 runs the C constructors from _initialize.
"$cc" --target=wasm32-wasi --sysroot=/usr -O2 -Wall -Wextra -mexec-model=reactor \
  -I "$here/bindings" -o "$tmp/core.wasm" \
  "$here/app.c" "$here/bindings/bot.c" "$here/bindings/bot_component_type.o"
mkdir -p "$(dirname "$out")"
wasm-tools component new "$tmp/core.wasm" --adapt "wasi_snapshot_preview1=$adapter" -o "$tmp/component.wasm"
# Drop DWARF and other custom sections but keep the `name` section, so traps
# still show function names in the gateway's log.
wasm-tools strip "$tmp/component.wasm" -o "$out"
wasm-tools validate --features all "$out"
end=$(date +%s.%N)
printf '%s: %s bytes (%.1f s)\n' "${out#$repo/}" "$(stat -c %s "$out")" "$(awk -v a="$start" -v b="$end" 'BEGIN{print b-a}')"
