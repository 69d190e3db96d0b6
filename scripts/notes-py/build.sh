#!/usr/bin/env bash
# Builds target/bots/notes-py.wasm (openqq:bot@0.2.0) with componentize-py.
# Tools: scripts/toolchains.sh python
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
tools="${OPENQQ_BOT_TOOLS:-$repo/.venv-bots}"
[[ -d "$tools/bin" ]] && export PATH="$tools/bin:$PATH"
wit="${OPENQQ_WIT_DIR:-$repo/wit/0.2.0}"
out="$repo/target/bots/notes-py.wasm"
command -v componentize-py >/dev/null || { echo "componentize-py not found: run scripts/toolchains.sh python" >&2; exit 1; }

start=$(date +%s.%N)
rm -rf "$here/bindings"
componentize-py -d "$wit" -w bot bindings "$here/bindings" >/dev/null
mkdir -p "$(dirname "$out")"
componentize-py -d "$wit" -w bot componentize -p "$here" -p "$here/bindings" app -o "$out" >/dev/null
end=$(date +%s.%N)
printf '%s: %s bytes (%.1f s)\n' "${out#$repo/}" "$(stat -c %s "$out")" "$(awk -v a="$start" -v b="$end" 'BEGIN{print b-a}')"
