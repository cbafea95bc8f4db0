#!/usr/bin/env bash
# Start Constellation: prepare .venv, migrate, collect static files, create the admin user, then
# serve config.asgi:application with uvicorn (or daphne) and, when this node's celery-queue
# feature is active, a Celery worker with embedded beat.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
cd "$ROOT"

usage() {
    cat <<'USAGE'
Usage: ./start.sh [--port N] [--bind ADDR] [--server uvicorn|daphne] [--tls-cert FILE --tls-key FILE]
                  [--foreground] [--celery | --no-celery] [--workers N|auto] [--no-migrate]
                  [--foreground --worker I]

Creates .venv with Python 3.11 if missing (set PYTHON to choose the interpreter), installs
requirements.txt when it changed, applies migrations, collects static files and creates the
admin user from ADMIN_USERNAME / ADMIN_PASSWORD. Then it starts uvicorn (or daphne) in the
background and, when the node's Celery Queue feature is active (`manage.py node --active
celery-queue`; CELERY_QUEUE=on/off overrides it), a Celery worker with embedded beat; without
it the server runs the periodic jobs itself. It waits until /healthz answers and prints the
admin URL.
It first raises the soft open-file limit (ulimit -n) to 65536, or to the hard limit if lower.

  --port N       port to listen on (default 8000)
  --bind ADDR    address to listen on (default 0.0.0.0)
  --server NAME  ASGI server: uvicorn (default: about 1.7 times daphne's websocket
                 throughput here, close reasons and TLS passed on; docs/performance.md)
                 or daphne (Channels' own server)
  --tls-cert FILE  serve TLS (wss://, https://) with this certificate chain (PEM); uvicorn only.
  --tls-key FILE   its private key (PEM). Both override OCPP_TLS_CERT_FILE / OCPP_TLS_KEY_FILE.
                 Chargers may then present a client certificate signed by the CSMS CA (or
                 OCPP_TLS_CLIENT_CA_FILE): security profile 3. `manage.py
                 tls_server_certificate --host NAME` makes a pair from the CSMS CA.
  --foreground   run the server in the foreground (exec; for service managers such as systemd).
                 Celery still starts in the background with its pid file, when it starts.
  --workers N    serve with N ASGI server processes (default 1; `auto`: one per core) on
                 ports PORT, PORT+1, ... PORT+N-1, each with its own pid file (RUN_DIR/
                 uvicorn.pid, uvicorn-2.pid, ...; ./stop.sh stops them all). Put NGINX in
                 front to spread chargers over them (`manage.py nginx_site --upstream
                 127.0.0.1:PORT --upstream 127.0.0.1:PORT+1 ...`; docs/lifecycle.md,
                 "Watchtower"). N > 1 needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL):
                 SQLite and the in-memory channel layer cannot be shared by processes.
                 Not with --foreground: a service manager runs one unit per worker (below).
  --worker I     with --foreground: this process is worker I (1, 2, ...) of several, one
                 service each: --port is its own port, its pid file is RUN_DIR/uvicorn-I.pid
                 (uvicorn.pid for 1), and only that one is checked for a server already
                 running. Workers 2 and up also take --no-migrate and --no-celery.
  --no-migrate   skip migrate, collectstatic and ensure_admin (another worker's start, or
                 install.sh, did them: workers started at once must not migrate at once)
  --celery       start Celery whatever the feature says
  --no-celery    do not start Celery; the server runs the periodic jobs itself, unless
                 CELERY_QUEUE=on says a worker runs as its own service
                 (`celery -A config worker -B`)
  -h, --help     show this help

The database, logs (DATA_DIR/logs) and pid files (DATA_DIR/run) live in DATA_DIR, by default
~/.local/share/constellation. Settings come from the environment or .env (see .env.example).
Stop with ./stop.sh.
USAGE
}

die() {
    echo "error: $*" >&2
    exit 1
}

# Kept for upgrade.sh, which restarts the node with the options it was started with.
START_ARGS=("$@")
PORT=8000
BIND=0.0.0.0
SERVER=${CSMS_SERVER:-uvicorn}
FOREGROUND=0
CELERY=auto
TLS_CERT=""
TLS_KEY=""
WORKERS=1
MIGRATE=1
WORKER_INDEX=""
while [ $# -gt 0 ]; do
    case $1 in
    --port)
        [ $# -ge 2 ] || die "--port needs a value"
        PORT=$2
        shift 2
        ;;
    --port=*)
        PORT=${1#--port=}
        shift
        ;;
    --bind)
        [ $# -ge 2 ] || die "--bind needs a value"
        BIND=$2
        shift 2
        ;;
    --server)
        [ $# -ge 2 ] || die "--server needs a value"
        SERVER=$2
        shift 2
        ;;
    --server=*)
        SERVER=${1#--server=}
        shift
        ;;
    --bind=*)
        BIND=${1#--bind=}
        shift
        ;;
    --tls-cert | --tls-key)
        [ $# -ge 2 ] || die "$1 needs a file"
        if [ "$1" = --tls-cert ]; then TLS_CERT=$2; else TLS_KEY=$2; fi
        shift 2
        ;;
    --tls-cert=*)
        TLS_CERT=${1#--tls-cert=}
        shift
        ;;
    --tls-key=*)
        TLS_KEY=${1#--tls-key=}
        shift
        ;;
    --foreground)
        FOREGROUND=1
        shift
        ;;
    --workers)
        [ $# -ge 2 ] || die "--workers needs a value"
        WORKERS=$2
        shift 2
        ;;
    --workers=*)
        WORKERS=${1#--workers=}
        shift
        ;;
    --worker)
        [ $# -ge 2 ] || die "--worker needs a value"
        WORKER_INDEX=$2
        shift 2
        ;;
    --worker=*)
        WORKER_INDEX=${1#--worker=}
        shift
        ;;
    --no-migrate)
        MIGRATE=0
        shift
        ;;
    --no-celery)
        CELERY=0
        shift
        ;;
    --celery)
        CELERY=1
        shift
        ;;
    -h | --help)
        usage
        exit 0
        ;;
    *)
        usage >&2
        die "unknown argument: $1"
        ;;
    esac
done
if ! [[ $PORT =~ ^[0-9]+$ ]] || [ "$PORT" -lt 1 ] || [ "$PORT" -gt 65535 ]; then
    die "--port must be a number from 1 to 65535, not '$PORT'"
fi
[ -n "$BIND" ] || die "--bind needs an address"
if [ "$WORKERS" = auto ]; then
    WORKERS=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
fi
if ! [[ $WORKERS =~ ^[0-9]+$ ]] || [ "$WORKERS" -lt 1 ] || [ "$WORKERS" -gt 64 ]; then
    die "--workers must be a number from 1 to 64, or auto, not '$WORKERS'"
fi
if [ -n "$WORKER_INDEX" ]; then
    [[ $WORKER_INDEX =~ ^[1-9][0-9]*$ ]] || die "--worker must be 1, 2, ..., not '$WORKER_INDEX'"
    [ "$FOREGROUND" = 1 ] || die "--worker I goes with --foreground (one service per worker)"
fi
if [ $((PORT + WORKERS - 1)) -gt 65535 ]; then
    die "--port $PORT with --workers $WORKERS goes past port 65535"
fi
if [ "$WORKERS" -gt 1 ] && [ "$FOREGROUND" = 1 ]; then
    die "--foreground runs one server process: for $WORKERS workers run one service per" \
        "worker (--foreground --port P, ports $PORT to $((PORT + WORKERS - 1)); docs/lifecycle.md)"
fi
case $SERVER in
daphne | uvicorn) ;;
*) die "--server must be daphne or uvicorn, not '$SERVER'" ;;
esac
if [ -n "$TLS_CERT$TLS_KEY" ]; then
    [ -n "$TLS_CERT" ] && [ -n "$TLS_KEY" ] || die "--tls-cert and --tls-key go together"
    [ -f "$TLS_CERT" ] || die "--tls-cert: no file '$TLS_CERT'"
    [ -f "$TLS_KEY" ] || die "--tls-key: no file '$TLS_KEY'"
    # The settings read them (config/serve.py builds the server's TLS options from them).
    OCPP_TLS_CERT_FILE=$(cd "$(dirname "$TLS_CERT")" && pwd -P)/$(basename "$TLS_CERT")
    OCPP_TLS_KEY_FILE=$(cd "$(dirname "$TLS_KEY")" && pwd -P)/$(basename "$TLS_KEY")
    export OCPP_TLS_CERT_FILE OCPP_TLS_KEY_FILE
fi

# Every charger holds a socket, so a file descriptor: at the common soft limit of 1024 about
# a thousand connections (stalled ones too) leave the server unable to accept even /healthz.
# Raise the soft limit to 65536, or to the hard limit when that is lower; the server and
# Celery inherit it.
NOFILE_TARGET=65536
nofile_hard=$(ulimit -Hn)
nofile_want=$NOFILE_TARGET
if [ "$nofile_hard" != unlimited ] && [ "$nofile_hard" -lt "$NOFILE_TARGET" ]; then
    nofile_want=$nofile_hard
fi
nofile_soft=$(ulimit -Sn)
if [ "$nofile_soft" != unlimited ] && [ "$nofile_soft" -lt "$nofile_want" ]; then
    ulimit -Sn "$nofile_want" ||
        echo "warning: could not raise the open-file limit from $nofile_soft to $nofile_want" >&2
fi
NOFILE_MESSAGE="open-file limit: $(ulimit -Sn) (was $nofile_soft, hard limit $nofile_hard)"
echo "$NOFILE_MESSAGE"

# shellcheck source=scripts/_venv.sh
. scripts/_venv.sh
# shellcheck source=scripts/_procs.sh
. scripts/_procs.sh
# shellcheck source=scripts/_server.sh
. scripts/_server.sh

venv_ensure requirements.txt
PY=$ROOT/$VENV_PYTHON
export DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-config.settings}
# The port this node answers on, as its record and its LCD show it (an installed node behind
# NGINX sets NODE_PORT to NGINX's).
export NODE_PORT=${NODE_PORT:-$PORT}

DATA_DIR=$(procs_data_dir) || die "could not read the settings (see the error above)"
[ -n "$DATA_DIR" ] || die "the settings gave no DATA_DIR"
# Children use the very folder the pid files are in.
export DATA_DIR
RUN_DIR=$DATA_DIR/run
LOG_DIR=$DATA_DIR/logs
mkdir -p "$RUN_DIR" "$LOG_DIR"

if [ "$WORKERS" -gt 1 ]; then
    # Several processes share what one process would keep to itself: the database (SQLite
    # takes one writer, and each process would batch its own writes against the others) and
    # the channel layer (in memory, a command would never reach another process's charger).
    SHARED_CHECK=$("$PY" -c '
from django.conf import settings
engine = settings.DATABASES["default"]["ENGINE"]
problems = []
if not engine.endswith("postgresql"):
    problems.append("DATABASE_URL is not PostgreSQL (the database is %s)" % engine.rsplit(".", 1)[-1])
if not settings.REDIS_URL:
    problems.append("REDIS_URL is not set (the channel layer would be in memory)")
print("; ".join(problems))
' | tail -n 1) || die "could not read the settings (see the error above)"
    [ -z "$SHARED_CHECK" ] ||
        die "--workers $WORKERS needs PostgreSQL and Redis: $SHARED_CHECK." \
            "Set them in .env (scripts/watchtower-services.sh --check tells whether they answer)," \
            "or start one worker."
fi

SERVER_MARK=$(procs_server_marker "$SERVER")
CELERY_MARK="-m celery -A config"
# Worker 1's pid file is SERVER.pid (as with one worker: upgrade.sh looks there), worker i's
# SERVER-i.pid.
worker_name() {
    if [ "$1" = 1 ]; then echo "$SERVER"; else echo "$SERVER-$1"; fi
}
running=""
if [ -n "$WORKER_INDEX" ]; then
    # One worker's service among several: the others running is how it should be.
    if pid=$(procs_running_pid "$(worker_name "$WORKER_INDEX")" "$SERVER_MARK"); then
        running="$(worker_name "$WORKER_INDEX") pid $pid; "
    fi
else
    for name in daphne uvicorn; do
        for file in "$RUN_DIR/$name.pid" "$RUN_DIR/$name"-*.pid; do
            [ -f "$file" ] || continue
            pid_name=$(basename "$file" .pid)
            if pid=$(procs_running_pid "$pid_name" "$(procs_server_marker "$name")"); then
                running="${running}$pid_name pid $pid; "
            fi
        done
    done
    if pid=$(procs_running_pid celery "$CELERY_MARK"); then
        running="${running}celery pid $pid; "
    fi
fi
if [ -n "$running" ]; then
    die "Constellation is already running (${running}pid files in $RUN_DIR)." \
        "Stop it with ./stop.sh first."
fi

case $BIND in
0.0.0.0 | 127.*) PROBE_HOST=127.0.0.1 URL_HOST=localhost ;;
:: | ::1 | "[::]" | "[::1]") PROBE_HOST=::1 URL_HOST=localhost ;;
*) PROBE_HOST=$BIND URL_HOST=$BIND ;;
esac

# Another server on the port would answer /healthz in our place: make sure the port is free.
BIND_CHECK_PY='
import socket, sys
host, port = sys.argv[1].strip("[]"), int(sys.argv[2])
family = socket.AF_INET6 if ":" in host else socket.AF_INET
with socket.socket(family) as sock:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as daphne (Twisted) does
    try:
        sock.bind((host, port))
    except OSError as error:
        sys.exit(str(error))
'
for ((worker = 0; worker < WORKERS; worker++)); do
    port=$((PORT + worker))
    "$PY" -c "$BIND_CHECK_PY" "$BIND" "$port" || die "cannot listen on $BIND port $port (see above)"
done

if [ "$MIGRATE" = 1 ]; then
    "$PY" manage.py migrate --noinput
    "$PY" manage.py collectstatic --noinput --verbosity 0
    "$PY" manage.py ensure_admin
fi

# Celery follows the node's Celery Queue feature (or CELERY_QUEUE, or the flags). The server is
# told whether a worker takes its tasks: without one it runs the periodic jobs itself and
# tasks where they are enqueued (apps/nodes/queue.py).
QUEUE_SETTING=$("$PY" -c 'from django.conf import settings; print(settings.CELERY_QUEUE)' |
    tail -n 1) || die "could not read the settings (see the error above)"
if [ "$CELERY" = auto ]; then
    case $QUEUE_SETTING in
    on) CELERY=1 ;;
    off) CELERY=0 ;;
    *)
        status=0
        "$PY" manage.py node --active celery-queue || status=$?
        case $status in
        0) CELERY=1 ;;
        1) CELERY=0 ;;
        *) die "could not ask this node whether its Celery Queue feature is active" ;;
        esac
        ;;
    esac
fi
if [ "$CELERY" = 1 ]; then
    export CELERY_QUEUE=on
elif [ "$QUEUE_SETTING" = on ]; then
    echo "Celery not started here: CELERY_QUEUE=on says a worker runs as its own service"
else
    export CELERY_QUEUE=off
    echo "Celery Queue off: the server runs the periodic jobs and the tasks itself"
fi

CELERY_LOG=$LOG_DIR/celery.log
SERVER_LOG=$LOG_DIR/$SERVER.log
# The server's command line on PORT, with the edge limits from the settings (config/serve.py;
# the fault tests start the server with the very same command).
server_command() {
    local args
    args=$("$PY" -m config.serve "$SERVER" "$BIND" "$1") ||
        die "could not build the $SERVER command line (see above)"
    mapfile -t SERVER_CMD <<<"$args"
}
server_command "$PORT"
SCHEME=http
for arg in "${SERVER_CMD[@]}"; do
    [ "$arg" != --ssl-certfile ] || SCHEME=https
done
probe_url() {
    if [[ $PROBE_HOST == *:* ]]; then
        echo "$SCHEME://[$PROBE_HOST]:$1/healthz"
    else
        echo "$SCHEME://$PROBE_HOST:$1/healthz"
    fi
}
PROBE_URL=$(probe_url "$PORT")
ADMIN_URL="$SCHEME://$URL_HOST:$PORT/admin/"
# How this node was started and where it answers: upgrade.sh restarts it the same way and
# checks the same /healthz (docs/lifecycle.md).
# (Worker 2 and up of a service per worker leave them to worker 1's.)
if [ "${WORKER_INDEX:-1}" = 1 ]; then
    : >"$RUN_DIR/start.args"
    [ ${#START_ARGS[@]} -eq 0 ] || printf '%s\n' "${START_ARGS[@]}" >"$RUN_DIR/start.args"
    echo "$PROBE_URL" >"$RUN_DIR/health.url"
fi

start_celery() {
    echo "=== start.sh $(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$CELERY_LOG"
    procs_start celery "$CELERY_LOG" "$PY" "${CELERY_CMD[@]}"
    echo "celery worker + beat started (pid $(cat "$RUN_DIR/celery.pid")), log: $CELERY_LOG"
}

if [ "$FOREGROUND" = 1 ]; then
    if [ "$CELERY" = 1 ]; then
        start_celery
    fi
    echo "serving on $BIND:$PORT in the foreground; admin: $ADMIN_URL"
    # exec keeps this pid, so stop.sh and service managers see the server itself.
    echo $$ >"$RUN_DIR/$(worker_name "${WORKER_INDEX:-1}").pid"
    exec "$PY" "${SERVER_CMD[@]}"
fi

worker_log() {
    echo "$LOG_DIR/$(worker_name "$1").log"
}

# Stop what this run started, print the logs' tails and fail.
fail_start() {
    echo "error: $*" >&2
    local logs=() worker
    for ((worker = 1; worker <= WORKERS; worker++)); do
        logs+=("$(worker_log "$worker")")
    done
    [ "$CELERY" = 0 ] || logs+=("$CELERY_LOG")
    for log in "${logs[@]}"; do
        if [ -f "$log" ]; then
            echo "--- last lines of $log ---" >&2
            tail -n 40 "$log" >&2
        fi
    done
    for ((worker = 1; worker <= WORKERS; worker++)); do
        procs_stop "$(worker_name "$worker")" "$SERVER_MARK" >&2 || true
    done
    procs_stop celery "$CELERY_MARK" >&2 || true
    exit 1
}

WORKER_PIDS=()
for ((worker = 1; worker <= WORKERS; worker++)); do
    port=$((PORT + worker - 1))
    [ "$worker" = 1 ] || server_command "$port"
    log=$(worker_log "$worker")
    echo "=== start.sh $(date -u +%Y-%m-%dT%H:%M:%SZ); $NOFILE_MESSAGE" >>"$log"
    procs_start "$(worker_name "$worker")" "$log" "$PY" "${SERVER_CMD[@]}"
    WORKER_PIDS+=("$(cat "$RUN_DIR/$(worker_name "$worker").pid")")
done
SERVER_PID=${WORKER_PIDS[0]}
if [ "$CELERY" = 1 ]; then
    start_celery
fi

# Wait for each worker's /healthz (scripts/healthz.py prints its answer).
deadline=$((SECONDS + 60))
for ((worker = 1; worker <= WORKERS; worker++)); do
    url=$(probe_url $((PORT + worker - 1)))
    echo "waiting for $url ..."
    until health=$("$PY" scripts/healthz.py "$url" 2>&1); do
        procs_alive "${WORKER_PIDS[worker - 1]}" ||
            fail_start "$(worker_name "$worker") exited before answering /healthz"
        [ "$SECONDS" -lt "$deadline" ] ||
            fail_start "$url did not answer 200 within 60 s; last answer: $health"
        sleep 0.5
    done
done
if [ "$CELERY" = 1 ] && ! procs_alive "$(cat "$RUN_DIR/celery.pid")"; then
    fail_start "the Celery worker exited"
fi

if [ "$WORKERS" = 1 ]; then
    echo "$SERVER started (pid $SERVER_PID) on $BIND:$PORT, log: $SERVER_LOG"
else
    for ((worker = 1; worker <= WORKERS; worker++)); do
        echo "$(worker_name "$worker") started (pid ${WORKER_PIDS[worker - 1]})" \
            "on $BIND:$((PORT + worker - 1)), log: $(worker_log "$worker")"
    done
    echo "$WORKERS workers: put NGINX in front of ports $PORT to $((PORT + WORKERS - 1))" \
        "(docs/lifecycle.md, Watchtower)"
fi
echo "health: $health"
echo
echo "Constellation is running. Admin: $ADMIN_URL"
echo "Logs: $LOG_DIR   Stop with: ./stop.sh"
