#!/usr/bin/env bash
# The floors the container and oci backends' cold starts are compared with, for the same runner
# image, and the lab's own figures, all from one run:
#   1. `docker run --rm --network none --runtime R <runner image>` (the CLI's whole cycle),
#      for every runtime R dockerd has registered (runc, crun, runsc);
#   2. `R run` of an OCI bundle written exactly like an `oci` unit's (same config.json, same
#      root file system: the image's, exported), no engine at all (runsc: --platform=ptrace);
#   3. `unitlab measure --backend container --runtime R` and `--backend oci --runtime R` (its
#      `run` lifecycle, and `--opt lifecycle=create-start`) on noop: cold start p50/p99 (start
#      + first response).
# in three interleaved rounds (load drifts on a busy machine). A bare `R run` also deletes the
# container before it returns; the lab's cold start ends at the first response.
# It then prints Docker+crun against Docker+runc, oci+crun against a bare `crun run` (target:
# within 1.2x), and what dockerd+containerd add (Docker+R minus oci+R).
# Needs: a running engine (scripts/setup-docker.sh), the runtimes (scripts/setup-runtimes.sh),
# hyperfine, python3, root.
# Usage: scripts/bench-container-floors.sh [runs]   (default 30; the lab measures as many units)
# UNITLAB=<path> uses that unitlab binary instead of building the release one; PROFILE=dev
# builds the helper examples in debug (quicker on a busy machine; the runtimes dominate).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${1:-30}
say() { printf 'floors: %s\n' "$*"; }

command -v hyperfine >/dev/null || { say "hyperfine missing (apt-get install -y hyperfine)"; exit 1; }
command -v python3 >/dev/null || { say "python3 missing (apt-get install -y python3)"; exit 1; }
docker info >/dev/null 2>&1 || { say "the Docker engine does not answer: run scripts/setup-docker.sh"; exit 1; }
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
PROFILE=${PROFILE:-release}

say "preparing the runner image and an oci bundle through the backends"
TAG=$(cd "$REPO" && cargo run -q --profile "$PROFILE" -p unitlab-backend-container --example probe -- tag)
say "image: $TAG"
OUT="$REPO/.deps/floors"
BUNDLE="$OUT/bundle"
rm -rf "$BUNDLE" "$OUT"/lab "$OUT"/*.json
mkdir -p "$OUT"
(cd "$REPO" && cargo run -q --profile "$PROFILE" -p unitlab-backend-oci --example bundle -- "$BUNDLE" unitlab-floor >/dev/null)
if [ -z "${UNITLAB:-}" ]; then
    (cd "$REPO" && cargo build -q --release -p unitlab)
    UNITLAB="$CARGO_TARGET_DIR/release/unitlab"
fi

registered=$(docker info --format '{{range $k, $v := .Runtimes}}{{$k}} {{end}}')
runtimes=()
for rt in runc crun runsc; do
    if command -v "$rt" >/dev/null 2>&1; then runtimes+=("$rt"); else say "$rt is not installed: skipped (scripts/setup-runtimes.sh)"; fi
done
STATE="$OUT/state"
# Interleaved rounds: on a busy machine, load drifts over minutes; each round measures every
# variant once, so that the ratios compare figures taken side by side.
ROUNDS=3
PER=$(( (RUNS + ROUNDS - 1) / ROUNDS ))
for round in $(seq 1 "$ROUNDS"); do
    for rt in "${runtimes[@]}"; do
        args=()
        [ "$rt" = runsc ] && args=(--platform=ptrace --network=none)
        case " $registered " in *" $rt "*) docker_ok=1 ;; *) docker_ok=0 ;; esac
        if [ "$docker_ok" = 1 ]; then
            say "round $round: docker run --runtime $rt (stdin closed: the runner prints ready and exits)"
            hyperfine -N --warmup 2 --runs "$PER" --export-json "$OUT/docker-$rt-$round.json" \
                "docker run --rm --network none --runtime $rt --label unitlab=1 --label unitlab.kind=floors $TAG"
        elif [ "$round" = 1 ]; then
            say "$rt is not registered with dockerd: docker run and --backend container skipped (scripts/setup-runtimes.sh)"
        fi
        say "round $round: bare $rt run of the oci bundle"
        hyperfine -N --warmup 2 --runs "$PER" --export-json "$OUT/bare-$rt-$round.json" \
            "$(command -v "$rt") ${args[*]} --root $STATE/$rt run --bundle $BUNDLE unitlab-floor"
        for backend in container oci; do
            [ "$backend" = container ] && [ "$docker_ok" = 0 ] && continue
            say "round $round: unitlab measure --backend $backend --runtime $rt --function noop --units $PER"
            "$UNITLAB" measure -q --backend "$backend" --runtime "$rt" --function noop \
                --units "$PER" --warm 1 --memory-units 0 --out "$OUT/lab/$backend-$rt" >/dev/null
        done
        say "round $round: unitlab measure --backend oci --runtime $rt --opt lifecycle=create-start"
        "$UNITLAB" measure -q --backend oci --runtime "$rt" --opt lifecycle=create-start --function noop \
            --units "$PER" --warm 1 --memory-units 0 --out "$OUT/lab/oci-cs-$rt" >/dev/null
    done
done
rm -rf "$BUNDLE" "$STATE"

python3 - "$OUT" <<'PY'
import csv, glob, json, sys, statistics
out = sys.argv[1]
def pct(t, q):
    t = sorted(t)
    return t[min(len(t) - 1, int(q * len(t)))]
rows = {}
print(f"{'what':<40} {'p50 ms':>8} {'p99 ms':>8} {'n':>4}   (one run, same image, interleaved rounds)")
for rt in ["crun", "runc", "runsc"]:
    for kind in ["docker", "bare"]:
        t = [x * 1e3 for f in glob.glob(f"{out}/{kind}-{rt}-*.json")
             for x in json.load(open(f))["results"][0]["times"]]
        if not t:
            continue
        label = f"docker run --runtime {rt}" if kind == "docker" else f"bare {rt} run"
        rows[(kind, rt)] = statistics.median(t)
        print(f"{label:<40} {statistics.median(t):8.1f} {pct(t, 0.99):8.1f} {len(t):4}")
    for backend in ["container", "oci", "oci-cs"]:
        t, platform = [], None
        for d in glob.glob(f"{out}/lab/{backend}-{rt}/*/"):
            platform = json.load(open(d + "summary.json"))["backend"]["settings"].get("platform")
            t += [int(r["total_ns"]) / 1e6 for r in csv.DictReader(open(d + "samples.csv")) if r["kind"] == "cold"]
        if not t:
            continue
        name = "oci create-start" if backend == "oci-cs" else backend
        label = f"unitlab {name} {rt}" + (f" ({platform})" if platform else "")
        rows[(backend, rt)] = statistics.median(t)
        print(f"{label:<40} {statistics.median(t):8.1f} {pct(t, 0.99):8.1f} {len(t):4}")
print()
def ratio(a, b, what):
    if a in rows and b in rows:
        print(f"{what}: {rows[a]:.1f} / {rows[b]:.1f} ms = {rows[a] / rows[b]:.2f}x")
ratio(("container", "crun"), ("container", "runc"), "Docker+crun / Docker+runc (unitlab)")
ratio(("docker", "crun"), ("docker", "runc"), "docker run crun / runc (CLI)")
ratio(("oci", "crun"), ("bare", "crun"), "oci+crun / bare crun run (target <= 1.2x)")
ratio(("oci-cs", "crun"), ("bare", "crun"), "oci+crun create-start / bare crun run")
for rt in ["crun", "runc", "runsc"]:
    if ("container", rt) in rows and ("oci", rt) in rows:
        print(f"dockerd+containerd's share with {rt}: {rows[('container', rt)] - rows[('oci', rt)]:.1f} ms "
              f"(Docker+{rt} {rows[('container', rt)]:.1f} - oci+{rt} {rows[('oci', rt)]:.1f})")
PY
