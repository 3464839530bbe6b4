#!/usr/bin/env bash
# A real distributed Airflow 3.3.2 on this one machine: PostgreSQL (metadata DB, result backend)
# and Redis (Celery broker) from Debian's packages, then api-server, scheduler, dag-processor, two
# triggerers and two Celery workers, each its own process tree. See docs/deployment.md.
#
#   scripts/cluster.sh up     install what is missing, start whatever is not running, wait until healthy
#   scripts/cluster.sh ps     one line per component: "<name> <pid>" (pid "-" when not running)
#   scripts/cluster.sh down   stop every component's whole process tree, by PID, and wait until reaped
#
# State lives in $CLUSTER_DIR (default .cluster/): env (source it to run `airflow` commands on the
# cluster), dags/, logs/, pids in run/, secrets in secrets/ (0600). Ports, all on 127.0.0.1:
# $CLUSTER_PG_PORT (25432), $CLUSTER_REDIS_PORT (26379), $CLUSTER_API_PORT (28080).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
CLUSTER_DIR="${CLUSTER_DIR:-$here/.cluster}"
mkdir -p "$CLUSTER_DIR"
CLUSTER_DIR="$(cd "$CLUSTER_DIR" && pwd)"
venv="${VENV:-$here/.venv}"
airflow_version="3.3.2"
pg_port="${CLUSTER_PG_PORT:-25432}"
redis_port="${CLUSTER_REDIS_PORT:-26379}"
api_port="${CLUSTER_API_PORT:-28080}"
run="$CLUSTER_DIR/run"
secrets="$CLUSTER_DIR/secrets"
logs="$CLUSTER_DIR/logs"
COMPONENTS=(postgres redis api-server scheduler dag-processor triggerer-1 triggerer-2 worker-1 worker-2)

# PostgreSQL and Redis run as their own users, who must pass through every folder above their
# data. A checkout inside a 0700 folder (mktemp -d, a CI workspace) bars them; their data and
# sockets then live in a folder of their own under /var/tmp, named after $CLUSTER_DIR. Kept short:
# a unix socket path must stay under about 100 bytes.
if runuser -u nobody -- test -x "$CLUSTER_DIR" 2>/dev/null; then
  daemon_dir="$CLUSTER_DIR"
else
  daemon_dir="/var/tmp/projects-cluster-$(printf %s "$CLUSTER_DIR" | cksum | cut -d' ' -f1)"
  mkdir -p "$daemon_dir"
  chmod 755 "$daemon_dir"
fi
pg_data="$daemon_dir/pgdata"
pg_run="$daemon_dir/pg-run"
redis_data="$daemon_dir/redis"
# The daemons' users cannot enter the caller's folder either: start everything from /.
cd /

log() { printf '== cluster: %s\n' "$*"; }
die() {
  printf '== cluster: ERROR: %s\n' "$*" >&2
  exit 1
}
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# -- processes ---------------------------------------------------------------------------------
pid_of() { cat "$run/$1.pid" 2>/dev/null || true; }
# Alive means: the process exists and is not a zombie (a zombie still answers `kill -0`).
alive() {
  local pid="$1" state
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
  state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo Z)"
  [ "$state" != Z ] && [ "$state" != X ]
}
running() { alive "$(pid_of "$1")"; }
# Every descendant of a PID. Task processes change process group and Postgres children start
# sessions of their own, so neither `kill -- -pgid` nor the session id catches them all.
# Read from /proc (not ps: a minimal Debian has no procps); a process name may hold spaces and
# parentheses, so the fields are taken after the last ")".
descendants() {
  local stat
  for stat in /proc/[0-9]*/stat; do cat "$stat" 2>/dev/null || true; done | sed -E 's/^([0-9]+) .*\) [A-Za-z] ([0-9]+) .*/\1 \2/' | awk -v root="$1" '
    { parent[$1] = $2; pids[NR] = $1 }
    END {
      keep[root] = 1; changed = 1
      while (changed) { changed = 0
        for (i in pids) { p = pids[i]; if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; changed = 1 } } }
      for (p in keep) if (p != root) print p
    }'
}
# SIGTERM the whole tree, wait up to $2 s, SIGKILL what is left, then wait until PID 1 has reaped it.
stop_tree() {
  local root="$1" grace="${2:-15}" pids deadline
  pids="$root $(descendants "$root" | tr '\n' ' ')"
  # shellcheck disable=SC2086
  kill -TERM $pids 2>/dev/null || true
  deadline=$((SECONDS + grace))
  while [ $SECONDS -lt $deadline ]; do
    local left=0
    for p in $pids; do alive "$p" && left=1; done
    [ $left -eq 0 ] && break
    sleep 0.2
  done
  for p in $pids; do alive "$p" && kill -KILL "$p" 2>/dev/null || true; done
  # Reaped means gone from /proc; a zombie is dead already, so stop waiting for it after 10 s.
  deadline=$((SECONDS + 10))
  for p in $pids; do
    while [ -e "/proc/$p" ] && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
  done
}
# Start a daemon in its own session, stdin from /dev/null and both outputs to its log file:
# an inherited stdout would keep whoever captures `cluster.sh up` waiting for end-of-output.
spawn() {
  local name="$1"
  shift
  setsid "$@" </dev/null >>"$logs/$name.log" 2>&1 &
  echo $! >"$run/$name.pid"
  date +%s >"$run/$name.started"
}

# -- installation --------------------------------------------------------------------------------
pg_bin() { find /usr/lib/postgresql -maxdepth 3 -name initdb -path '*/bin/*' 2>/dev/null | sort -V | tail -1 | xargs -r dirname; }

install_packages() {
  local want=()
  [ -n "$(pg_bin)" ] || want+=(postgresql)
  command -v redis-server >/dev/null 2>&1 || want+=(redis-server)
  [ ${#want[@]} -eq 0 ] && return 0
  log "apt-get install ${want[*]}"
  # Without a policy-rc.d that says 101, the packages' postinst starts system-wide services on
  # the default ports 5432 and 6379; ours run on other ports, as their own users, started here.
  local made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
    as_root chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
  [ $made_policy -eq 1 ] && as_root rm -f /usr/sbin/policy-rc.d
  return 0
}

install_python() {
  if [ ! -x "$venv/bin/airflow" ]; then
    bash "$here/scripts/setup-venv.sh" "$venv" "$airflow_version"
  fi
  local uv_bin
  uv_bin="$(bash "$here/scripts/uv.sh")"
  # The `cluster` dependency group (Celery provider, Redis client, Postgres driver) on top of
  # Airflow's own pins; constraints/cluster-*.txt pins the group and what it pulls in. A no-op in
  # about a second when warm.
  "$uv_bin" pip install --quiet --compile-bytecode --python "$venv/bin/python" \
    --constraint "$here/constraints/airflow-${airflow_version}-py3.11.txt" \
    --constraint "$here/constraints/cluster-airflow-${airflow_version}-py3.11.txt" \
    --constraint "$here/constraints/dev-py3.11.txt" \
    "apache-airflow==${airflow_version}" -e "$here" \
    --group "$here/pyproject.toml:dev" --group "$here/pyproject.toml:cluster"
}

# -- configuration -------------------------------------------------------------------------------
secret_file() {
  # printf '%s': the _CMD output is used exactly as printed, so a trailing newline would become
  # part of the value (it became part of a database name once).
  [ -s "$secrets/$1" ] || (umask 077 && printf '%s' "$2" >"$secrets/$1")
}

configure() {
  mkdir -p "$run" "$logs" "$CLUSTER_DIR/dags" "$CLUSTER_DIR/home"
  install -d -m 700 "$secrets"
  local py="$venv/bin/python"
  secret_file pg_password "$("$py" -c 'import secrets; print(secrets.token_hex(24), end="")')"
  secret_file sql_alchemy_conn "postgresql+psycopg://airflow:$(cat "$secrets/pg_password")@127.0.0.1:${pg_port}/airflow"
  secret_file fernet_key "$("$py" -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode(), end="")')"
  # HS512 needs a key of at least 64 bytes.
  secret_file jwt_secret "$("$py" -c 'import secrets; print(secrets.token_hex(48), end="")')"
  secret_file api_secret_key "$("$py" -c 'import secrets; print(secrets.token_hex(32), end="")')"

  # Every setting the components use, in one sourceable file: the same file is what the user
  # sources to point `airflow` commands at the cluster, so they never disagree.
  cat >"$CLUSTER_DIR/env.tmp" <<EOF
# Generated by scripts/cluster.sh: \`source\` it to run airflow commands against the cluster.
export AIRFLOW_HOME='$CLUSTER_DIR/home'
export AIRFLOW__CORE__EXECUTOR='CeleryExecutor'
export AIRFLOW__CORE__DAGS_FOLDER='$CLUSTER_DIR/dags'
export AIRFLOW__CORE__LOAD_EXAMPLES='False'
# 2 cores: at most 8 task processes at once, 4 per worker.
export AIRFLOW__CORE__PARALLELISM='8'
export AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG='8'
export AIRFLOW__CELERY__WORKER_CONCURRENCY='4'
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL='http://127.0.0.1:${api_port}/execution/'
export AIRFLOW__CORE__FERNET_KEY_CMD='cat $secrets/fernet_key'
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD='cat $secrets/sql_alchemy_conn'
export AIRFLOW__CELERY__BROKER_URL='redis://127.0.0.1:${redis_port}/0'
export AIRFLOW__API__HOST='127.0.0.1'
export AIRFLOW__API__PORT='${api_port}'
export AIRFLOW__API__BASE_URL='http://127.0.0.1:${api_port}'
export AIRFLOW__API__WORKERS='1'
export AIRFLOW__API__SECRET_KEY_CMD='cat $secrets/api_secret_key'
export AIRFLOW__API_AUTH__JWT_SECRET_CMD='cat $secrets/jwt_secret'
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS='True'
export AIRFLOW__LOGGING__BASE_LOG_FOLDER='$logs/tasks'
# A DAG file dropped into dags/ is seen within 5 s.
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL='5'
export AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL='30'
# Failover: a dead triggerer's triggers move after 30 s (the default threshold; 10 s made triggers
# bounce between live triggerers on 2 cores), heartbeats every 2 s so the threshold is measured finely.
export AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC='2'
export AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD='30'
export AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC='2'
export AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC='2'
# A task whose worker died is failed (and retried) after 30 s without heartbeat, not 300 s.
export AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_SEC='3'
export AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT='30'
export AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL='5'
# A task whose Celery message was lost (a broker restart between queueing and delivery) is
# retried after 60 s in "queued", not 600 s; checked every 10 s instead of 120 s.
export AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT='60'
export AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL='10'
EOF
  mv "$CLUSTER_DIR/env.tmp" "$CLUSTER_DIR/env"
  # The example DAGs, refreshed on every `up` (other files in dags/ are left alone).
  cp "$here"/example_dags/*.py "$CLUSTER_DIR/dags/"
}

# -- components ------------------------------------------------------------------------------------
psql_admin() { runuser -u postgres -- "$(pg_bin)/psql" -h "$pg_run" -p "$pg_port" -d postgres -v ON_ERROR_STOP=1 -qAt "$@"; }

start_postgres() {
  local bin data="$pg_data"
  bin="$(pg_bin)"
  # The daemons run as their own users, who cannot enter a 0700 root folder: give them theirs.
  install -d -o postgres -g postgres -m 700 "$pg_run"
  if [ ! -s "$data/PG_VERSION" ]; then
    install -d -o postgres -g postgres -m 700 "$data"
    local pwfile="$pg_run/pwfile"
    install -o postgres -m 600 "$secrets/pg_password" "$pwfile"
    runuser -u postgres -- "$bin/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
      --pwfile="$pwfile" -E UTF8 >>"$logs/postgres.log" 2>&1
    rm -f "$pwfile"
  fi
  # 100 connections: an idle cluster holds up to ~29, a busy one with 8 tasks about twice that.
  spawn postgres runuser -u postgres -- "$bin/postgres" -D "$data" -c listen_addresses=127.0.0.1 \
    -c port="$pg_port" -c unix_socket_directories="$pg_run" -c max_connections=150 -c shared_buffers=128MB \
    -c fsync=off -c synchronous_commit=off
  wait_for postgres 60 "$bin/pg_isready" -q -h 127.0.0.1 -p "$pg_port"
  if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname='airflow'")" != 1 ]; then
    psql_admin -c "CREATE ROLE airflow LOGIN PASSWORD '$(cat "$secrets/pg_password")'"
    psql_admin -c "CREATE DATABASE airflow OWNER airflow"
  fi
}

start_redis() {
  install -d -o redis -g redis -m 700 "$redis_data"
  # An append-only file, as a broker needs: without it a Redis restart drops every queued task
  # message, and those tasks sit in "queued" until [scheduler] task_queued_timeout.
  spawn redis runuser -u redis -- redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$redis_data" \
    --save '' --appendonly yes --appendfsync everysec --daemonize no --protected-mode yes
  wait_for redis 30 sh -c "redis-cli -h 127.0.0.1 -p $redis_port ping | grep -q PONG"
}

airflow_env() { (. "$CLUSTER_DIR/env" && exec "$@"); }

migrate() {
  log "airflow db migrate"
  airflow_env "$venv/bin/airflow" db migrate >>"$logs/migrate.log" 2>&1 || die "db migrate failed: $logs/migrate.log"
}

# The api-server's health answer, read with the venv's Python (a fresh machine may have no curl);
# with a component name, succeeds only when that component is reported healthy.
health_is() {
  "$venv/bin/python" - "http://127.0.0.1:${api_port}/api/v2/monitor/health" "${1:-}" <<'PY' 2>/dev/null
import json, sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=3) as answer:
    health = json.load(answer)
sys.exit(0 if not sys.argv[2] or health[sys.argv[2]]["status"] == "healthy" else 1)
PY
}
sql() { runuser -u postgres -- "$(pg_bin)/psql" -h "$pg_run" -p "$pg_port" -d airflow -qAt -c "$1"; }

# A triggerer is told apart from the other by its job: both report the same hostname, so each
# one's job is the running TriggererJob that started after it was spawned and is not the other's.
triggerer_job() {
  local name="$1" other="$2" started claimed
  started="$(cat "$run/$name.started")"
  claimed="$(cat "$run/$other.job" 2>/dev/null || echo 0)"
  sql "SELECT id FROM job WHERE job_type='TriggererJob' AND state='running' AND id <> $claimed
       AND start_date >= to_timestamp($started - 1) AND latest_heartbeat > now() - interval '20 seconds'
       ORDER BY start_date LIMIT 1"
}

has_triggerer_job() { [ -n "$(triggerer_job "$1" "$2")" ]; }

worker_ping() {
  airflow_env "$venv/bin/python" - "$1" <<'PY' 2>/dev/null
import os, socket, sys
from celery import Celery
app = Celery(broker=os.environ["AIRFLOW__CELERY__BROKER_URL"])
name = f"{sys.argv[1]}@{socket.gethostname()}"
sys.exit(0 if app.control.ping(destination=[name], timeout=2) else 1)
PY
}

wait_for() {
  local name="$1" timeout="$2"
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    running "$name" || die "$name exited while starting: see $logs/$name.log"
    [ $SECONDS -lt $deadline ] || die "$name not healthy after ${timeout}s: see $logs/$name.log"
    sleep 0.5
  done
}

# The component sources the env file itself, so what runs is exactly what the user can source.
spawn_airflow() {
  local name="$1"
  shift
  spawn "$name" bash -c '. "$0" && exec "$1" "${@:2}"' "$CLUSTER_DIR/env" "$venv/bin/airflow" "$@"
}

start_airflow() {
  local name="$1"
  case "$name" in
    api-server) spawn_airflow "$name" api-server --host 127.0.0.1 --port "$api_port" --workers 1 ;;
    scheduler) spawn_airflow "$name" scheduler ;;
    dag-processor) spawn_airflow "$name" dag-processor ;;
    # --skip-serve-logs: two on one host would both bind the log-server port; the api-server reads
    # the shared local log folder instead.
    triggerer-*) spawn_airflow "$name" triggerer --skip-serve-logs ;;
    worker-*) spawn_airflow "$name" celery worker --skip-serve-logs \
      --celery-hostname "$name@%h" --concurrency 4 ;;
  esac
}

wait_airflow() {
  local name="$1"
  case "$name" in
    api-server) wait_for "$name" 120 health_is ;;
    scheduler) wait_for "$name" 120 health_is scheduler ;;
    dag-processor) wait_for "$name" 120 health_is dag_processor ;;
    triggerer-1) wait_for "$name" 120 has_triggerer_job triggerer-1 triggerer-2 ;;
    triggerer-2) wait_for "$name" 120 has_triggerer_job triggerer-2 triggerer-1 ;;
    worker-*) wait_for "$name" 120 worker_ping "$name" ;;
  esac
  if [ "${name%-*}" = triggerer ]; then
    local other=triggerer-1
    [ "$name" = triggerer-1 ] && other=triggerer-2
    triggerer_job "$name" "$other" >"$run/$name.job"
  fi
}

# Working, not only alive: its job heartbeated within the last 30 s. After a PostgreSQL restart a
# triggerer logged "Exited trigger loop" and then never exited: alive, holding its PID, doing
# nothing. (Airflow's Helm chart runs `airflow jobs check` as a liveness probe for this.)
working() {
  local name="$1" job
  case "$name" in
    triggerer-*)
      job="$(cat "$run/$name.job" 2>/dev/null || true)"
      [ -n "$job" ] || return 1
      [ "$(sql "SELECT count(*) FROM job WHERE id = $job AND latest_heartbeat > now() - interval '30 seconds'")" = 1 ]
      ;;
    scheduler | dag-processor)
      local type=SchedulerJob
      [ "$name" = dag-processor ] && type=DagProcessorJob
      [ "$(sql "SELECT count(*) FROM job WHERE job_type = '$type' AND state = 'running'
                AND latest_heartbeat > now() - interval '30 seconds'")" -ge 1 ]
      ;;
    *) return 0 ;;
  esac
}

# A running component that does not become working within 30 s (one just reconnecting after an
# outage does) is stopped, so that up starts it again.
stop_if_stuck() {
  local name="$1" deadline=$((SECONDS + 30))
  running "$name" || return 0
  until working "$name" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      log "$name ($(pid_of "$name")) is alive but its job stopped heartbeating: restarting it"
      stop_tree "$(pid_of "$name")" 20
      rm -f "$run/$name.pid"
      return 0
    fi
    sleep 1
  done
}

up() {
  local t0=$SECONDS
  install_packages
  install_python
  configure
  local started=()
  running postgres || { start_postgres && started+=(postgres); }
  running redis || { start_redis && started+=(redis); }
  migrate
  for name in scheduler dag-processor triggerer-1 triggerer-2; do stop_if_stuck "$name"; done
  for name in api-server scheduler dag-processor worker-1 worker-2; do
    if ! running "$name"; then
      start_airflow "$name"
      started+=("$name")
    fi
  done
  for name in "${started[@]}"; do wait_airflow "$name"; done
  # One triggerer at a time, so each one's job row can be told apart from the other's.
  for name in triggerer-1 triggerer-2; do
    if ! running "$name"; then
      rm -f "$run/$name.job"
      start_airflow "$name"
      wait_airflow "$name"
      started+=("$name")
    fi
  done
  log "up in $((SECONDS - t0)) s; started: ${started[*]:-nothing (all were running)}"
  log "state: $CLUSTER_DIR (logs in $logs); source $CLUSTER_DIR/env to use the airflow CLI"
  log "UI and API: http://127.0.0.1:${api_port}  postgres: 127.0.0.1:${pg_port}  redis: 127.0.0.1:${redis_port}"
  ps_
}

ps_() {
  local pid
  for name in "${COMPONENTS[@]}"; do
    pid="$(pid_of "$name")"
    if alive "$pid"; then echo "$name $pid"; else echo "$name -"; fi
  done
}

stop_component() {
  local name="$1" pid t0=$SECONDS
  pid="$(pid_of "$name")"
  if alive "$pid"; then
    # Postgres: a fast shutdown first (SIGTERM to the postmaster is a "smart" shutdown, which
    # waits for every client to leave); the tree is then stopped like any other.
    if [ "$name" = postgres ]; then
      runuser -u postgres -- "$(pg_bin)/pg_ctl" stop -s -m fast -t 20 -D "$pg_data" >/dev/null 2>&1 || true
    fi
    stop_tree "$pid" 20
    log "stopped $name ($pid) in $((SECONDS - t0)) s"
  fi
  rm -f "$run/$name.pid"
}

down() {
  # The Airflow components together (each takes 2-4 s to exit and be reaped), then the broker
  # and the database, which the others hold connections to.
  local name
  for name in worker-2 worker-1 triggerer-2 triggerer-1 dag-processor scheduler api-server; do
    stop_component "$name" &
  done
  wait
  stop_component redis
  stop_component postgres
}

case "${1:-}" in
  up) up ;;
  ps) ps_ ;;
  down) down ;;
  *)
    echo "usage: $0 up|ps|down" >&2
    exit 2
    ;;
esac
