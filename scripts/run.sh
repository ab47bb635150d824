#!/usr/bin/env bash
# The main job: set up what can be set up, then measure every available backend with the
# default catalogue, run the default bursty workload through simulation and a short replay,
# and write the HTML report. Extra arguments go to `unitlab run` (see `unitlab run --help`),
# except --fix-hybrid-cgroups, which goes to scripts/setup.sh (consent to the cgroup fix crun
# needs on hybrid-cgroup hosts).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

setup_args=()
run_args=()
for arg in "$@"; do
    case "$arg" in
        --fix-hybrid-cgroups) setup_args+=("$arg") ;;
        *) run_args+=("$arg") ;;
    esac
done
set -- "${run_args[@]+"${run_args[@]}"}"
bash "$REPO/scripts/setup.sh" "${setup_args[@]+"${setup_args[@]}"}"
cd "$REPO"
say "cargo build --release"
cargo build --release -p unitlab
exec "$REPO/target/release/unitlab" run "$@"
