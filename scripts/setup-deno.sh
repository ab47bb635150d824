#!/usr/bin/env bash
# Installs Deno (>= 2) for the `deno` backend, idempotently.
#
# Does nothing when UNITLAB_DENO names a working deno >= 2, or when a real deno >= 2 binary is
# already found (the project-local .deps/deno, or PATH, resolving a pyenv shim). Otherwise:
#   pip install --target "$REPO/.deps/deno" deno==2.9.8
# (PyPI's `deno` wheel ships the official binary as .deps/deno/bin/deno), which the backend
# finds on its own. Needs python3 with pip; no root needed.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=lib.sh
. "$REPO/scripts/lib.sh"
VERSION=2.9.8
TARGET="$REPO/.deps/deno"

# Prints the deno major version of binary $1, or nothing.
deno_major() {
  local out
  out=$(NO_COLOR=1 "$1" --version 2>/dev/null | head -n1) || return 0
  case "$out" in
    "deno "*) out=${out#deno }; echo "${out%%.*}" ;;
  esac
}

works() {
  local major
  [ -x "$1" ] || return 1
  major=$(deno_major "$1")
  [ -n "$major" ] && [ "$major" -ge 2 ]
}

if [ -n "${UNITLAB_DENO:-}" ]; then
  if works "$UNITLAB_DENO"; then
    echo "setup-deno: using UNITLAB_DENO=$UNITLAB_DENO ($("$UNITLAB_DENO" --version | head -n1)); nothing to do"
    exit 0
  fi
  echo "setup-deno: UNITLAB_DENO=$UNITLAB_DENO is not a working deno >= 2; unset it or fix it" >&2
  exit 1
fi

if works "$TARGET/bin/deno"; then
  echo "setup-deno: $TARGET/bin/deno is already installed ($("$TARGET/bin/deno" --version | head -n1)); nothing to do"
  exit 0
fi

if command -v deno > /dev/null 2>&1; then
  found=$(command -v deno)
  real=$found
  # A pyenv shim is a script that execs the real binary: name the real one.
  if head -c2 "$found" 2>/dev/null | grep -q '#!' && command -v pyenv > /dev/null 2>&1; then
    real=$(pyenv which deno 2>/dev/null || echo "$found")
  fi
  if works "$real"; then
    echo "setup-deno: found $real on PATH ($("$real" --version | head -n1)); nothing to do"
    exit 0
  fi
  echo "setup-deno: $found on PATH is not deno >= 2; installing $VERSION project-locally"
fi

PY=$(command -v python3 || true)
if [ -z "$PY" ]; then
  echo "setup-deno: python3 is needed for 'pip install deno==$VERSION' (apt-get install -y python3-pip)" >&2
  exit 1
fi
if ! "$PY" -m pip --version > /dev/null 2>&1; then
  echo "setup-deno: installing python3-pip with apt-get"
  apt_install python3-pip
fi

echo "setup-deno: pip install --target $TARGET deno==$VERSION"
mkdir -p "$TARGET"
# --break-system-packages is harmless with --target and needed by Debian 12's pip policy.
"$PY" -m pip install --quiet --upgrade --target "$TARGET" "deno==$VERSION" --break-system-packages 2>/dev/null \
  || "$PY" -m pip install --quiet --upgrade --target "$TARGET" "deno==$VERSION"

bin="$TARGET/bin/deno"
if [ ! -x "$bin" ]; then
  # Older layouts: look for the binary anywhere under the target.
  bin=$(find "$TARGET" -type f -name deno -perm -u+x | head -n1)
fi
if [ -z "$bin" ] || ! works "$bin"; then
  echo "setup-deno: pip finished but no working deno binary was found under $TARGET" >&2
  exit 1
fi
echo "setup-deno: installed $("$bin" --version | head -n1) at $bin"
if [ "$bin" != "$TARGET/bin/deno" ]; then
  echo "setup-deno: the backend looks for $TARGET/bin/deno; set UNITLAB_DENO=$bin"
fi
