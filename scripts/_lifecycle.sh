# shellcheck shell=bash
# Sourced by upgrade.sh (from the project folder, after _venv.sh and _procs.sh, with DATA_DIR
# and RUN_DIR set): is the node running, stop it, start it again the way it was started, and
# wait for its /healthz. Two ways to run a node:
#   - services: DATA_DIR/lifecycle/units lists the systemd units install.sh installed (one a
#     line, the server's first); they are stopped and started with systemctl;
#   - scripts: ./start.sh, which records its options in RUN_DIR/start.args and its health URL
#     in RUN_DIR/health.url; ./stop.sh stops it.
# A new way to run a node adds a case to each lifecycle_* function.

LIFECYCLE_UNITS_FILE=${LIFECYCLE_UNITS_FILE:-$DATA_DIR/lifecycle/units}

# Print "services" or "scripts".
lifecycle_mode() {
    if [ -s "$LIFECYCLE_UNITS_FILE" ] && command -v systemctl >/dev/null 2>&1; then
        echo services
    else
        echo scripts
    fi
}

_lifecycle_units() {
    grep -v '^[[:space:]]*\(#\|$\)' "$LIFECYCLE_UNITS_FILE"
}

# True when the node's server is running.
lifecycle_running() {
    local name
    case $(lifecycle_mode) in
    services)
        systemctl is-active --quiet "$(_lifecycle_units | head -n 1)"
        ;;
    *)
        for name in daphne uvicorn; do
            procs_running_pid "$name" "$(procs_server_marker "$name")" >/dev/null 2>&1 &&
                return 0
        done
        return 1
        ;;
    esac
}

# Remember how the node was started (call while it runs: stop.sh keeps the files, but a later
# start.sh with other options would overwrite them).
lifecycle_remember() {
    LIFECYCLE_START_ARGS=()
    if [ -f "$RUN_DIR/start.args" ]; then
        local arg
        while IFS= read -r arg; do
            [ -z "$arg" ] || LIFECYCLE_START_ARGS+=("$arg")
        done <"$RUN_DIR/start.args"
    fi
    LIFECYCLE_HEALTH_URL=${UPGRADE_HEALTH_URL:-}
    # A node run as services answers where install.sh says: a start.sh run before the install
    # (a Terminal's, on another port) may have left its own health.url behind.
    if [ -z "$LIFECYCLE_HEALTH_URL" ] && [ "$(lifecycle_mode)" = services ] &&
        [ -s "$DATA_DIR/lifecycle/health-url" ]; then
        LIFECYCLE_HEALTH_URL=$(head -n 1 "$DATA_DIR/lifecycle/health-url")
    fi
    if [ -z "$LIFECYCLE_HEALTH_URL" ] && [ -s "$RUN_DIR/health.url" ]; then
        LIFECYCLE_HEALTH_URL=$(head -n 1 "$RUN_DIR/health.url")
    fi
    if [ -z "$LIFECYCLE_HEALTH_URL" ] && [ -s "$DATA_DIR/lifecycle/health-url" ]; then
        LIFECYCLE_HEALTH_URL=$(head -n 1 "$DATA_DIR/lifecycle/health-url")
    fi
    LIFECYCLE_HEALTH_URL=${LIFECYCLE_HEALTH_URL:-http://127.0.0.1:8000/healthz}
}

# True when the node can be started again the way it runs; else say why in LIFECYCLE_CANNOT.
lifecycle_can_restart() {
    local arg
    LIFECYCLE_CANNOT=""
    [ "$(lifecycle_mode)" = scripts ] || return 0
    for arg in "${LIFECYCLE_START_ARGS[@]}"; do
        if [ "$arg" = --foreground ]; then
            # A service manager runs it: start.sh --foreground here would never return.
            LIFECYCLE_CANNOT="it was started with --foreground (by a service manager?);"
            LIFECYCLE_CANNOT+=" list its units in $LIFECYCLE_UNITS_FILE"
            return 1
        fi
    done
}

lifecycle_stop() {
    case $(lifecycle_mode) in
    services)
        # Reverse order: Celery first, the server last.
        _lifecycle_units | tac | xargs -r systemctl stop
        ;;
    *) ./stop.sh ;;
    esac
}

lifecycle_start() {
    case $(lifecycle_mode) in
    services) _lifecycle_units | xargs -r systemctl start 9>&- ;;
    # 9>&-: the server must not inherit upgrade.sh's lock (it would hold it for its lifetime).
    *) ./start.sh "${LIFECYCLE_START_ARGS[@]}" 9>&- ;;
    esac
}

# Wait up to 60 s for LIFECYCLE_HEALTH_URL to answer 200; print its answer.
lifecycle_health() {
    local deadline answer
    deadline=$((SECONDS + ${UPGRADE_HEALTH_TIMEOUT:-60}))
    until answer=$("$VENV_PYTHON" scripts/healthz.py "$LIFECYCLE_HEALTH_URL" 2>&1); do
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "$LIFECYCLE_HEALTH_URL did not answer 200: $answer"
            return 1
        fi
        sleep 0.5
    done
    echo "$LIFECYCLE_HEALTH_URL: $answer"
}
