# Shared helpers for unitlab's set-up scripts. Source it; do not run it.
# shellcheck shell=bash

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEPS="$REPO/.deps"
export REPO DEPS

say() { printf '[unitlab setup] %s\n' "$*" >&2; }
die() { printf '[unitlab setup] error: %s\n' "$*" >&2; exit 1; }

# Runs a command as root (directly, or through sudo when we are not root).
as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else die "need root for: $* (run as root or install sudo)"; fi
}

APT_UPDATED=${APT_UPDATED:-}
apt_install() {
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install $* with your package manager"
    if [ -z "$APT_UPDATED" ]; then
        say "apt-get update"
        as_root apt-get update -qq >&2
        APT_UPDATED=1
        export APT_UPDATED
    fi
    say "apt-get install $*"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}
