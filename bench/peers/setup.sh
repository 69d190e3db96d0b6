#!/usr/bin/env bash
# Installs the peers of `openqq-bench peers` under target/peers/ (never in CI):
#   target/peers/nonebot/venv   NoneBot2 + the OneBot adapter (pip, a venv)
#   target/peers/koishi         Koishi + the OneBot adapter (npm)
# Needs python3 (≥ 3.9) with venv, and node (≥ 18) with npm. Idempotent: run
# it again after changing bench/peers/requirements.txt or koishi/package.json.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
peers="${CARGO_TARGET_DIR:-$root/target}/peers"
mkdir -p "$peers"

echo "== NoneBot2 into $peers/nonebot/venv ($(python3 --version))"
mkdir -p "$peers/nonebot"
[ -x "$peers/nonebot/venv/bin/python" ] || python3 -m venv "$peers/nonebot/venv"
"$peers/nonebot/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$here/requirements.txt"
"$peers/nonebot/venv/bin/python" -c 'import nonebot, nonebot.adapters.onebot.v11; print("nonebot2", nonebot.__version__ if hasattr(nonebot, "__version__") else "?")'

echo "== Koishi into $peers/koishi (node $(node --version), npm $(npm --version))"
mkdir -p "$peers/koishi"
cp "$here/koishi/package.json" "$peers/koishi/package.json"
(cd "$peers/koishi" && npm install --no-audit --no-fund --loglevel=error)
node -e 'console.log("koishi", require(process.argv[1] + "/node_modules/koishi/package.json").version)' "$peers/koishi"
echo "peers installed under $peers"
