#!/usr/bin/env bash
# Set up and run the whole test suite: unit (doubles), integration (real model, real SQLite),
# API (real uvicorn server) and browser tests (headless Chromium). Installs what the tests need
# (Debian's Chromium via ci-system-deps.sh, then .venv via setup.sh), or stops with the command to run.
set -euo pipefail
cd "$(dirname "$0")/.."
CHROMIUM="${FM_CHROMIUM:-/usr/bin/chromium}"  # FM_CHROMIUM: only for testing this script
if [ ! -x "$CHROMIUM" ]; then
  echo "test: installing Chromium for the browser tests (scripts/ci-system-deps.sh)" >&2
  if ! FM_CHROMIUM="$CHROMIUM" scripts/ci-system-deps.sh; then
    echo "test: the browser tests need Debian's Chromium at $CHROMIUM; install it, then run this again:" >&2
    echo "  sudo scripts/ci-system-deps.sh" >&2
    exit 1
  fi
fi
scripts/setup.sh
if [ -z "${FM_SKIP_LINT:-}" ]; then  # types and lint are part of the build (FM_SKIP_LINT=1 skips them locally)
  echo "test: ruff check" >&2
  .venv/bin/ruff check feedback_miner api tests benchmarks notebooks
  echo "test: mypy --strict (pyproject.toml [tool.mypy])" >&2
  .venv/bin/mypy
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 FM_TEST_OUTPUT="${FM_TEST_OUTPUT:-$(pwd)/test-output}"
exec .venv/bin/python -m pytest -q -rs "$@"
