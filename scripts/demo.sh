#!/usr/bin/env bash
# Set up, generate the bundled demo stream, run every week, write the digest, then serve the API.
# It ends, every time, with the service answering and the login URL and a fresh admin key printed
# (or stops with the reason). Ctrl-C stops the server.
#
#   DEMO_VENV=path/to/venv  use an existing virtualenv with feedback-miner's dependencies installed (skips
#                           setup); the code that runs is still this checkout's (it goes first on PYTHONPATH)
#   DEMO_OUT=dir            where the demo data, digests and server log go (default demo_out)
#   DEMO_WEEKS=n            weeks of demo data (default 8)
#   HOST=… PORT=…           where the API listens (default 127.0.0.1:8000)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${DEMO_VENV:-}" ]; then
  VENV="$DEMO_VENV"
  if [ ! -x "$VENV/bin/feedback-miner" ]; then
    echo "demo: DEMO_VENV=$VENV has no bin/feedback-miner; run scripts/setup.sh or unset DEMO_VENV" >&2
    exit 1
  fi
  export PYTHONPATH="$(pwd)${PYTHONPATH:+:$PYTHONPATH}"
else
  scripts/setup.sh
  VENV=.venv
fi
FM="$VENV/bin/feedback-miner"
PY="$VENV/bin/python"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
OUT="${DEMO_OUT:-demo_out}"
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
mkdir -p "$OUT"
CODE="$("$PY" -P -c 'import feedback_miner, pathlib; print(pathlib.Path(feedback_miner.__file__).resolve().parent.parent)')"
echo "demo: the code in $CODE, the virtualenv $VENV"
OUT="$(cd "$OUT" && pwd)"
DB="sqlite:///$OUT/demo.db"
BASE="http://$HOST:$PORT"

if ! "$PY" -c 'import socket, sys; s = socket.socket(); s.bind((sys.argv[1], int(sys.argv[2])))' "$HOST" "$PORT" \
    2>/dev/null; then
  echo "demo: port $PORT on $HOST is already in use; choose another: PORT=8001 scripts/demo.sh" >&2
  exit 1
fi

"$FM" demo --out "$OUT" --db "$DB" --weeks "${DEMO_WEEKS:-8}"

KEY="$("$FM" keys create --role admin --name "demo admin" --db "$DB" 2>"$OUT/keys.err")" || {
  cat "$OUT/keys.err" >&2
  exit 1
}
LOG="$OUT/server.log"
echo "Starting the API on $BASE (the model loads first; log: $LOG)"
"$FM" serve --host "$HOST" --port "$PORT" --db "$DB" >"$LOG" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Wait until /readyz answers 200 (model loaded, store reachable), or say why not.
if ! "$PY" - "$BASE/readyz" "$SERVER" <<'EOF'
import os, sys, time, urllib.request
url, pid = sys.argv[1], int(sys.argv[2])
end = time.monotonic() + float(os.environ.get("DEMO_START_TIMEOUT", "300"))
while time.monotonic() < end:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("demo: the server exited before it answered")
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            if r.status == 200:
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.5)
sys.exit("demo: the server did not answer /readyz in time")
EOF
then
  echo "--- last lines of $LOG ---" >&2
  tail -n 20 "$LOG" >&2 || true
  exit 1
fi

echo
echo "The API is up: $BASE (docs: $BASE/docs, health: $BASE/healthz)"
echo "Log in at $BASE/login with this admin key (shown once; stored hashed):"
echo "$KEY"
echo "Press Ctrl-C to stop the server."
wait "$SERVER"
