#!/usr/bin/env bash
# Installs Debian's chromium for the report tests (reports/tests/browser.rs opens the generated
# report headless, takes a screenshot and checks every chart). Idempotent: does nothing when
# /usr/bin/chromium (or a chromium on PATH) already runs.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

found=""
for c in /usr/bin/chromium "$(command -v chromium 2>/dev/null || true)"; do
    if [ -n "$c" ] && [ -x "$c" ]; then found="$c"; break; fi
done

if [ -z "$found" ]; then
    apt_install chromium
    found=/usr/bin/chromium
    [ -x "$found" ] || die "apt-get installed chromium but $found is missing"
    say "installed Debian's chromium"
else
    say "chromium present: $found"
fi

# A browser that is installed but cannot start (missing libraries) is no use to the tests.
if ! version=$("$found" --headless --no-sandbox --disable-gpu --version 2>/dev/null); then
    die "$found is installed but does not start; try: apt-get install --reinstall chromium"
fi
say "$version"
