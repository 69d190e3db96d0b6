#!/usr/bin/env bash
# Builds target/bots/commands-py.wasm (openqq:bot@0.2.0) with componentize-py,
# the helper guest-py/openqq_commands.py on its path.
# Tools: scripts/toolchains.sh python
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec bash "$here/../componentize-py.sh" "$here" 0.2.0
