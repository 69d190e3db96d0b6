#!/usr/bin/env bash
# Builds the bots into WebAssembly components under target/bots/.
#
#   scripts/build.sh [all|rust|py|js|c|zig]...   (default: all)
#
# Output: <workspace>/target/bots/<name>.wasm (Rust bots: $OPENQQ_BOTS_OUT if
# set). Honours CARGO_TARGET_DIR for cargo's own output.
#
# `all` builds the Rust bots, then keyword-reply (and notes-py, the Python
# KV example) in every other language whose toolchain is installed, and says which are missing and how to get them
# (scripts/toolchains.sh). With OPENQQ_REQUIRE_ALL_LANGS=1 (CI) a missing
# toolchain is an error.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${OPENQQ_BOTS_OUT:-$root/target/bots}"
cargo_target="${CARGO_TARGET_DIR:-$root/target}"

# Copies a built component to $out/<name>.wasm after checking it is a component
# (magic `\0asm`, then layer 1 / version 0x0d: 00 61 73 6d 0d 00 01 00), not a
# core module (00 61 73 6d 01 00 00 00).
install_component() {
    local from="$1" name="$2"
    local magic
    magic="$(od -An -tx1 -N8 "$from" | tr -d ' \n')"
    if [[ "$magic" != "0061736d0d000100" ]]; then
        echo "build.sh: $from is not a wasm component (header $magic)" >&2
        exit 1
    fi
    cp "$from" "$out/$name.wasm"
    printf '  %-20s %8d bytes\n' "$name.wasm" "$(wc -c <"$out/$name.wasm")"
}

# Rust bots: package name -> component name. The marker fixture is built twice.
rust() {
    local packages=(echo keyword-reply group-guard forward knowledge-base daily-checkin smart-reply toolbox misbehave marker foreign hostile keeper fetcher)
    local release="$cargo_target/wasm32-wasip2/release"
    local cargo_args=(build --release --target wasm32-wasip2 --manifest-path "$root/Cargo.toml")

    echo "rust: building ${packages[*]}"
    cargo "${cargo_args[@]}" "${packages[@]/#/--package=}"
    local pkg
    for pkg in echo keyword-reply group-guard forward knowledge-base daily-checkin smart-reply toolbox misbehave foreign hostile keeper fetcher; do
        install_component "$release/${pkg//-/_}.wasm" "$pkg"
    done
    install_component "$release/marker.wasm" marker-v1

    echo "rust: building marker with feature v2"
    cargo "${cargo_args[@]}" --package=marker --features=marker/v2
    install_component "$release/marker.wasm" marker-v2
}

# Whether the toolchain for a language's keyword-reply is installed (the same
# tools its build.sh looks for).
have_toolchain() {
    local tools="${OPENQQ_BOT_TOOLS:-$root/.venv-bots}"
    local PATH="$tools/bin:$PATH"
    case "$1" in
        py) command -v componentize-py >/dev/null ;;
        js) [[ -x "$root/scripts/keyword-reply-js/node_modules/.bin/componentize-qjs" ]] && command -v wasm-tools >/dev/null ;;
        c) command -v wit-bindgen >/dev/null && command -v wasm-tools >/dev/null && command -v clang-19 >/dev/null \
            && [[ -f "$tools/share/wasi_snapshot_preview1.reactor.wasm" ]] ;;
        zig) command -v wit-bindgen >/dev/null && command -v wasm-tools >/dev/null \
            && { command -v zig >/dev/null || "$tools/bin/python" -c 'import ziglang' 2>/dev/null; } \
            && [[ -f "$tools/share/wasi_snapshot_preview1.reactor.wasm" ]] ;;
    esac
}

# The bots of a language other than Rust, each a directory under scripts/
# with its own build.sh: keyword-reply in every language, plus bots that
# show one language's bindings of newer WIT (notes-py: the 0.2.0 KV).
lang_bots() {
    case "$1" in
        py) echo "keyword-reply-py notes-py weather-py commands-py" ;;
        js) echo "keyword-reply-js commands-js" ;;
        *) echo "keyword-reply-$1" ;;
    esac
}

# The bots of another language, if its toolchain is there.
lang() {
    local l="$1" install
    case "$l" in py) install=python ;; *) install="$l" ;; esac
    if ! have_toolchain "$l"; then
        if [[ "${OPENQQ_REQUIRE_ALL_LANGS:-0}" == 1 ]]; then
            echo "$l: toolchain missing (run scripts/toolchains.sh $install)" >&2
            exit 1
        fi
        echo "$l: skipped, toolchain not installed (install: scripts/toolchains.sh $install)"
        return 0
    fi
    local bot
    for bot in $(lang_bots "$l"); do
        echo "$l: building $bot"
        bash "$root/scripts/$bot/build.sh"
    done
}

main() {
    local targets=("$@")
    ((${#targets[@]})) || targets=(all)
    mkdir -p "$out"
    local t
    for t in "${targets[@]}"; do
        case "$t" in
            all) rust; for l in py js c zig; do lang "$l"; done ;;
            rust) rust ;;
            py | js | c | zig) lang "$t" ;;
            *)
                echo "usage: $0 [all|rust|py|js|c|zig]..." >&2
                exit 2
                ;;
        esac
    done
    echo "components in $out"
}

main "$@"
