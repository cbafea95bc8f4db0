#!/usr/bin/env bash
# What the systemd units of an installed node run (install.sh writes them): one process in the
# foreground, exec'd so that systemd sees and signals the process itself. Nothing is migrated
# or collected here: install.sh, configure.sh and upgrade.sh do that once, before they (re)start
# the units, while N server processes starting together would race each other.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: scripts/service-start.sh web PORT [BIND] | celery | beat

  web PORT [BIND]  the ASGI server (config/serve.py's command line, edge limits from the
                   settings) on BIND (default 127.0.0.1) port PORT
  celery           the Celery worker
  beat             Celery beat (schedules from the database: django-celery-beat)
USAGE
}

die() {
    echo "error: $*" >&2
    exit 1
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"
# shellcheck source=scripts/_venv.sh
. scripts/_venv.sh
# shellcheck source=scripts/_server.sh
. scripts/_server.sh
[ -x "$VENV_PYTHON" ] || die "no $ROOT/$VENV_PYTHON: run ./install.sh first"
PY=$ROOT/$VENV_PYTHON
export DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-config.settings}

case ${1:-} in
web)
    PORT=${2:-}
    BIND=${3:-127.0.0.1}
    [[ $PORT =~ ^[0-9]+$ ]] && [ "$PORT" -ge 1 ] && [ "$PORT" -le 65535 ] ||
        die "web needs a port from 1 to 65535, not '$PORT'"
    SERVER_ARGS=$("$PY" -m config.serve "${CSMS_SERVER:-uvicorn}" "$BIND" "$PORT") ||
        die "could not build the server's command line (see above)"
    mapfile -t SERVER_CMD <<<"$SERVER_ARGS"
    exec "$PY" "${SERVER_CMD[@]}"
    ;;
celery) exec "$PY" "${CELERY_WORKER_CMD[@]}" ;;
beat) exec "$PY" "${CELERY_BEAT_CMD[@]}" ;;
-h | --help)
    usage
    exit 0
    ;;
*)
    usage >&2
    die "unknown service: '${1:-}'"
    ;;
esac
