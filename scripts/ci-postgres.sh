#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: initdb + pg_ctl in a temp dir, listening on
# 127.0.0.1 at a free port, trust auth for local TCP, one database (fm_test). It exports
#   FM_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:PORT/fm_test
# for the command it runs, and stops the cluster and deletes its files when that command ends.
#
#   scripts/ci-postgres.sh scripts/test.sh tests/integration   # run a command against it
#   scripts/ci-postgres.sh                                     # start it, print the URL, wait for Ctrl-C
#
# Debian's postgresql package (/usr/lib/postgresql/N/bin) is installed with apt when absent (needs
# root or sudo). As root, the server runs as the `postgres` user (initdb refuses to run as root).
# When FM_TEST_POSTGRES_URL is already set, that server is used and nothing is started.
set -euo pipefail

if [ -n "${FM_TEST_POSTGRES_URL:-}" ]; then
  echo "ci-postgres: using the server at FM_TEST_POSTGRES_URL (${FM_TEST_POSTGRES_URL##*@})" >&2
  if [ "$#" -gt 0 ]; then exec "$@"; fi
  exit 0
fi

pg_bindir() {
  local d
  for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  done
  return 1
}

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
if ! BIN=$(pg_bindir); then
  if [ "$(id -u)" -ne 0 ] && [ -z "$SUDO" ]; then
    echo "ci-postgres: PostgreSQL is not installed and this user cannot install it (need root or sudo)" >&2
    exit 1
  fi
  echo "ci-postgres: installing Debian's postgresql" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # The package's own cluster is not wanted: only the binaries are used.
  $SUDO apt-get install -y -qq postgresql >/dev/null
  BIN=$(pg_bindir) || { echo "ci-postgres: no initdb after installing postgresql" >&2; exit 1; }
fi

# Run a command as the cluster's owner: `postgres` when we are root, else ourselves.
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || { echo "ci-postgres: running as root but there is no postgres user" >&2; exit 1; }
  as_owner() { runuser -u postgres -- "$@"; }
else
  as_owner() { "$@"; }
fi

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DIR=$(mktemp -d "${TMPDIR:-/tmp}/fm-pg.XXXXXX")
if [ "$(id -u)" -eq 0 ]; then chown postgres: "$DIR"; fi
chmod 700 "$DIR"

stop_cluster() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "${SLEEPER:-}" ]; then kill "$SLEEPER" 2>/dev/null || true; fi
  if [ -f "$DIR/data/postmaster.pid" ]; then
    as_owner "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$DIR"
  exit "$rc"
}
trap stop_cluster EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

as_owner "$BIN/initdb" -D "$DIR/data" -U postgres -E UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=trust \
  --no-sync >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; exit 1; }
# Throwaway data: durability off for speed; listen only on loopback; the socket in the temp dir.
as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 start \
  -o "-p $PORT -c listen_addresses=127.0.0.1 -k $DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
  >/dev/null || { cat "$DIR/server.log" >&2; exit 1; }
as_owner "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U postgres fm_test

export FM_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$PORT/fm_test"
echo "ci-postgres: PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') at 127.0.0.1:$PORT (data in $DIR)" >&2

if [ "$#" -eq 0 ]; then
  echo "export FM_TEST_POSTGRES_URL=$FM_TEST_POSTGRES_URL"
  echo "ci-postgres: running until interrupted (Ctrl-C stops the cluster)" >&2
  while true; do  # `wait` returns at once on a signal, so the traps run without waiting for the sleep
    sleep 3600 & SLEEPER=$!
    wait "$SLEEPER" || true
  done
fi
set +e
"$@"
exit $?
