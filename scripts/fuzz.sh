#!/usr/bin/env bash
# Runs every property test (the `props` modules beside the code they test:
# parameters, the router, CQ codes, OneBot frames, webhook answers, world
# files, the config) with many more cases than `cargo test` gives them.
#   bash scripts/fuzz.sh                     # 20,000 cases per property
#   bash scripts/fuzz.sh 100000 --release    # more, optimised (the first
#                                            # release build takes minutes)
# Extra arguments go to `cargo test`. A failure prints the shrunk input and
# saves its seed under host/proptest-regressions/, which the next
# `cargo test` tries first: commit it if the case is worth keeping.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PROPTEST_CASES="${1:-${PROPTEST_CASES:-20000}}"
cargo test -p openqq --lib "${@:2}" props
