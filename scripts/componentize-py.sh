#!/usr/bin/env bash
# Builds one Python bot with componentize-py: its bindings from the WIT of
# the world version it targets, then the component.
#
#   scripts/componentize-py.sh BOT_DIR WIT_VERSION   (e.g. scripts/notes-py 0.2.0)
#
# Output: target/bots/<name of BOT_DIR>.wasm. The bot is `app.py` in BOT_DIR;
# its bindings go to BOT_DIR/bindings (ignored by git).
# Tools: scripts/toolchains.sh python
set -euo pipefail
here="$(cd "$1" && pwd)"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${OPENQQ_BOT_TOOLS:-$repo/.venv-bots}"
[[ -d "$tools/bin" ]] && export PATH="$tools/bin:$PATH"
wit="${OPENQQ_WIT_DIR:-$repo/wit/$2}"
out="$repo/target/bots/$(basename "$here").wasm"
command -v componentize-py >/dev/null || { echo "componentize-py not found: run scripts/toolchains.sh python" >&2; exit 1; }

start=$(date +%s.%N)
rm -rf "$here/bindings"
componentize-py -d "$wit" -w bot bindings "$here/bindings" >/dev/null
mkdir -p "$(dirname "$out")"
# guest-py: the helpers Python bots may import (openqq_commands).
componentize-py -d "$wit" -w bot componentize -p "$here" -p "$here/bindings" -p "$repo/guest-py" app -o "$out" >/dev/null
end=$(date +%s.%N)
printf '%s: %s bytes (%.1f s)\n' "${out#$repo/}" "$(stat -c %s "$out")" "$(awk -v a="$start" -v b="$end" 'BEGIN{print b-a}')"
