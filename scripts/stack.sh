#!/usr/bin/env bash
# The production layout on one machine, from Debian packages (no Docker):
#   PostgreSQL (apt: postgresql) in a project folder  ->  databases "prefect" and "pressroom" (the ledger)
#   Prefect server on PostgreSQL                       ->  the API/UI, schedules, global concurrency limits
#   one process work pool "pressroom" + N workers      ->  each flow run is a process on this machine, forked
#                                                         by the worker's launcher (flows/launcher.py)
#
#   scripts/stack.sh start [N]    start everything (N workers, default 2); safe to run again
#   scripts/stack.sh workers N    replace the running workers by N workers
#   scripts/stack.sh db           start PostgreSQL only (ledger migrated)
#   scripts/stack.sh status       what runs, where
#   scripts/stack.sh env          the variables a client needs: eval "$(scripts/stack.sh env)"
#   scripts/stack.sh stop         stop workers, server and PostgreSQL (data is kept in $STACK_DIR)
#
# Settings (environment): STACK_DIR (default var/stack), PG_PORT (5433), PREFECT_PORT (4200), POOL (pressroom),
# WORKER_LIMIT (flow runs at once per worker, 4), PYTHON (.venv/bin/python), PG_BIN (newest
# /usr/lib/postgresql/*/bin), LAUNCHER (on: each worker's flow runs are forked by a launcher that has Prefect
# and the flows imported; off: each is a new `python -m prefect.engine`). Anything else in the environment (PRESSROOM_CONFIG, credentials) reaches the
# workers and so every flow run. Run as root, PostgreSQL runs as the "postgres" user.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STACK_DIR="$(mkdir -p "${STACK_DIR:-$ROOT/var/stack}" && cd "${STACK_DIR:-$ROOT/var/stack}" && pwd)"
PG_PORT="${PG_PORT:-5433}"
PREFECT_PORT="${PREFECT_PORT:-4200}"
POOL="${POOL:-pressroom}"
WORKER_LIMIT="${WORKER_LIMIT:-4}"
LAUNCHER="${LAUNCHER:-on}"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
BIN="$(dirname "$PY")"
PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
PGDATA="$STACK_DIR/pg/data"
RUN="$STACK_DIR/run"
LOGS="$STACK_DIR/logs"

export PREFECT_HOME="$STACK_DIR/prefect"          # the stack's own profile and local storage
export PREFECT_API_URL="http://127.0.0.1:$PREFECT_PORT/api"
export PRESSROOM_LEDGER_URL="${PRESSROOM_LEDGER_URL:-postgresql+psycopg://pressroom@127.0.0.1:$PG_PORT/pressroom}"
export PRESSROOM_HOME="$ROOT"                      # prefect.yaml's pull step: flow runs start in this checkout
export PREFECT_SERVER_ANALYTICS_ENABLED=false
# The server does not check CSRF tokens (PREFECT_SERVER_CSRF_PROTECTION_ENABLED is off, its default), so its
# clients do not ask for one: each new client in a flow run asked, about 9 requests a run.
export PREFECT_SERVER_CSRF_PROTECTION_ENABLED=false PREFECT_CLIENT_CSRF_SUPPORT_ENABLED=false
# A worker asks for due runs every 2 s (Prefect's default, 10 s, would add up to 10 s before an emergency's run
# starts); one small request, about 0.01 CPU-s a second on the server.
export PREFECT_WORKER_QUERY_SECONDS="${PREFECT_WORKER_QUERY_SECONDS:-2}"
PREFECT_DB_URL="postgresql+asyncpg://pressroom@127.0.0.1:$PG_PORT/prefect"

say() { echo "stack: $*" >&2; }
die() { say "$*"; exit 1; }

as_pg() {  # PostgreSQL refuses to run as root
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Background jobs of a script start with SIGINT ignored, and then Python never sees Ctrl-C: Prefect's worker
# turns SIGTERM into SIGINT to stop gracefully, so give the daemons their default signal handling back.
daemon() { exec setsid env --default-signal=INT "$@"; }  # run with &: $! is the daemon itself

stop_pids() {  # stop_pids PIDFILE...: SIGTERM each process group, SIGKILL what is left after 20 s
  local f
  for f in "$@"; do alive "$f" && kill -TERM -- "-$(cat "$f")" 2>/dev/null || true; done
  for _ in $(seq 100); do
    local left=0
    for f in "$@"; do alive "$f" && left=1; done
    [ "$left" = 0 ] && break
    sleep 0.2
  done
  for f in "$@"; do
    alive "$f" && { say "killing $(basename "$f" .pid)"; kill -KILL -- "-$(cat "$f")" 2>/dev/null || true; }
    rm -f "$f"
  done
}

psql_q() { "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U pressroom -d postgres -tAc "$1"; }

start_db() {
  [ -x "$PG_BIN/initdb" ] || die "PostgreSQL not installed: apt-get install postgresql (scripts/system-deps.sh --test)"
  mkdir -p "$RUN" "$LOGS" "$STACK_DIR/pg"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$STACK_DIR/pg"
    runuser -u postgres -- test -x "$STACK_DIR/pg" ||
      die "the postgres user cannot reach $STACK_DIR/pg: choose a STACK_DIR whose parents are world-searchable"
  fi
  if ! as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1 &&
    "$PY" -c "import socket, sys; sys.exit(socket.socket().connect_ex(('127.0.0.1', $PG_PORT)) != 0)"; then
    die "port $PG_PORT is taken by another program (another PostgreSQL?): set PG_PORT"
  fi
  if [ ! -f "$PGDATA/PG_VERSION" ]; then
    say "initdb $PGDATA"
    # Local trust on 127.0.0.1 only; a production server uses scram passwords (README "Production").
    as_pg "$PG_BIN/initdb" -D "$PGDATA" -U pressroom --auth=trust -E UTF8 --locale=C.UTF-8 >"$LOGS/initdb.log"
  fi
  if ! as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    say "PostgreSQL on 127.0.0.1:$PG_PORT"
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -w -t 60 -l "$STACK_DIR/pg/postgres.log" \
      -o "-h 127.0.0.1 -p $PG_PORT -k $STACK_DIR/pg -c max_connections=300" start >/dev/null
  fi
  for db in prefect pressroom; do
    [ "$(psql_q "select 1 from pg_database where datname = '$db'")" = 1 ] || psql_q "create database $db" >/dev/null
  done
  "$BIN/pressroom" db upgrade >&2
}

wait_http() {  # wait_http URL SECONDS LOGFILE
  "$PY" - "$1" "$2" "$3" <<'EOF'
import sys, time, urllib.request
url, seconds, log = sys.argv[1], float(sys.argv[2]), sys.argv[3]
deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            if r.status == 200:
                sys.exit(0)
    except OSError:
        time.sleep(0.5)
sys.exit(f"stack: {url} did not answer in {seconds:.0f} s; see {log}")
EOF
}

start_server() {
  if alive "$RUN/server.pid"; then return; fi
  if "$PY" -c "import socket, sys; sys.exit(socket.socket().connect_ex(('127.0.0.1', $PREFECT_PORT)) != 0)"; then
    die "port $PREFECT_PORT is taken by another program (another Prefect server?): set PREFECT_PORT"
  fi
  say "Prefect server on $PREFECT_API_URL (database: PostgreSQL prefect)"
  PREFECT_API_DATABASE_CONNECTION_URL="$PREFECT_DB_URL" PREFECT_SERVER_API_HOST=127.0.0.1 \
    PREFECT_SERVER_API_PORT="$PREFECT_PORT" PREFECT_UI_ENABLED="${PREFECT_UI_ENABLED:-true}" \
    daemon "$PY" -m prefect server start --host 127.0.0.1 --port "$PREFECT_PORT" \
    >"$LOGS/server.log" 2>&1 </dev/null &
  echo $! >"$RUN/server.pid"
  wait_http "$PREFECT_API_URL/health" 180 "$LOGS/server.log"
}

pool_template() {  # the process pool's job template, its flow-run command set (README "Production")
  local command="$PY -m prefect.engine"
  [ "$LAUNCHER" = on ] && command="$PY -S $ROOT/flows/launcher.py"
  "$PY" -m prefect work-pool get-default-base-job-template --type process |
    "$PY" -c 'import json, sys; t = json.load(sys.stdin); t["variables"]["properties"]["command"]["default"] = sys.argv[1]; json.dump(t, sys.stdout, indent=1)' "$command"
}

setup_server() {
  pool_template >"$RUN/pool-template.json"
  "$PY" -m prefect work-pool create "$POOL" --type process --base-job-template "$RUN/pool-template.json" \
    --overwrite >/dev/null
  (cd "$ROOT" && "$PY" -m prefect --no-prompt deploy --all >"$LOGS/deploy.log" 2>&1) ||
    die "prefect deploy failed; see $LOGS/deploy.log"
  "$PY" -m pressroom.transports.ratelimit >&2  # per-outlet API rate limits (global concurrency limits)
}

stop_workers() {  # a worker stops taking runs at once and waits for its running flow runs (≤ 20 s here)
  local files=("$RUN"/worker-*.pid) launchers=("$RUN"/launcher-*.pid)
  [ -f "${files[0]}" ] && stop_pids "${files[@]}"
  [ -f "${launchers[0]}" ] && stop_pids "${launchers[@]}"  # after the workers: their last runs are done
  return 0
}

start_launcher() {  # start_launcher I: worker I's launcher; waits until it listens (it imports for a few seconds)
  local sock="$RUN/launcher-$1.sock"
  rm -f "$sock"
  (cd "$ROOT" && daemon "$PY" -m flows.launcher serve "$sock" >"$LOGS/launcher-$1.log" 2>&1 </dev/null) &
  echo $! >"$RUN/launcher-$1.pid"
  for _ in $(seq 300); do
    [ -S "$sock" ] && return 0
    alive "$RUN/launcher-$1.pid" || break
    sleep 0.2
  done
  say "launcher $1 did not start (see $LOGS/launcher-$1.log): its worker's flow runs start as new processes"
}

start_workers() {
  local n="$1"
  stop_workers
  for i in $(seq "$n"); do
    local via=""
    if [ "$LAUNCHER" = on ]; then start_launcher "$i"; via="$RUN/launcher-$i.sock"; fi
    PRESSROOM_LAUNCHER="$via" \
      daemon "$PY" -m prefect worker start --pool "$POOL" --type process --name "pressroom-$(hostname)-$i" \
      --limit "$WORKER_LIMIT" --install-policy never >"$LOGS/worker-$i.log" 2>&1 </dev/null &
    echo $! >"$RUN/worker-$i.pid"
  done
  say "$n worker(s) on pool $POOL (at most $WORKER_LIMIT flow runs each; launcher $LAUNCHER)"
}

stop_all() {
  stop_workers
  stop_pids "$RUN/server.pid"
  if [ -f "$PGDATA/PG_VERSION" ] && as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
  fi
  say "stopped"
}

print_env() {
  echo "export PREFECT_API_URL=$PREFECT_API_URL"
  echo "export PRESSROOM_LEDGER_URL=$PRESSROOM_LEDGER_URL"
}

status() {
  if [ -f "$PGDATA/PG_VERSION" ] && as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    echo "PostgreSQL   running on 127.0.0.1:$PG_PORT ($PGDATA)"
  else
    echo "PostgreSQL   stopped"
  fi
  if alive "$RUN/server.pid"; then echo "Prefect      running on $PREFECT_API_URL"; else echo "Prefect      stopped"; fi
  local n=0
  for f in "$RUN"/worker-*.pid; do alive "$f" && n=$((n + 1)); done
  echo "workers      $n on pool $POOL"
}

case "${1:-}" in
  start) start_db; start_server; setup_server; start_workers "${2:-2}"; print_env ;;
  workers) alive "$RUN/server.pid" || die "the server is not running: scripts/stack.sh start"; start_workers "${2:?N}" ;;
  db) start_db; print_env ;;
  stop) stop_all ;;
  status) status ;;
  env) print_env ;;
  *) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
