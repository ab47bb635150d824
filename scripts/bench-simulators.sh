#!/usr/bin/env bash
# Speed and fidelity of `unitlab simulate`, in one run a user can repeat:
#
# 1. SimFaaS's README case (Poisson 0.9/s, exponential service 1.991 s warm / 2.244 s cold,
#    keep-alive 600 s, 10^6 s) through SimFaaS (installed from PyPI into .deps/simfaas) and the
#    same case through `unitlab simulate` (cold start = +0.253 s, the difference of the two
#    means; newest-idle pick, as SimFaaS): wall time, cold-start probability, mean servers,
#    running and idle, and the speed ratio. Both are whole processes, unitlab's baseline run
#    (no keep-alive, always run too) included.
# 2. An Azure-2019-format day (2,000 functions, about 3 million invocations) read from its
#    three files, keep-alive 10 min + baseline, then hybrid + baseline.
# 3. A one-function Azure 2021 per-invocation CSV of 900,000 rows, keep-alive 10 min +
#    baseline.
# 4. sim_speed's trace (1,000 functions, 20,000/s for 250 s: 5 million invocations) through
#    the CLI: invocations per CPU-second of the whole command, beside the engine alone on the
#    same trace (`--example sim_speed`: generating it, keep-alive and no keep-alive, in thread
#    CPU time) from the same rounds, and their ratio.
# 5. The simulator's output hash (examples/output_hash) with 1, 2 and 8 threads: identical.
# 6. Memory: an Azure-shaped day of 50,000 functions and 100 million invocations
#    (synthetic:azure-day), the four default policies (keep-alive 10 and 20 min, hybrid,
#    baseline) on 2 threads: peak RSS (once, not per round: about half a minute).
#
# Inputs 2 and 3 are written (seeded, identical every time) by
#   cargo run --release -p unitlab-platform --example bench_inputs -- DIR
# into $BENCH_DIR (default .deps/bench-inputs). Every figure comes from this one run; the
# raw results directories stay in $BENCH_DIR/results.
#
# Environment: RUNS (default 3: each figure is the median of RUNS interleaved runs),
# SIMFAAS_VENV (default .deps/simfaas), BENCH_DIR, CARGO_ARGS (extra `cargo build` arguments
# for the unitlab binary, e.g. `--no-default-features` to skip building the backends).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO"

RUNS=${RUNS:-3}
VENV=${SIMFAAS_VENV:-$DEPS/simfaas}
BENCH_DIR=${BENCH_DIR:-$DEPS/bench-inputs}
command -v python3 >/dev/null 2>&1 || die "python3 not found: install it (apt-get install python3 python3-venv) to run SimFaaS"

if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import simfaas' 2>/dev/null; then
    say "installing SimFaaS from PyPI into $VENV"
    python3 -m venv "$VENV" || die "python3 -m venv failed: install python3-venv"
    "$VENV/bin/pip" install -q simfaas || die "pip install simfaas failed (network?)"
fi
SIMFAAS_VERSION=$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("simfaas"))')

say "cargo build --release -p unitlab ${CARGO_ARGS:-}"
# shellcheck disable=SC2086 # CARGO_ARGS is a list of arguments
cargo build --release -p unitlab ${CARGO_ARGS:-}
cargo build --release -p unitlab-platform --example bench_inputs --example output_hash --example sim_speed
UNITLAB="$REPO/target/release/unitlab"

mkdir -p "$BENCH_DIR"
A19="$BENCH_DIR/azure2019/invocations_per_function_md.anon.d01.csv"
A21="$BENCH_DIR/azure2021.csv"
if [ ! -f "$A19" ] || [ ! -f "$A21" ]; then
    say "writing the input files into $BENCH_DIR"
    "$REPO/target/release/examples/bench_inputs" "$BENCH_DIR"
fi
OUT="$BENCH_DIR/results"
rm -rf "$OUT"
mkdir -p "$OUT"

SIMFAAS_PY="$BENCH_DIR/simfaas_readme.py"
cat > "$SIMFAAS_PY" <<'EOF'
# SimFaaS's README example, printing what the comparison needs as JSON.
import json
from simfaas.ServerlessSimulator import ServerlessSimulator as Sim
sim = Sim(arrival_rate=0.9, warm_service_rate=1/1.991, cold_service_rate=1/2.244,
          expiration_threshold=600, max_time=1e6)
sim.generate_trace(debug_print=False, progress=False)
print(json.dumps({
    "requests": sim.total_req_count,
    "cold_starts": sim.total_cold_count,
    "cold_prob": sim.get_cold_start_prob(),
    "servers": sim.get_average_server_count(),
    "running": sim.get_average_server_running_count(),
    "idle": sim.get_average_server_idle_count(),
}))
EOF

# The cases: name, then the command.
CASES=(simfaas unitlab-simfaas azure2019-keepalive azure2019-hybrid azure2021-keepalive sim-speed sim-speed-engine)
# Sets CMD to case $1's command.
case_cmd() {
    case "$1" in
        simfaas) CMD=("$VENV/bin/python" "$SIMFAAS_PY") ;;
        unitlab-simfaas) CMD=("$UNITLAB" simulate --trace synthetic:poisson:0.9:0.50226:900000 \
            --calibration assume:simfaas:253ms:128MiB --policy keepalive:600s --pick newest --out "$OUT/$1") ;;
        azure2019-keepalive) CMD=("$UNITLAB" simulate --trace "$A19" \
            --calibration assume:container:150ms:0B --policy keepalive:10m --out "$OUT/$1") ;;
        azure2019-hybrid) CMD=("$UNITLAB" simulate --trace "$A19" \
            --calibration assume:container:150ms:0B --policy hybrid --out "$OUT/$1") ;;
        azure2021-keepalive) CMD=("$UNITLAB" simulate --trace "$A21" \
            --calibration assume:container:150ms:128MiB --policy keepalive:10m --out "$OUT/$1") ;;
        sim-speed) CMD=("$UNITLAB" simulate --trace synthetic:multi:1000:20000:250 --trace-seed 1 \
            --calibration assume:wasm:5us:64KiB --policy keepalive:10m --out "$OUT/$1") ;;
        # The same trace and policies through the engine alone, in thread CPU time: the floor
        # the CLI's figure is compared with, in the same rounds (this VM's speed drifts).
        sim-speed-engine) CMD=(env RUNS=1 "$REPO/target/release/examples/sim_speed") ;;
    esac
}

# Interleaved runs: every case once per round. /usr/bin/time gives wall, CPU and peak RSS.
TIMES="$OUT/times.tsv"
: > "$TIMES"
for round in $(seq 1 "$RUNS"); do
    for c in "${CASES[@]}"; do
        say "round $round/$RUNS: $c"
        case_cmd "$c"
        /usr/bin/time -f "$c\t%e\t%U\t%S\t%M" -a -o "$TIMES" "${CMD[@]}" \
            > "$OUT/$c.$round.log" 2>&1 || die "$c failed: see $OUT/$c.$round.log"
    done
done

say "memory: a 50,000-function day, 100 M invocations, the four default policies, 2 threads"
/usr/bin/time -f "azure-day-50k\t%e\t%U\t%S\t%M" -a -o "$TIMES" "$UNITLAB" simulate \
    --trace synthetic:azure-day:50000:100000000 --calibration assume:wasm:5us:64KiB --threads 2 \
    --out "$OUT/azure-day-50k" > "$OUT/azure-day-50k.log" 2>&1 || die "azure-day-50k failed: see $OUT/azure-day-50k.log"

say "output hash with 1, 2 and 8 threads"
for t in 1 2 8; do
    "$REPO/target/release/examples/output_hash" "$t" | tee -a "$OUT/output_hash.log"
done

python3 - "$OUT" "$RUNS" "$SIMFAAS_VERSION" <<'EOF'
import json, glob, os, statistics, sys
out, runs, simfaas_version = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rows = {}
for line in open(os.path.join(out, "times.tsv")):
    parts = line.rstrip("\n").split("\t")
    if len(parts) != 5 or parts[0].startswith("Command"):
        continue
    c, wall, user, sys_, rss = parts
    rows.setdefault(c, []).append((float(wall), float(user) + float(sys_), int(rss) / 1024))
def med(c, k):
    return statistics.median(r[k] for r in rows[c])
def summary(c):
    # One results directory per round; the figures compared are the first round's.
    d = sorted(glob.glob(os.path.join(out, c, "*", "summary.json")))[0]
    return json.load(open(d))
print(f"\nAll figures: medians of {runs} interleaved runs, whole processes (wall s, CPU s, peak RSS MiB).")
print(f"\n1. SimFaaS README case (SimFaaS {simfaas_version} vs unitlab simulate, keep-alive 600 s + baseline)")
sf = json.loads(open(sorted(glob.glob(os.path.join(out, "simfaas.*.log")))[0]).read().strip().splitlines()[-1])
s = summary("unitlab-simfaas")
ka = next(r for r in s["runs"] if r["policy_settings"].get("keep_alive") != "none")
u = ka["usage"]
live, idle = u["mean_live_units"], u["mean_idle_units"]
print(f"{'':22}{'wall s':>9}{'cold-start prob':>17}{'servers':>9}{'running':>9}{'idle':>9}")
print(f"{'SimFaaS':22}{med('simfaas',0):9.2f}{sf['cold_prob']:17.4f}{sf['servers']:9.3f}{sf['running']:9.3f}{sf['idle']:9.3f}")
print(f"{'unitlab simulate':22}{med('unitlab-simfaas',0):9.3f}{ka['counts']['cold_rate']:17.4f}{live:9.3f}{live - idle:9.3f}{idle:9.3f}")
print(f"speed ratio (SimFaaS wall / unitlab wall): {med('simfaas',0) / med('unitlab-simfaas',0):.0f}x")
print("\n2-4. unitlab simulate, whole process")
print(f"{'case':22}{'wall s':>9}{'CPU s':>9}{'RSS MiB':>9}  per-policy run_seconds")
for c in ["azure2019-keepalive", "azure2019-hybrid", "azure2021-keepalive", "sim-speed"]:
    s = summary(c)
    per = ", ".join(f"{r['policy']} {r['run_seconds']:.3f}" for r in s["runs"])
    print(f"{c:22}{med(c,0):9.3f}{med(c,1):9.3f}{med(c,2):9.1f}  {per} ({s['trace']['invocations']} invocations)")
# sim-speed: the whole command's speed, and the engine alone on the same trace (sim_speed:
# generating it + keep-alive + no keep-alive, thread CPU), from the same rounds.
n = summary("sim-speed")["trace"]["invocations"]
runs_n = len(summary("sim-speed")["runs"])
cli_cpu = med("sim-speed", 1)
floors = []
for f in sorted(glob.glob(os.path.join(out, "sim-speed-engine.*.log"))):
    cpu = {}
    for l in open(f):
        if l.startswith("trace:"):
            cpu["gen"] = float(l.split("generated in ")[1].split(" s CPU")[0])
        elif ":" in l and " s CPU" in l:
            name, rest = l.split(":", 1)
            cpu[name.strip()] = float(rest.split(" s CPU")[0])
    floors.append(cpu["gen"] + cpu["keepalive-10m"] + cpu["none"])
floor = statistics.median(floors)
print(f"sim-speed, the whole command: {n} invocations x {runs_n} runs in {med('sim-speed', 0):.3f} s wall, "
      f"{cli_cpu:.3f} s CPU: {n * runs_n / med('sim-speed', 0) / 1e6:.1f} M invocations per wall-second, "
      f"{n * runs_n / cli_cpu / 1e6:.1f} M per CPU-second")
print(f"the engine alone (sim_speed: generating the trace + keep-alive + no keep-alive, thread CPU): "
      f"{floor:.3f} s CPU, {n * runs_n / floor / 1e6:.1f} M per CPU-second; the command / the engine: {cli_cpu / floor:.2f}x CPU")
print("\n5. output hashes")
print(open(os.path.join(out, "output_hash.log")).read().rstrip())
print("\n6. memory: a 50,000-function Azure-shaped day, 100 M invocations, 4 default policies, 2 threads (one run)")
print(f"{'case':22}{'wall s':>9}{'CPU s':>9}{'RSS MiB':>9}")
s = summary("azure-day-50k")
print(f"{'azure-day-50k':22}{med('azure-day-50k',0):9.3f}{med('azure-day-50k',1):9.3f}{med('azure-day-50k',2):9.1f}  ({s['trace']['invocations']} invocations x {len(s['runs'])} runs)")
EOF
