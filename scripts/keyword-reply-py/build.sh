#!/usr/bin/env bash
# Builds target/bots/keyword-reply-py.wasm (openqq:bot@0.1.0) with componentize-py.
# Tools: scripts/toolchains.sh python
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec bash "$here/../componentize-py.sh" "$here" 0.1.0
