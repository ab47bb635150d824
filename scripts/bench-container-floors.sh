#!/usr/bin/env bash
# The two floors the container backend's cold start is compared with, for the same image:
#   1. `docker run --rm --network none <runner image>` (the CLI's whole cycle), and
#   2. `runc run` of an OCI bundle whose rootfs is that image's file system (no engine at all).
# The lab's own figures come from `cargo bench -p unitlab-backend-container`.
# Needs: a running engine (scripts/setup-docker.sh), runc (ships with docker.io), hyperfine.
# Usage: scripts/bench-container-floors.sh [runs]   (default 30)
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${1:-30}
say() { printf 'floors: %s\n' "$*"; }

command -v hyperfine >/dev/null || { say "hyperfine missing (apt-get install -y hyperfine)"; exit 1; }
command -v runc >/dev/null || { say "runc missing (it ships with docker.io: scripts/setup-docker.sh)"; exit 1; }
docker info >/dev/null 2>&1 || { say "the Docker engine does not answer: run scripts/setup-docker.sh"; exit 1; }

say "preparing the runner image through the backend"
TAG=$(cd "$REPO" && CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target} cargo run -q --release \
    -p unitlab-backend-container --example probe -- tag)
say "image: $TAG"

OUT="$REPO/.deps/floors"
BUNDLE="$OUT/bundle"
rm -rf "$BUNDLE"
mkdir -p "$BUNDLE/rootfs"
# The same rootfs: export the image's file system through a created (never started) container.
CID=$(docker create --label unitlab=1 --label unitlab.kind=floors "$TAG")
docker export "$CID" | tar -x -C "$BUNDLE/rootfs"
docker rm "$CID" >/dev/null
(cd "$BUNDLE" && runc spec)
python3 - "$BUNDLE/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["args"] = ["/unitlab-runner"]
c["process"]["terminal"] = False
json.dump(c, open(p, "w"), indent=1)
PY

say "docker run --rm --network none (stdin closed: the runner prints ready and exits)"
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$OUT/docker-run.json" \
    "docker run --rm --network none --label unitlab=1 --label unitlab.kind=floors $TAG"
say "runc run of the same rootfs"
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$OUT/runc-run.json" \
    "runc run --bundle $BUNDLE unitlab-floor"
python3 - "$OUT" <<'PY'
import json, sys, statistics
out = sys.argv[1]
for name in ["docker-run", "runc-run"]:
    r = json.load(open(f"{out}/{name}.json"))["results"][0]
    print(f"{name:>10}: p50 {statistics.median(r['times'])*1e3:7.1f} ms  mean {r['mean']*1e3:7.1f} ms  min {r['min']*1e3:7.1f} ms  (n={len(r['times'])})")
PY
