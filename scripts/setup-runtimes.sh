#!/usr/bin/env bash
# Installs the OCI runtimes crun and runsc (gVisor) and registers them with dockerd, for the
# `container --runtime crun|runsc` and `oci` backends. Idempotent: on a configured machine it
# finds nothing to do and touches nothing.
#
#   scripts/setup-runtimes.sh [--fix-hybrid-cgroups] [--dry-run]
#
#  1. Debian's `crun` and `runsc` packages, when the binaries are missing (runc ships with
#     docker.io: scripts/setup-docker.sh).
#  2. Hybrid cgroups: crun 1.8 refuses a machine whose cgroup2 mount (/sys/fs/cgroup/unified)
#     holds a controller ("cgroups in hybrid mode not supported, drop all controllers from
#     cgroupv2"). Detected and explained; only with --fix-hybrid-cgroups (your consent: it
#     changes the host's cgroup mounts until reboot) is each such controller mounted as a v1
#     hierarchy (mkdir /sys/fs/cgroup/<c> && mount -t cgroup -o <c> cgroup /sys/fs/cgroup/<c>),
#     which empties the cgroup2 mount. This works only while no cgroup2 group uses it.
#  3. $DAEMON_JSON (default /etc/docker/daemon.json) gets `runtimes.crun` and `runtimes.runsc`,
#     runsc with runtimeArgs ["--platform=ptrace", "--network=none"] (ptrace: the KVM platform
#     hangs under nested virtualisation; --network=none: with Docker's `--network none` runsc
#     otherwise refuses to run in the root network namespace). Other keys are kept. Only when
#     the file changed is dockerd told: it reloads `runtimes` on SIGHUP (systemd: `systemctl
#     reload docker`), and is restarted if the runtimes still do not appear. Each is said.
#
# --dry-run (or DRY_RUN=1) says what would be done and changes nothing. CGROUP_ROOT (default
# /sys/fs/cgroup) and DAEMON_JSON can point at test files; NO_RELOAD=1 writes DAEMON_JSON but
# leaves dockerd alone (for tests against a temporary file).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

fix_cgroups=0
dry=${DRY_RUN:-0}
for arg in "$@"; do
    case "$arg" in
        --fix-hybrid-cgroups) fix_cgroups=1 ;;
        --dry-run) dry=1 ;;
        *) die "setup-runtimes: unknown option $arg (use --fix-hybrid-cgroups, --dry-run)" ;;
    esac
done
DAEMON_JSON=${DAEMON_JSON:-/etc/docker/daemon.json}
CGROUP_ROOT=${CGROUP_ROOT:-/sys/fs/cgroup}
RUNSC_ARGS='["--platform=ptrace", "--network=none"]'

run() {
    if [ "$dry" = 1 ]; then say "dry run: would run: $*"; else "$@"; fi
}

# Exits; non-zero when crun cannot work here yet (hybrid cgroups left as they are).
hybrid_unfixed=0
finish() {
    if [ "$hybrid_unfixed" = 1 ]; then
        say "crun cannot run on this host's hybrid cgroups until the fix above is applied (--fix-hybrid-cgroups)"
        exit 1
    fi
    exit 0
}

# 1. The binaries.
missing=()
for rt in crun runsc; do
    if command -v "$rt" >/dev/null 2>&1; then
        say "$rt found: $(command -v "$rt") ($("$rt" --version 2>/dev/null | head -n1))"
    else
        missing+=("$rt")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$dry" = 1 ]; then
        say "dry run: would apt-get install ${missing[*]}"
    else
        apt_install "${missing[@]}"
    fi
fi

# 2. Hybrid cgroups.
unified="$CGROUP_ROOT/unified"
if [ -f "$unified/cgroup.controllers" ] && [ -n "$(tr -d '[:space:]' < "$unified/cgroup.controllers")" ]; then
    controllers=$(cat "$unified/cgroup.controllers")
    say "hybrid cgroups: the cgroup2 mount $unified holds the controller(s): $controllers."
    say "  crun refuses that (\"cgroups in hybrid mode not supported, drop all controllers from cgroupv2\")."
    if [ "$fix_cgroups" = 1 ]; then
        for c in $controllers; do
            if grep -qw "$c" "$unified/cgroup.subtree_control" 2>/dev/null; then
                die "the cgroup2 groups use $c (it is in $unified/cgroup.subtree_control): it cannot be moved to a v1 hierarchy while they do; disable it there first (echo -$c > $unified/cgroup.subtree_control)"
            fi
            say "mounting $c as a v1 hierarchy at $CGROUP_ROOT/$c (your consent: --fix-hybrid-cgroups)"
            run as_root mkdir -p "$CGROUP_ROOT/$c"
            run as_root mount -t cgroup -o "$c" cgroup "$CGROUP_ROOT/$c"
        done
    else
        say "  not changed: run this script with --fix-hybrid-cgroups to mount them as v1 hierarchies"
        say "  (the README's commands pass it); until then \`--runtime crun\` fails"
        hybrid_unfixed=1
    fi
else
    say "cgroups: no controller on a hybrid cgroup2 mount; nothing to do"
fi

# 3. dockerd's runtimes.
command -v python3 >/dev/null 2>&1 || { [ "$dry" = 1 ] || apt_install python3; }
crun_path=$(command -v crun 2>/dev/null || echo /usr/bin/crun)
runsc_path=$(command -v runsc 2>/dev/null || echo /usr/bin/runsc)
new=$(mktemp -t unitlab-daemon.XXXXXX)
trap 'rm -f "$new"' EXIT
changed=$(python3 - "$DAEMON_JSON" "$new" "$crun_path" "$runsc_path" "$RUNSC_ARGS" <<'PY'
import json, os, sys
path, out, crun, runsc, runsc_args = sys.argv[1:]
try:
    with open(path) as f:
        text = f.read()
    config = json.loads(text) if text.strip() else {}
except FileNotFoundError:
    config = {}
except json.JSONDecodeError as e:
    sys.exit(f"{path} is not valid JSON ({e}): fix it by hand, then run this again")
want = {
    "crun": {"path": crun},
    "runsc": {"path": runsc, "runtimeArgs": json.loads(runsc_args)},
}
runtimes = config.setdefault("runtimes", {})
changed = any(runtimes.get(k) != v for k, v in want.items())
runtimes.update(want)
with open(out, "w") as f:
    json.dump(config, f, indent=2)
    f.write("\n")
print("yes" if changed else "no")
PY
)
if [ "$changed" = no ]; then
    say "$DAEMON_JSON already registers crun and runsc (ptrace platform); dockerd left alone"
    if [ "$dry" != 1 ] && command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
        have=$(docker info --format '{{range $k, $v := .Runtimes}}{{$k}} {{end}}')
        case " $have " in
            *" crun "*" runsc "*|*" runsc "*" crun "*) say "dockerd has the runtimes: $have" ;;
            *) say "warning: dockerd lists only [$have]: it has not loaded $DAEMON_JSON yet; run \`kill -HUP \$(pidof dockerd)\`" ;;
        esac
    fi
    finish
fi

if [ "$dry" = 1 ]; then
    say "dry run: would write $DAEMON_JSON as:"
    cat "$new" >&2
    say "dry run: would then tell dockerd to reload it (the configuration changed)"
    finish
fi

say "registering crun and runsc in $DAEMON_JSON (previous version kept as $DAEMON_JSON.unitlab-bak)"
as_root mkdir -p "$(dirname "$DAEMON_JSON")"
[ -f "$DAEMON_JSON" ] && as_root cp "$DAEMON_JSON" "$DAEMON_JSON.unitlab-bak"
as_root cp "$new" "$DAEMON_JSON"

registered() {
    local have
    have=$(docker info --format '{{range $k, $v := .Runtimes}}{{$k}} {{end}}' 2>/dev/null) || return 1
    case " $have " in *" crun "*) ;; *) return 1 ;; esac
    case " $have " in *" runsc "*) return 0 ;; *) return 1 ;; esac
}

if [ "${NO_RELOAD:-0}" = 1 ]; then
    say "the configuration changed; dockerd not told (NO_RELOAD=1)"
    finish
fi
if ! docker info >/dev/null 2>&1; then
    say "dockerd is not running: it reads $DAEMON_JSON when it starts (scripts/setup-docker.sh)"
    finish
fi
say "the configuration changed: reloading dockerd (SIGHUP) so that it loads the runtimes"
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    as_root systemctl reload docker || true
else
    as_root kill -HUP "$(pidof dockerd)"
fi
for _ in $(seq 1 20); do registered && break; sleep 0.25; done
if ! registered; then
    say "dockerd did not load the runtimes on reload: restarting dockerd"
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        as_root systemctl restart docker
    else
        as_root kill "$(pidof dockerd)"
        for _ in $(seq 1 40); do pidof dockerd >/dev/null || break; sleep 0.25; done
        bash "$REPO/scripts/setup-docker.sh"
    fi
    registered || die "dockerd still does not list crun and runsc: see \`docker info\` and $DAEMON_JSON"
fi
say "dockerd lists the runtimes: $(docker info --format '{{range $k, $v := .Runtimes}}{{$k}} {{end}}')"
finish
