#!/usr/bin/env bash
# The test command: install the bot toolchains (idempotent; needs root on a
# fresh Debian machine), build every bot in every language, then run the
# whole workspace's tests (unit, native bot tests, end-to-end).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
rustup target add wasm32-wasip2
bash scripts/toolchains.sh all
OPENQQ_REQUIRE_ALL_LANGS=1 bash scripts/build.sh all
# The bots are built; the tests use them instead of building their own.
OPENQQ_BOTS_DIR="$root/target/bots" cargo test --workspace "$@"
# `openqq new`'s projects, one per language, are built by their own
# toolchains (installed above: a missing one fails), using both cores:
# alone, after the rest, so no timing-bound test shares the machine.
# `--workspace` as above: the same features, so the same e2e binary (with
# `-p openqq` alone cargo unifies features differently and rebuilds it).
OPENQQ_REQUIRE_ALL_LANGS=1 OPENQQ_BOTS_DIR="$root/target/bots" cargo test --workspace --test e2e new_bot:: "$@" -- --ignored --test-threads=1
