#!/usr/bin/env bash
# The full test suite: installs and starts everything the tests need (Docker engine, libnode,
# Deno, the wasm32-wasip1 target, Chromium), then runs every test of the workspace against
# the real engines. Extra arguments go to `cargo test`, except --fix-hybrid-cgroups, which goes
# to scripts/setup.sh (consent to the cgroup fix crun needs on hybrid-cgroup hosts).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

setup_args=(--strict)
cargo_args=()
for arg in "$@"; do
    case "$arg" in
        --fix-hybrid-cgroups) setup_args+=("$arg") ;;
        *) cargo_args+=("$arg") ;;
    esac
done
set -- "${cargo_args[@]+"${cargo_args[@]}"}"
bash "$REPO/scripts/setup.sh" "${setup_args[@]}"
cd "$REPO"
# Every backend was set up above: a test that finds one missing must fail, not skip.
export UNITLAB_REQUIRE_V8=1
log=$(mktemp -t unitlab-test.XXXXXX)
trap 'rm -f "$log"' EXIT
say "cargo test --workspace --doc"
cargo test --workspace --doc "$@" 2>&1 | tee -a "$log"
say "cargo test --workspace --all-targets"
cargo test --workspace --all-targets --no-fail-fast "$@" 2>&1 | tee -a "$log"

# Nothing the lab created may outlive the suite.
if command -v docker >/dev/null 2>&1; then
    left=$(docker ps -aq --filter label=unitlab=1)
    if [ -n "$left" ]; then
        die "containers labelled unitlab=1 remain after the test suite: $(echo $left) (unitlab clean removes them)"
    fi
    say "no container labelled unitlab=1 remains"
fi
# ... and no memory cgroup of `unitlab density` (in any controller).
left=$(find /sys/fs/cgroup -maxdepth 2 -type d -name 'unitlab-density-*' 2>/dev/null || true)
if [ -n "$left" ]; then
    die "memory cgroups of unitlab density remain after the test suite: $(echo $left)"
fi
say "no unitlab-density cgroup remains"
# Nor any oci bundle or runtime state (the oci backend's folder; `unitlab clean` removes them).
# (where the backend keeps it: $UNITLAB_OCI_DIR, else $XDG_CACHE_HOME/unitlab/oci, else
# <tmp>/unitlab-<uid>/oci)
if [ -n "${UNITLAB_OCI_DIR:-}" ]; then
    oci_dir=$UNITLAB_OCI_DIR
elif [ -n "${XDG_CACHE_HOME:-}" ]; then
    oci_dir=$XDG_CACHE_HOME/unitlab/oci
else
    oci_dir=${TMPDIR:-/tmp}/unitlab-$(id -u)/oci
fi
left=$( { find "$oci_dir/bundles" -mindepth 1 -maxdepth 1; find "$oci_dir/state" -mindepth 2 -maxdepth 2; } 2>/dev/null || true)
if [ -n "$left" ]; then
    die "oci bundles or runtime state remain after the test suite: $(echo $left) (unitlab clean removes them)"
fi
say "no oci bundle or runtime state remains in $oci_dir"
# ... and no cgroup of an oci unit (`/unitlab-oci-<id>`, in any hierarchy).
left=$(find /sys/fs/cgroup -maxdepth 2 -type d -name 'unitlab-oci-*' 2>/dev/null || true)
if [ -n "$left" ]; then
    die "cgroups of oci units remain after the test suite: $(echo $left) (unitlab clean removes them)"
fi
say "no unitlab-oci cgroup remains"

# One closing line over every test binary (cargo prints one `test result` line per binary).
awk '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, i }' "$log"
