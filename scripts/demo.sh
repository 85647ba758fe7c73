#!/usr/bin/env bash
# Set up, generate the bundled demo stream, run every week, write the digest, then serve the API.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
DB="sqlite:///$(pwd)/demo_out/demo.db"
.venv/bin/feedback-miner demo --out demo_out --db "$DB"
if .venv/bin/feedback-miner --help | grep -q " serve "; then
  echo "A fresh admin key for this demo (shown once; log in at http://127.0.0.1:${PORT:-8000}/login):"
  .venv/bin/feedback-miner keys create --role admin --name "demo admin" --db "$DB"
  echo "Starting the API on http://127.0.0.1:${PORT:-8000} (Ctrl-C to stop)"
  exec .venv/bin/feedback-miner serve --db "$DB" --port "${PORT:-8000}"
fi
