#!/usr/bin/env bash
# Installs and starts the Docker engine for unitlab's `container` backend. Idempotent:
#  - uses the user's own engine when `docker info` (or DOCKER_HOST) already answers;
#  - installs Debian's docker.io only when `dockerd` is missing;
#  - starts `dockerd` in the background (log: $REPO/.deps/dockerd.log) when it is not running,
#    and waits up to 30 s for it to answer.
# Exits non-zero with a message naming the cause when the engine cannot be made to answer.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOG_DIR="$REPO/.deps"
mkdir -p "$LOG_DIR"

say() { printf 'setup-docker: %s\n' "$*"; }

engine_answers() {
    # `docker` is the client; without it, ask the socket directly with curl if present.
    if command -v docker >/dev/null 2>&1; then
        docker info >/dev/null 2>&1
    elif command -v curl >/dev/null 2>&1; then
        curl -sf --max-time 2 --unix-socket "${DOCKER_SOCK:-/var/run/docker.sock}" http://localhost/_ping >/dev/null
    else
        return 1
    fi
}

if engine_answers; then
    say "engine already running: $(docker version --format '{{.Server.Version}}' 2>/dev/null || echo 'version unknown'); nothing to do"
    exit 0
fi

if [ -n "${DOCKER_HOST:-}" ] && [ "${DOCKER_HOST}" != "unix:///var/run/docker.sock" ]; then
    say "DOCKER_HOST=$DOCKER_HOST does not answer; unset it to use a local engine, or start that engine"
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        say "not root and no sudo: install docker.io and start dockerd as root"; exit 1
    fi
fi

if ! command -v dockerd >/dev/null 2>&1; then
    say "dockerd missing: installing Debian's docker.io (engine, containerd, runc)"
    $SUDO apt-get update
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y docker.io
else
    say "dockerd found at $(command -v dockerd)"
fi

# A system service manager, when there is one, owns the daemon.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    say "starting docker through systemd"
    $SUDO systemctl start docker || true
fi

if ! engine_answers; then
    if pgrep -x dockerd >/dev/null 2>&1; then
        say "dockerd is running but does not answer yet; waiting"
    else
        say "starting dockerd in the background (log: $LOG_DIR/dockerd.log)"
        # setsid: the daemon must outlive this script and its terminal.
        $SUDO setsid dockerd >"$LOG_DIR/dockerd.log" 2>&1 < /dev/null &
    fi
fi

for _ in $(seq 1 60); do
    if engine_answers; then
        say "engine running: $(docker version --format '{{.Server.Version}}' 2>/dev/null || echo 'version unknown')"
        exit 0
    fi
    sleep 0.5
done

say "the Docker engine did not answer within 30 s. Last lines of $LOG_DIR/dockerd.log:"
tail -n 20 "$LOG_DIR/dockerd.log" 2>/dev/null || true
exit 1
