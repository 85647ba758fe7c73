#!/usr/bin/env bash
# Set up and run the whole test suite: unit (doubles), integration (real model, real SQLite),
# API (real uvicorn server) and browser tests (headless Chromium). Installs what the tests need
# (.venv via setup.sh; Debian's Chromium via ci-system-deps.sh), or stops with the command to run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ ! -x /usr/bin/chromium ]; then
  echo "test: installing Chromium for the browser tests (scripts/ci-system-deps.sh)" >&2
  if ! scripts/ci-system-deps.sh; then
    echo "test: the browser tests need Debian's Chromium at /usr/bin/chromium; install it, then run this again:" >&2
    echo "  sudo scripts/ci-system-deps.sh" >&2
    exit 1
  fi
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 FM_TEST_OUTPUT="${FM_TEST_OUTPUT:-$(pwd)/test-output}"
exec .venv/bin/python -m pytest -q -rs "$@"
