#!/usr/bin/env bash
# Regenerates host/src/scaffold/rust.lock, the Cargo.lock that `openqq new
# --lang rust` writes (with the bot's own entry added in its sorted place):
# the workspace's Cargo.lock cut down by cargo to the template's dependencies,
# so a new project builds `--locked --offline` with the versions the
# workspace tests. Run it after changing guest-sdk's dependencies or the
# workspace's lock; the e2e test new_bot:: builds with --locked and fails
# until then.
#
#   scripts/scaffold-lock.sh       (needs a debug build of openqq: cargo build -p openqq)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
openqq="${OPENQQ_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/openqq}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$openqq" new scaffold-lock --lang rust --dir "$tmp/p" >/dev/null
cp "$root/Cargo.lock" "$tmp/p/Cargo.lock"
# Resolves against the copied lock: keeps its versions, drops what the
# template does not use.
(cd "$tmp/p" && cargo fetch --offline -q)
# The bot's own entry: `openqq new` writes it under the bot's name.
python3 - "$tmp/p/Cargo.lock" "$root/host/src/scaffold/rust.lock" <<'PY'
import sys
text = open(sys.argv[1]).read()
head, *blocks = text.split("\n[[package]]\n")
blocks = [b for b in blocks if not b.startswith('name = "scaffold-lock"\n')]
open(sys.argv[2], "w").write("\n[[package]]\n".join([head, *blocks]))
PY
echo "wrote host/src/scaffold/rust.lock ($(grep -c '^\[\[package\]\]' "$root/host/src/scaffold/rust.lock") packages)"
