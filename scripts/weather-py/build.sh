#!/usr/bin/env bash
# Builds target/bots/weather-py.wasm (openqq:bot@0.2.0, outbound HTTP) with componentize-py.
# Tools: scripts/toolchains.sh python
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec bash "$here/../componentize-py.sh" "$here" 0.2.0
