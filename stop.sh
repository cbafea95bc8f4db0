#!/usr/bin/env bash
# Stop what start.sh started, found through its pid files in DATA_DIR/run.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
cd "$ROOT"

case ${1:-} in
"") ;;
-h | --help)
    echo "Usage: ./stop.sh"
    echo "Stops the server (daphne or uvicorn; every worker of start.sh --workers N) and the Celery"
    echo "worker that ./start.sh started (pid files in DATA_DIR/run):"
    echo "TERM to each process group, KILL after 15 s."
    exit 0
    ;;
*)
    echo "error: unknown argument: $1 (see ./stop.sh --help)" >&2
    exit 1
    ;;
esac

# shellcheck source=scripts/_venv.sh
. scripts/_venv.sh
# shellcheck source=scripts/_procs.sh
. scripts/_procs.sh

if [ -x "$VENV_PYTHON" ]; then
    DATA_DIR=$(procs_data_dir)
else
    # No venv means start.sh never ran here; look where the settings' default would be.
    DATA_DIR=${DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/constellation}
fi
RUN_DIR=$DATA_DIR/run

stopped=0
failed=0
# The servers: SERVER.pid, and SERVER-2.pid ... of start.sh --workers N.
specs=()
for server in daphne uvicorn; do
    specs+=("$server|$(procs_server_marker "$server")")
    for file in "$RUN_DIR/$server"-*.pid; do
        [ -f "$file" ] && specs+=("$(basename "$file" .pid)|$(procs_server_marker "$server")")
    done
done
specs+=("celery|-m celery -A config")
for spec in "${specs[@]}"; do
    name=${spec%%|*}
    marker=${spec#*|}
    if procs_stop "$name" "$marker"; then
        stopped=1
    else
        [ $? -eq 1 ] || failed=1
    fi
done

if [ "$failed" = 1 ]; then
    exit 1
fi
if [ "$stopped" = 0 ]; then
    echo "nothing running (no live process in the pid files of $RUN_DIR)"
fi
