#!/usr/bin/env bash
# Makes libnode (V8 10.2 as a shared library, plus its C++ headers) available to unitlab's `v8`
# backend. Idempotent:
#  - a system install counts when BOTH /usr/include/node/v8.h and a libnode.so (the dev
#    symlink of Debian's libnode-dev) are present. Note: Debian's `nodejs` package alone ships
#    /usr/include/node/v8.h for ITS V8 without any libnode.so; those headers do not match
#    libnode108 and are not used;
#  - otherwise a project-local copy in $REPO/.deps/libnode is used, made with
#    `apt-get download libnode108 libnode-dev` + `dpkg-deb -x` (`apt-get install libnode-dev`
#    conflicts with Debian's nodejs package, hence no install);
#  - libnode's shared-library dependencies that are missing (often libc-ares2 and libuv1) are
#    installed with apt-get, when `ldd libnode.so` reports one as not found.
# The crate's build.rs finds the result by itself (or through UNITLAB_LIBNODE_DIR=<root>).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEST="$REPO/.deps/libnode"
ARCH_LIB="usr/lib/x86_64-linux-gnu"

say() { printf 'setup-v8: %s\n' "$*"; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else SUDO="__none__"; fi
fi
as_root() {
    if [ "$SUDO" = "__none__" ]; then
        say "need root for: $*; run this script as root or install sudo"
        exit 1
    fi
    $SUDO "$@"
}

apt_updated=0
apt_update_once() {
    if [ "$apt_updated" -eq 0 ]; then
        say "running apt-get update"
        as_root apt-get update
        apt_updated=1
    fi
}

# libnode108's shared-library dependencies on Debian 12 (its node-* JS dependencies are only
# for node's own modules and not needed by a bare V8). libc-ares2 and libuv1 are the ones
# usually missing when nodejs comes from elsewhere.
RUNTIME_PKGS="libbrotli1 libc-ares2 libicu72 libnghttp2-14 libssl3 libuv1 zlib1g"

ensure_runtime_libs() {
    local lib="$1" missing="" p
    if ! ldd "$lib" 2>/dev/null | grep -q 'not found'; then
        say "all of libnode's shared libraries resolve"
        return
    fi
    for p in $RUNTIME_PKGS; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
            missing="$missing $p"
        fi
    done
    if [ -n "$missing" ]; then
        say "installing libnode's missing runtime libraries:$missing"
        # shellcheck disable=SC2086
        if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y $missing; then
            apt_update_once
            # shellcheck disable=SC2086
            as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y $missing
        fi
    fi
    if ldd "$lib" 2>/dev/null | grep -q 'not found'; then
        say "libnode still misses shared libraries:"
        ldd "$lib" | grep 'not found' >&2
        exit 1
    fi
    say "all of libnode's shared libraries resolve"
}

system_libnode() {
    [ -f /usr/include/node/v8.h ] || return 1
    for d in /usr/lib/x86_64-linux-gnu /usr/lib /usr/local/lib; do
        if [ -e "$d/libnode.so" ]; then
            echo "$d/libnode.so"
            return 0
        fi
    done
    return 1
}

if [ -n "${UNITLAB_LIBNODE_DIR:-}" ]; then
    if [ -f "$UNITLAB_LIBNODE_DIR/usr/include/node/v8.h" ] && [ -e "$UNITLAB_LIBNODE_DIR/$ARCH_LIB/libnode.so" ]; then
        say "UNITLAB_LIBNODE_DIR=$UNITLAB_LIBNODE_DIR has libnode; nothing to download"
        ensure_runtime_libs "$UNITLAB_LIBNODE_DIR/$ARCH_LIB/libnode.so"
        exit 0
    fi
    say "UNITLAB_LIBNODE_DIR=$UNITLAB_LIBNODE_DIR lacks usr/include/node/v8.h or $ARCH_LIB/libnode.so;"
    say "unset it to use $DEST (which this script fills), or fix that folder"
    exit 1
fi

if [ -f "$DEST/usr/include/node/v8.h" ] && [ -e "$DEST/$ARCH_LIB/libnode.so" ]; then
    say "project-local libnode already in $DEST; nothing to download"
    ensure_runtime_libs "$DEST/$ARCH_LIB/libnode.so"
    exit 0
fi

if lib=$(system_libnode); then
    say "system libnode found: /usr/include/node/v8.h + $lib; nothing to download"
    ensure_runtime_libs "$lib"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-deb >/dev/null 2>&1; then
    say "apt-get/dpkg-deb not found: this script supports Debian/Ubuntu only."
    say "elsewhere, install libnode's headers and library and set UNITLAB_LIBNODE_DIR=<root>"
    say "(a folder containing usr/include/node/v8.h and $ARCH_LIB/libnode.so)"
    exit 1
fi

TMP=$(mktemp -d)
# Let apt's unprivileged `_apt` user write there (else apt warns it downloads "unsandboxed").
chmod 755 "$TMP"
if [ "$(id -u)" -eq 0 ] && id _apt >/dev/null 2>&1; then chown _apt "$TMP"; fi
trap 'rm -rf "$TMP"' EXIT
say "downloading libnode108 and libnode-dev with apt-get download into $TMP"
if ! (cd "$TMP" && apt-get download libnode108 libnode-dev); then
    apt_update_once
    (cd "$TMP" && apt-get download libnode108 libnode-dev)
fi

mkdir -p "$DEST"
for deb in "$TMP"/*.deb; do
    say "extracting $(basename "$deb") into $DEST"
    dpkg-deb -x "$deb" "$DEST"
done

if [ ! -f "$DEST/usr/include/node/v8.h" ] || [ ! -e "$DEST/$ARCH_LIB/libnode.so" ]; then
    say "extraction did not give $DEST/usr/include/node/v8.h and $DEST/$ARCH_LIB/libnode.so"
    say "contents: $(ls "$DEST/$ARCH_LIB" 2>/dev/null | tr '\n' ' ')"
    exit 1
fi
ensure_runtime_libs "$DEST/$ARCH_LIB/libnode.so"
say "done: libnode in $DEST ($(readlink -f "$DEST/$ARCH_LIB/libnode.so"))"
