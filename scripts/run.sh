#!/usr/bin/env bash
# Quick start: build the Rust example bots, then run the gateway on the
# simulated QQ world with them loaded (openqq.toml). Extra arguments go to
# `openqq serve`, e.g. `bash scripts/run.sh --post-api http://127.0.0.1:8080/`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
rustup target add wasm32-wasip2 >/dev/null 2>&1 || true
bash scripts/build.sh rust
exec cargo run --release -p openqq -- serve --config openqq.toml "$@"
