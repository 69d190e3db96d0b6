#!/usr/bin/env bash
# Builds target/bots/keyword-reply-js.wasm with componentize-qjs (QuickJS).
# Tools: scripts/toolchains.sh js   (npm ci here + wasm-tools)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
tools="${OPENQQ_BOT_TOOLS:-$repo/.venv-bots}"
[[ -d "$tools/bin" ]] && export PATH="$tools/bin:$PATH"
wit="${OPENQQ_WIT_DIR:-$repo/wit/0.1.0}"
out="$repo/target/bots/keyword-reply-js.wasm"
qjs="$here/node_modules/.bin/componentize-qjs"
[[ -x "$qjs" ]] || { echo "componentize-qjs not installed: run scripts/toolchains.sh js" >&2; exit 1; }
command -v wasm-tools >/dev/null || { echo "wasm-tools not found: run scripts/toolchains.sh js" >&2; exit 1; }

start=$(date +%s.%N)
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# componentize-qjs reads the WIT itself (there are no bindings files to
# generate). Its runtime exports an `init` of its own, so build against a copy
# of the WIT whose `init` export is named `bot-init`, then rename it back.
mkdir "$tmp/wit"
cp -R "$wit"/. "$tmp/wit/"
n=$(grep -c '^ *export init: func' "$tmp/wit/bot.wit" || true)
[[ "$n" == 1 ]] || { echo "expected one 'export init: func' in $wit/bot.wit, found $n" >&2; exit 1; }
sed -i 's/^\( *\)export init: func/\1export bot-init: func/' "$tmp/wit/bot.wit"

"$qjs" --wit "$tmp/wit" --world bot --js "$here/app.js" --sync -o "$tmp/raw.wasm" >/dev/null
wasm-tools print "$tmp/raw.wasm" -o "$tmp/raw.wat"
node "$here/rename-init.mjs" "$tmp/raw.wat" "$tmp/fixed.wat" 2>/dev/null
mkdir -p "$(dirname "$out")"
wasm-tools parse "$tmp/fixed.wat" -o "$out"
wasm-tools validate --features all "$out"
end=$(date +%s.%N)
printf '%s: %s bytes (%.1f s)\n' "${out#$repo/}" "$(stat -c %s "$out")" "$(awk -v a="$start" -v b="$end" 'BEGIN{print b-a}')"
