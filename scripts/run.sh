#!/usr/bin/env bash
# The main job: set up what can be set up, then measure every available backend with the
# default catalogue, run the default bursty workload through simulation and a short replay,
# and write the HTML report. Extra arguments go to `unitlab run` (see `unitlab run --help`).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bash "$REPO/scripts/setup.sh"
cd "$REPO"
say "cargo build --release"
cargo build --release -p unitlab
exec "$REPO/target/release/unitlab" run "$@"
