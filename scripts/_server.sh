# shellcheck shell=bash
# The command lines of the ASGI server and of the Celery worker, shared by start.sh and by the
# tests that start the server as its own process (tests/faults/processes.py).

# server_command NAME BIND PORT: set SERVER_CMD to the python arguments serving
# config.asgi:application with NAME (uvicorn or daphne) on BIND:PORT.
server_command() {
    local name=$1 bind=$2 port=$3
    # A deep listen backlog: thousands of chargers reconnecting at once must not be dropped.
    if [ "$name" = uvicorn ]; then
        # No per-message compression: chargers rarely ask for it, and it costs a connection
        # twice the memory and a message a fifth more CPU (docs/performance.md).
        SERVER_CMD=(-m uvicorn config.asgi:application --host "$bind" --port "$port"
            --backlog 4096 --no-proxy-headers --log-level warning --ws-per-message-deflate false)
    elif [[ $bind == *:* ]]; then
        SERVER_CMD=(-m daphne -b "$bind" -p "$port" --websocket_connect_timeout 60
            config.asgi:application)
    else
        # A handshake may wait for the database in a reconnect storm: give it a minute, not 5 s.
        SERVER_CMD=(-m daphne -e "tcp:port=$port:interface=$bind:backlog=4096"
            --websocket_connect_timeout 60 config.asgi:application)
    fi
}

# The python arguments of the Celery worker with embedded beat.
CELERY_CMD=(-m celery -A config worker -B
    --scheduler django_celery_beat.schedulers:DatabaseScheduler --loglevel=INFO)
