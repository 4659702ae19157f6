#!/usr/bin/env bash
# Install Debian's `chromium` for the browser tests (pytest -m browser) when it is missing.
# Idempotent and quiet: does nothing when /usr/bin/chromium exists; prints one line otherwise.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "install-chromium: /usr/bin/chromium is missing and this is not root (browser tests will be skipped)" >&2
    exit 0
  fi
fi
echo "install-chromium: installing Debian's chromium for the browser tests" >&2
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-liberation; } >"$log" 2>&1; then
  echo "install-chromium: apt-get failed:" >&2
  tail -n 20 "$log" >&2
  exit 1
fi
test -x /usr/bin/chromium
