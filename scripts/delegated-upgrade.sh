#!/usr/bin/env bash
# Run ./upgrade.sh outside the server and Celery processes it stops and restarts: started by
# the lifecycle app (`apps/lifecycle/delegation.py`) through systemd-run as a transient unit,
# or as a detached process in a session of its own. Everything goes to the log file.
set -uo pipefail

usage() {
    echo "Usage: scripts/delegated-upgrade.sh --log FILE [-- UPGRADE.SH ARGUMENTS]"
    echo "Runs ./upgrade.sh --log FILE with the arguments after --, stdin closed, detached."
}

LOG=""
while [ $# -gt 0 ]; do
    case $1 in
    --log)
        [ $# -ge 2 ] || { usage >&2; exit 2; }
        LOG=$2
        shift 2
        ;;
    --)
        shift
        break
        ;;
    -h | --help)
        usage
        exit 0
        ;;
    *)
        usage >&2
        exit 2
        ;;
    esac
done
[ -n "$LOG" ] || { usage >&2; exit 2; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
mkdir -p "$(dirname "$LOG")"
exec </dev/null >>"$LOG" 2>&1
echo "=== delegated upgrade $(date -u +%Y-%m-%dT%H:%M:%SZ), pid $$, session $(ps -o sid= -p $$ | tr -d ' ')"
# SIGHUP from the worker's terminal or session must not end it (nohup's job).
trap '' HUP
# Not exec, so the log says how it ended; one line, because upgrade.sh checks out another
# version of this very file while bash is reading it.
"$ROOT/upgrade.sh" --log "$LOG" "$@"; status=$?; echo "=== delegated upgrade ended: exit status $status"; exit "$status"
