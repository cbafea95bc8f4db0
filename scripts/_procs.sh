# shellcheck shell=bash
# Sourced by start.sh and stop.sh (from the project folder): where the data folder is, and the
# pid-file helpers. Every background process is started in its own session (setsid), so its pid
# is also its process-group id and stopping the group stops every child it forked.

# Print the data folder the Django settings use (DATA_DIR or the per-user default).
procs_data_dir() {
    DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-config.settings} "$VENV_PYTHON" -c \
        'from django.conf import settings; print(settings.DATA_DIR.resolve())' | tail -n 1
}

# The marker of an ASGI server's command line (config/serve.py): daphne runs as
# config.daphne_server (an earlier start.sh ran it as `-m daphne`: "daphne" matches both, so
# ./stop.sh after an upgrade still stops it; only the pid in daphne.pid is ever matched),
# uvicorn as itself.
procs_server_marker() {
    case $1 in
    daphne) echo "daphne" ;;
    *) echo "-m $1" ;;
    esac
}

# True when the pid exists and is not a zombie.
procs_alive() {
    local stat
    stat=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    [ -n "$stat" ] && [[ $stat != Z* ]]
}

# True when any process of the group other than a zombie exists.
procs_group_alive() {
    ps -eo pgid=,stat= | awk -v group="$1" '$1 == group && $2 !~ /^Z/ { found = 1 }
        END { exit !found }'
}

# True when the pid is alive and its command line contains the marker (guards against a pid
# that the system has since given to an unrelated process).
procs_matches() {
    local args
    procs_alive "$1" || return 1
    args=$(ps -ww -o args= -p "$1" 2>/dev/null) || return 1
    [[ $args == *"$2"* ]]
}

# Print the pid recorded in RUN_DIR/NAME.pid if that process is still ours; else remove the stale
# file and return 1.
procs_running_pid() {
    local name=$1 marker=$2 file pid
    file=$RUN_DIR/$name.pid
    [ -f "$file" ] || return 1
    pid=$(tr -dc '0-9' <"$file")
    if [ -n "$pid" ] && procs_matches "$pid" "$marker"; then
        echo "$pid"
        return 0
    fi
    echo "removing stale $file" >&2
    rm -f "$file"
    return 1
}

# Start a command in its own session, stdout/stderr appended to LOG, and record its pid.
procs_start() {
    local name=$1 log=$2
    shift 2
    if command -v setsid >/dev/null 2>&1; then
        setsid "$@" >>"$log" 2>&1 </dev/null &
    else
        "$VENV_PYTHON" -c 'import os, sys; os.setsid(); os.execvp(sys.argv[1], sys.argv[1:])' \
            "$@" >>"$log" 2>&1 </dev/null &
    fi
    echo $! >"$RUN_DIR/$name.pid"
}

# Stop the process and, when it leads a process group, the whole group: TERM to the process
# (a Celery worker then stops its own children), TERM to what is left of the group once the
# leader is gone, KILL to the group after ~15 s. Print what was stopped; return 1 when nothing
# of that name was running, 2 when something would not stop.
procs_stop() {
    local name=$1 marker=$2 pid pgid check group=0 i
    pid=$(procs_running_pid "$name" "$marker") || return 1
    pgid=$(ps -o pgid= -p "$pid" | tr -d ' ')
    if [ "$pgid" = "$pid" ]; then
        group=1
        check=procs_group_alive
    else
        # Not a group leader (daphne run with --foreground): that pid alone is ours.
        check=procs_alive
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 75; i++)); do
        "$check" "$pid" || break
        if [ "$group" = 1 ] && ! procs_alive "$pid"; then
            kill -TERM -- "-$pid" 2>/dev/null || true
        fi
        sleep 0.2
    done
    if "$check" "$pid"; then
        echo "$name (pid $pid) still running after 15 s: sending KILL"
        if [ "$group" = 1 ]; then
            kill -KILL -- "-$pid" 2>/dev/null || true
        else
            kill -KILL "$pid" 2>/dev/null || true
        fi
        for ((i = 0; i < 25; i++)); do
            "$check" "$pid" || break
            sleep 0.2
        done
    fi
    rm -f "$RUN_DIR/$name.pid"
    if "$check" "$pid"; then
        echo "error: could not stop $name (pid $pid)" >&2
        return 2
    fi
    echo "stopped $name (pid $pid)"
}
