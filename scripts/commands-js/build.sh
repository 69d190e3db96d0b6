#!/usr/bin/env bash
# Builds target/bots/commands-js.wasm (openqq:bot@0.2.0) with componentize-qjs,
# the helper guest-js/openqq_commands.js beside app.js.
# Tools: scripts/toolchains.sh js   (npm ci in scripts/keyword-reply-js + wasm-tools)
#
# Two workarounds, both for componentize-qjs 0.4.5: its runtime exports an
# `init` of its own (so the world's `init` is built as `bot-init` and renamed
# back, as for keyword-reply-js), and it cannot link `wasi:http` (mismatched
# resource types), so the bot is built against a copy of the world without
# the `wasi:http/outgoing-handler` import — a component may import less than
# its world offers.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
tools="${OPENQQ_BOT_TOOLS:-$repo/.venv-bots}"
[[ -d "$tools/bin" ]] && export PATH="$tools/bin:$PATH"
wit="${OPENQQ_WIT_DIR:-$repo/wit/0.2.0}"
out="$repo/target/bots/commands-js.wasm"
js="$repo/scripts/keyword-reply-js"
qjs="$js/node_modules/.bin/componentize-qjs"
[[ -x "$qjs" ]] || { echo "componentize-qjs not installed: run scripts/toolchains.sh js" >&2; exit 1; }
command -v wasm-tools >/dev/null || { echo "wasm-tools not found: run scripts/toolchains.sh js" >&2; exit 1; }

start=$(date +%s.%N)
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/wit" "$tmp/src"
cp -R "$wit"/. "$tmp/wit/"
sed -i -e 's/^\( *\)export init: func/\1export bot-init: func/' \
    -e '/^ *import wasi:http\/outgoing-handler@/d' "$tmp/wit/bot.wit"
cp "$here/app.js" "$repo/guest-js/openqq_commands.js" "$tmp/src/"

"$qjs" --wit "$tmp/wit" --world bot --js "$tmp/src/app.js" --module-root "$tmp/src" --sync -o "$tmp/raw.wasm" >/dev/null
wasm-tools print "$tmp/raw.wasm" -o "$tmp/raw.wat"
node "$js/rename-init.mjs" "$tmp/raw.wat" "$tmp/fixed.wat" 2>/dev/null
mkdir -p "$(dirname "$out")"
wasm-tools parse "$tmp/fixed.wat" -o "$out"
wasm-tools validate --features all "$out"
end=$(date +%s.%N)
printf '%s: %s bytes (%.1f s)\n' "${out#$repo/}" "$(stat -c %s "$out")" "$(awk -v a="$start" -v b="$end" 'BEGIN{print b-a}')"
