#!/usr/bin/env bash
# Installs and starts what unitlab's backends need, when it is missing.
#
#   scripts/setup.sh            best effort: a backend whose set-up fails is reported and
#                               skipped (the main job runs the backends that are available)
#   scripts/setup.sh --strict   every step must succeed (the test suite needs every backend)
#   --fix-hybrid-cgroups        consent to mount cgroup2 controllers as v1 hierarchies when
#                               crun needs it (setup-runtimes.sh explains; the README passes it)
#
# Each step is its own script, idempotent, detecting what is present before installing:
#   setup-wasm.sh      rustup target wasm32-wasip1 (Rust WASI guests)
#   setup-docker.sh    Debian's docker.io, and a running dockerd
#   setup-runtimes.sh  Debian's crun and runsc, registered with dockerd (daemon.json)
#   setup-v8.sh        Debian's libnode (V8) extracted into .deps/libnode, libc-ares2
#   setup-deno.sh      Deno from PyPI into .deps/deno, unless a deno >= 2 is present
#   setup-chromium.sh  Debian's chromium (only with --strict or --with-browser: report tests)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

strict=0
browser=0
runtime_args=()
for arg in "$@"; do
    case "$arg" in
        --strict) strict=1; browser=1 ;;
        --with-browser) browser=1 ;;
        --fix-hybrid-cgroups) runtime_args+=("$arg") ;;
        *) die "unknown option $arg (use --strict, --with-browser or --fix-hybrid-cgroups)" ;;
    esac
done

command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust with rustup (https://rustup.rs), then run this again"
command -v cc >/dev/null 2>&1 || apt_install build-essential

steps=(setup-wasm.sh setup-docker.sh setup-runtimes.sh setup-v8.sh setup-deno.sh)
[ "$browser" = 1 ] && steps+=(setup-chromium.sh)
failed=()
for step in "${steps[@]}"; do
    say "== $step"
    args=()
    [ "$step" = setup-runtimes.sh ] && args=("${runtime_args[@]+"${runtime_args[@]}"}")
    if ! bash "$REPO/scripts/$step" "${args[@]+"${args[@]}"}"; then
        if [ "$strict" = 1 ]; then die "$step failed (see above)"; fi
        say "$step failed: its backend will be reported unavailable (see \`unitlab doctor\`)"
        failed+=("$step")
    fi
done
if [ "${#failed[@]}" -gt 0 ]; then
    say "set-up finished with failures: ${failed[*]}"
else
    say "set-up complete"
fi
