#!/usr/bin/env bash
# Set up and run the whole test suite: unit (doubles), integration (real model, real SQLite),
# API (real uvicorn server) and browser tests where present.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 FM_TEST_OUTPUT="${FM_TEST_OUTPUT:-$(pwd)/test-output}"
exec .venv/bin/python -m pytest -q -rs "$@"
