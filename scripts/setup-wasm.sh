#!/usr/bin/env bash
# Sets up what the wasm backend needs beyond `cargo build`: the wasm32-wasip1 Rust target, for
# the Rust WASI guest in backends/wasm/guests/rust-catalogue (the WAT catalogue needs nothing).
# Idempotent: detects what is present and installs only what is missing.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=wasm32-wasip1

say() { printf 'setup-wasm: %s\n' "$*"; }

if ! command -v rustup >/dev/null 2>&1; then
    say "rustup not found on PATH; install it from https://rustup.rs (or your distribution), then re-run"
    exit 1
fi

if rustup target list --installed | grep -qx "$TARGET"; then
    say "rust target $TARGET already installed: nothing to do"
else
    say "installing rust target $TARGET (rustup target add $TARGET)"
    rustup target add "$TARGET"
    say "installed rust target $TARGET"
fi

# Information only: the on-demand allocator needs about 3 mappings per live instance.
if [ -r /proc/sys/vm/max_map_count ]; then
    maps=$(cat /proc/sys/vm/max_map_count)
    say "vm.max_map_count = $maps (--strategy ondemand stops near $((maps / 3)) live units;" \
        "raise with: sysctl -w vm.max_map_count=262144)"
fi
say "build the Rust guest with: (cd $REPO/backends/wasm/guests/rust-catalogue && cargo build --target $TARGET --release)"
