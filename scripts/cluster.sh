#!/usr/bin/env bash
# A production-shaped Airflow cluster on this machine, without Docker:
#   scripts/cluster.sh up        install what is missing, start everything, wait until healthy
#   scripts/cluster.sh down      stop everything, verify that nothing is left running
#   scripts/cluster.sh status    each service: running? healthy? (exit 1 when one is not)
#   scripts/cluster.sh start|stop|restart NAME    one service (e.g. restart postgres)
#
# PostgreSQL (Airflow's metadata DB and Celery's result backend), Redis (Celery's broker), Airflow
# 3 with the CeleryExecutor (api-server, scheduler, dag-processor, triggerer, two celery workers)
# on the repository's dags/, and the dashboards (`sealdeal serve`). Everything they write is under
# $SEALDEAL_HOME/cluster/ (SEALDEAL_HOME defaults to ./data, as for scripts/demo.sh):
#   env            `source` it to use the `airflow` CLI against the cluster (0600: passwords)
#   secrets.json   database/Redis passwords, JWT secret, Fernet key: made once (0600)
#   airflow/       AIRFLOW_HOME: airflow.cfg, task logs, passwords.json (the UI users', 0600)
#   postgres/data  the database cluster; redis/ its config and append-only file
#   run/NAME.pid   logs/NAME.log   each service's pid and output
# Ports, all on 127.0.0.1: PostgreSQL 55432, Redis 55479, Airflow API/UI 55480, dashboards 55501;
# SEALDEAL_CLUSTER_PORT_BASE (default 55400) moves them all, SEALDEAL_CLUSTER_{PG,REDIS,API,
# DASHBOARDS}_PORT one each. The services start with a clean environment: the env file, plus the
# caller's SEALDEAL_* and AIRFLOW__* variables (e.g. AIRFLOW__SCHEDULER__… for a setting the env
# file does not fix). PostgreSQL refuses to run as root: as root it runs as the `postgres` system
# user, which must be able to traverse every folder above $SEALDEAL_HOME/cluster.
# The Python side (configuration, health checks, stopping): pipelines/app/cluster.py.
set -euo pipefail
BEGAN=$(date +%s%N)
die() {
    echo "cluster: $*" >&2
    exit 1
}
cd "$(dirname "$0")/.."
SEALDEAL_HOME="$(realpath -m "${SEALDEAL_HOME:-$PWD/data}")"
export SEALDEAL_HOME
# The services' commands below hold paths under it as plain words.
[[ $SEALDEAL_HOME != *[[:space:]]* ]] || die "SEALDEAL_HOME must not contain spaces: $SEALDEAL_HOME"
UP_TIMEOUT="${SEALDEAL_CLUSTER_UP_TIMEOUT:-300}" # seconds `up` waits for every service's health
command="${1:-}"
service="${2:-}"

usage() {
    sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

cluster_py() {
    uv run --frozen --no-sync --quiet python -m pipelines.app.cluster "$@" --home "$SEALDEAL_HOME"
}

as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

pg_bindir() { # Debian keeps the server binaries off PATH, under /usr/lib/postgresql/VERSION/bin
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [[ -x $dir/postgres && -x $dir/initdb ]]; then
            echo "$dir"
            return
        fi
    done
    if command -v postgres >/dev/null 2>&1; then dirname "$(command -v postgres)"; fi
}

install_missing() {
    local packages=()
    [[ -n $(pg_bindir) ]] || packages+=(postgresql)
    command -v redis-server >/dev/null 2>&1 || packages+=(redis-server)
    if ((${#packages[@]})); then
        command -v apt-get >/dev/null 2>&1 || die "${packages[*]} missing and no apt-get to install them"
        echo "installing ${packages[*]} (apt)"
        as_root apt-get update -qq >/dev/null || true # the install says what is wrong, if anything
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
    fi
    # The locked dependencies with the `cluster` extra (celery, redis, psycopg2); --inexact keeps
    # whatever else is installed.
    scripts/bootstrap.sh --inexact --extra cluster
}

case "$command" in
    up) install_missing ;;
    down | status) ;;
    start | stop | restart) [[ -n $service ]] || usage ;;
    *) usage ;;
esac

PG_BIN="$(pg_bindir)"
config="$(cluster_py config $([[ $command == up ]] && echo --write))"
eval "$config" # CLUSTER_DIR, ENV_FILE, RUN_DIR, LOGS_DIR, PGDATA, *_PORT, ...

# Every service, once: name|command (run by bash, from the repository's folder).
SERVICES=(
  "postgres|postgres -D ${PGDATA} -p ${PG_PORT} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${PGDATA}"
  "redis|redis-server ${REDIS_CONF}"
  "airflow-api-server|airflow api-server --host 127.0.0.1 --port ${API_PORT} --workers ${API_WORKERS}"
  "airflow-scheduler|airflow scheduler"
  "airflow-dag-processor|airflow dag-processor"
  "airflow-triggerer|airflow triggerer --skip-serve-logs"
  "airflow-worker-1|airflow celery worker --celery-hostname worker-1@%h --concurrency ${WORKER_CONCURRENCY} --skip-serve-logs"
  "airflow-worker-2|airflow celery worker --celery-hostname worker-2@%h --concurrency ${WORKER_CONCURRENCY} --skip-serve-logs"
  "dashboards|sealdeal serve --address 127.0.0.1 --port ${DASHBOARDS_PORT}"
)
# (--skip-serve-logs: the components share $AIRFLOW_HOME/logs on this machine, so the api-server
# reads task logs from disk, and two workers do not fight over one log-server port.)

NAMES=()
for entry in "${SERVICES[@]}"; do NAMES+=("${entry%%|*}"); done
APP_NAMES=("${NAMES[@]:2}") # everything but postgres and redis

command_of() {
    local entry
    for entry in "${SERVICES[@]}"; do
        if [[ ${entry%%|*} == "$1" ]]; then
            echo "${entry#*|}"
            return
        fi
    done
    die "no service named $1 (services: ${NAMES[*]})"
}

declare -A PIDS=()
refresh_pids() {
    local name pid
    PIDS=()
    while read -r name pid; do PIDS[$name]=$pid; done < <(cluster_py pids "${NAMES[@]}")
}

AS_POSTGRES=() # PostgreSQL will not run as root: as root, it runs as the `postgres` user
if [[ $(id -u) -eq 0 ]]; then AS_POSTGRES=(setpriv --reuid=postgres --regid=postgres --init-groups); fi
as_postgres() { ${AS_POSTGRES[@]+"${AS_POSTGRES[@]}"} "$@"; }

# The caller's SEALDEAL_* and AIRFLOW__* settings reach the Airflow services and the dashboards.
PASSED=()
while IFS= read -r name; do
    case "$name" in SEALDEAL_CLUSTER*) ;; SEALDEAL_* | AIRFLOW__*) PASSED+=("$name=${!name}") ;; esac
done < <(compgen -e)
BASE_PATH="${PG_BIN:+$PG_BIN:}/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

in_cluster_env() { # a command with what the Airflow services get: a clean environment + env file
    [[ -f $ENV_FILE ]] || die "no $ENV_FILE: run scripts/cluster.sh up first"
    env -i HOME="$HOME" LANG=C.UTF-8 PATH="$BASE_PATH" ${PASSED[@]+"${PASSED[@]}"} \
        bash -c 'set -a && . "$0" && set +a && exec "$@"' "$ENV_FILE" "$@"
}

start_service() {
    local name=$1 command run runner=() passed=()
    command="$(command_of "$name")"
    if [[ -n ${PIDS[$name]:-} ]]; then
        echo "  $name: already running (pid ${PIDS[$name]})"
        return
    fi
    rm -f "$RUN_DIR/$name.exits"
    case "$name" in
        postgres | redis)
            run="exec $command"
            if [[ $name == postgres ]]; then runner=(${AS_POSTGRES[@]+"${AS_POSTGRES[@]}"}); fi
            ;;
        *)
            [[ -f $ENV_FILE ]] || die "no $ENV_FILE: run scripts/cluster.sh up first"
            passed=(${PASSED[@]+"${PASSED[@]}"})
            # With the env file; logging at INFO (the file's WARNING is for the CLI in a shell).
            run="set -a && . $(printf %q "$ENV_FILE") && set +a && "
            run+="export AIRFLOW__LOGGING__LOGGING_LEVEL=\${SEALDEAL_CLUSTER_LOG_LEVEL:-INFO} && "
            # Supervised, as a compose file's `restart: unless-stopped` would: an Airflow
            # component exits when it loses its database for long (the scheduler does within
            # seconds) and is started again; each exit is noted in run/NAME.exits.
            run+="while :; do $command; echo \"[cluster] $name exited (status \$?), "
            run+="starting it again in 5 s\"; date +%s >>$(printf %q "$RUN_DIR/$name.exits"); "
            run+="sleep 5; done"
            ;;
    esac
    echo "  $name: starting"
    # Its own session and process group (setsid execs: $! is its leader), so that stopping it
    # reaches every process it starts; the marker variables let `down` find any stray one.
    env -i HOME="$HOME" LANG=C.UTF-8 PATH="$BASE_PATH" ${passed[@]+"${passed[@]}"} \
        SEALDEAL_CLUSTER="$CLUSTER_DIR" SEALDEAL_CLUSTER_SERVICE="$name" \
        setsid ${runner[@]+"${runner[@]}"} bash -c "$run" \
        >>"$LOGS_DIR/$name.log" 2>&1 </dev/null &
    echo $! >"$RUN_DIR/$name.pid"
    PIDS[$name]=$!
}

init_postgres() {
    [[ -n $PG_BIN ]] || die "PostgreSQL's server is not installed: scripts/cluster.sh up installs it"
    [[ -f $PGDATA/PG_VERSION ]] && return
    local dir
    dir="$(dirname "$PGDATA")"
    mkdir -p "$dir"
    chmod 700 "$dir"
    if [[ $(id -u) -eq 0 ]]; then
        id postgres >/dev/null 2>&1 || die "no 'postgres' system user to run PostgreSQL as (not as root)"
        chown postgres:postgres "$dir"
        as_postgres test -w "$dir" || die "PostgreSQL refuses to run as root, so it runs as the \
system user 'postgres', which cannot reach $dir: make every folder above it traversable \
(chmod o+x) or choose a SEALDEAL_HOME elsewhere"
    fi
    echo "  postgres: initdb $PGDATA"
    as_postgres "$PG_BIN/initdb" -D "$PGDATA" -U postgres -E UTF8 --no-locale \
        --auth-local=trust --auth-host=scram-sha-256 >>"$LOGS_DIR/postgres.log" 2>&1 ||
        die "initdb failed; see $LOGS_DIR/postgres.log"
}

wait_postgres() {
    local i
    for ((i = 0; i < 120; i++)); do
        "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && return
        sleep 0.5
    done
    tail -n 25 "$LOGS_DIR/postgres.log" >&2 || true
    die "PostgreSQL did not accept connections on port $PG_PORT within 60 s"
}

create_database() { # the Airflow role and database; trusted over the private socket in $PGDATA
    local psql=("$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$PGDATA" -p "$PG_PORT" -U postgres)
    local password
    password="$(cluster_py config --secret postgres_password)"
    "${psql[@]}" -d postgres >/dev/null <<SQL
SELECT 'CREATE ROLE ${DB_USER} LOGIN'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${DB_USER}') \gexec
ALTER ROLE ${DB_USER} PASSWORD '${password}';
SELECT 'CREATE DATABASE ${DB_NAME} OWNER ${DB_USER}'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '${DB_NAME}') \gexec
SQL
}

setup_airflow() { # what the compose file's airflow-init does: migrate, pool, users
    echo "  airflow: sealdeal airflow setup (db migrate, the writer pool, the UI's users)"
    in_cluster_env sealdeal init >/dev/null
    if ! in_cluster_env sealdeal airflow setup >>"$LOGS_DIR/airflow-setup.log" 2>&1; then
        tail -n 25 "$LOGS_DIR/airflow-setup.log" >&2
        die "sealdeal airflow setup failed; see $LOGS_DIR/airflow-setup.log"
    fi
}

cmd_up() {
    local name missing=0
    refresh_pids
    init_postgres
    start_service postgres
    start_service redis
    wait_postgres
    create_database
    for name in "${APP_NAMES[@]}"; do [[ -n ${PIDS[$name]:-} ]] || missing=1; done
    if ((missing)); then setup_airflow; fi
    for name in "${APP_NAMES[@]}"; do start_service "$name"; done
    echo "  waiting until every service is healthy (up to ${UP_TIMEOUT} s)"
    cluster_py status --wait "$UP_TIMEOUT" --fail-on-exit "${NAMES[@]}" || die "not up; scripts/cluster.sh down stops what started"
    local ms=$((($(date +%s%N) - BEGAN) / 1000000)) # the whole `up`, installation included
    cluster_py status "${NAMES[@]}"
    printf 'cluster up in %d.%d s. Airflow: %s (user %s, password in %s);\n' \
        $((ms / 1000)) $((ms % 1000 / 100)) "http://127.0.0.1:$API_PORT" \
        "$(grep -oP '^export SEALDEAL_AIRFLOW_USER=\K.*' "$ENV_FILE")" "$ENV_FILE"
    echo "dashboards: http://127.0.0.1:$DASHBOARDS_PORT; the CLI: source $ENV_FILE && airflow dags list"
}

cmd_down() {
    local name first=()
    for name in "${APP_NAMES[@]}"; do [[ $name == airflow-api-server ]] || first+=("$name"); done
    # The api-server last of Airflow: a stopping worker's running task reports through it.
    cluster_py stop "${first[@]}"
    cluster_py stop airflow-api-server
    cluster_py stop redis postgres
    cluster_py leftovers --kill
    cluster_py leftovers || die "something of the cluster is still running (above)"
    echo "cluster down"
}

cmd_start() {
    refresh_pids
    case "$service" in
        postgres)
            init_postgres
            start_service postgres
            wait_postgres
            ;;
        *) start_service "$service" ;;
    esac
    cluster_py status --wait "$UP_TIMEOUT" "$service"
}

case "$command" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cluster_py status "${NAMES[@]}" ;;
    start)
        command_of "$service" >/dev/null
        cmd_start
        ;;
    stop)
        command_of "$service" >/dev/null
        cluster_py stop "$service"
        ;;
    restart)
        command_of "$service" >/dev/null
        cluster_py stop "$service"
        cmd_start
        ;;
esac
