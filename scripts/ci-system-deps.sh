#!/usr/bin/env bash
# System packages the test suite needs beyond Python: Debian's Chromium for the browser tests
# (driven by Playwright through /usr/bin/chromium; no browser is ever downloaded).
# Idempotent: does nothing, quickly, when Chromium is already installed.
set -euo pipefail
CHROMIUM="${FM_CHROMIUM:-/usr/bin/chromium}"  # FM_CHROMIUM: only for testing the scripts
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "ci-system-deps: /usr/bin/chromium is missing and this user cannot install it; as root run:" >&2
    echo "  apt-get update && apt-get install -y chromium" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium >/dev/null  # with its recommended fonts, for readable screenshots
"$CHROMIUM" --version
