# shellcheck shell=bash
# Sourced by install.sh and configure.sh (from the project folder): install or reconfigure this
# node. One engine for both, so that running either again with the same options changes
# nothing (every file is compared before it is written) and a change rewrites exactly what it
# touches and restarts what runs on it. docs/lifecycle.md describes every option and file.
#
# What is installed is recorded in DATA_DIR/lifecycle/installed, one "KIND VALUE" a line:
#   unit NAME        a systemd unit install.sh enabled (uninstall.sh disables it)
#   file PATH        a file install.sh wrote (unit files, the lifecycle files)
#   env-file PATH    .env, created by install.sh
#   env-key NAME     a line install.sh added to an .env that was there before
#   venv PATH        .venv, created by install.sh
#   data-dir PATH    the data folder, created by install.sh (kept by uninstall.sh without --purge)
#   nginx-...        the NGINX site's files (scripts/nginx-setup.sh)
# The options of the last run are kept in DATA_DIR/lifecycle/install.conf: a later run (or
# configure.sh) starts from them, so only what is asked changes.

ROLES="terminal control satellite watchtower"
CHANNELS="fixed stable latest unstable"
UNIT_PREFIX=constellation

# The features each role turns on by default: the catalogue's default roles
# (apps/nodes/features.py; tests/lifecycle/test_install.py checks this table against it).
role_defaults() {
    case $1 in
    terminal) echo "gui-toast" ;;
    control) echo "ap-public-wifi celery-queue gui-toast lcd-screen nginx-server rfid-scanner" ;;
    satellite) echo "ap-router celery-queue nginx-server rfid-scanner" ;;
    watchtower) echo "celery-queue nginx-server" ;;
    esac
}

install_usage() {
    local mode=$1 role
    if [ "$mode" = configure ]; then
        cat <<'USAGE'
Usage: ./configure.sh [ROLE] [--port N] [--workers N] [CHANNEL] [--feature SLUG=on|off|auto]...
                      [--http-port N] [--server-name NAME] [--admin USER] [--services|--no-services]

Changes an installed node (./install.sh ran here): what is not given stays as it is. Rewrites
what changed (.env, the systemd units, the NGINX site), applies the role, features and channel
through manage.py, and restarts what runs: the units (systemctl try-restart), or a node run
with ./start.sh (./stop.sh, then ./start.sh with its options and the new port).
USAGE
    else
        cat <<'USAGE'
Usage: ./install.sh [ROLE] [--port N] [--workers N] [CHANNEL] [--feature SLUG=on|off|auto]...
                    [--http-port N] [--server-name NAME] [--user NAME] [--data-dir DIR]
                    [--admin USER] [--no-services] [--with-services]

Installs this node from this folder: checks Python 3.11, prepares .venv and the data folder,
writes .env (merged: an operator's values are kept and reported), migrates, collects static
files, sets the role, features and update channel, creates the admin user when asked, and,
for every role but Terminal, installs the systemd services (needs root): the ASGI server, the
Celery worker and beat (when the node's Celery Queue feature is active) and the NGINX site
(when its NGINX Server feature is active). Running it again with the same options changes
nothing. ./configure.sh changes it later, ./uninstall.sh removes what it installed.
USAGE
    fi
    cat <<'USAGE'

Role (default: the last run's, else NODE_ROLE, else terminal):
  --terminal      a laptop; runs with ./start.sh, no services
  --control       a Raspberry Pi beside a charger (RFID reader, LCD)
  --satellite     a site's box: several chargers, local network
  --watchtower    multi-user cloud, several server processes
Features each role turns on by default (when detected; docs/nodes.md):
USAGE
    for role in $ROLES; do
        printf '  %-11s %s\n' "$role" "$(role_defaults "$role")"
    done
    cat <<'USAGE'
  --feature SLUG=MODE   switch a feature on, off or auto (repeatable; kept for later runs)

Update channel (default fixed; docs/lifecycle.md, "Update channels"):
  --fixed         never upgraded automatically (./upgrade.sh --to REF by hand)
  --stable        Thursdays 04:30 local time, to the newest release tag
  --latest        daily 04:30, to the newest tag or pre-release
  --unstable      every 15 minutes, to the head of the main branch

Server and services:
  --port N        the server's port (default 8000); with --workers N the workers listen on
                  N, N+1, ... (127.0.0.1 behind NGINX; 0.0.0.0 without it)
  --workers N     ASGI server processes, one systemd unit each: a number, or auto (one per
                  core); default auto on a Watchtower, else 1. More than one needs PostgreSQL
                  and Redis (checked; --with-services installs them)
  --http-port N   the port NGINX listens on (default 80)
  --server-name NAME  NGINX's server_name (default: any)
  --admin USER    create this admin user if missing; the password is read from
                  ADMIN_PASSWORD, else asked (never shown, never written to a file)
  --services      install the services (the default for every role but Terminal)
  --no-services   prepare only (venv, data, .env, database); no root needed
USAGE
    if [ "$mode" = install ]; then
        cat <<'USAGE'
  --user NAME     the user the services run as, owner of .venv and the data folder
                  (default: the owner of this folder)
  --data-dir DIR  the data folder (default: DATA_DIR, else .env's, else
                  ~USER/.local/share/constellation)
  --with-services install PostgreSQL and Redis from the system's packages (Watchtower)
USAGE
    fi
    cat <<'USAGE'
  -h, --help      show this help

Environment: PYTHON (the Python 3.11 to make .venv with), SYSTEMD_DIR (default
/etc/systemd/system), NGINX_DIR (default /etc/nginx), POLKIT_DIR (default
/etc/polkit-1/rules.d), ADMIN_PASSWORD.
USAGE
}

_die() {
    echo "error: $*" >&2
    exit 1
}

_is_port() {
    [[ $1 =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le 65535 ]
}

_in_list() {
    local word=$1 list=$2 item
    for item in $list; do
        [ "$item" != "$word" ] || return 0
    done
    return 1
}

# Print the value of KEY in the env file FILE (the last assignment), quotes removed.
_env_get() {
    local file=$1 key=$2 value
    [ -f "$file" ] || return 1
    value=$(sed -n "s/^[[:space:]]*\(export[[:space:]]\{1,\}\)\{0,1\}$key[[:space:]]*=[[:space:]]*//p" \
        "$file" | tail -n 1)
    grep -q "^[[:space:]]*\(export[[:space:]]\{1,\}\)\{0,1\}$key[[:space:]]*=" "$file" || return 1
    value=${value%\"}
    value=${value#\"}
    value=${value%\'}
    value=${value#\'}
    printf '%s\n' "$value"
}

# Write stdin to DEST with MODE when its content differs; set _CHANGED=1 and say so.
_put_file() {
    local dest=$1 mode=$2 tmp
    mkdir -p "$(dirname "$dest")"
    tmp=$(mktemp "$(dirname "$dest")/.install.XXXXXX")
    cat >"$tmp"
    chmod "$mode" "$tmp"
    if [ -f "$dest" ] && cmp -s "$tmp" "$dest"; then
        rm -f "$tmp"
        echo "  unchanged $dest"
        return 0
    fi
    [ ! -f "$dest" ] || chmod --reference="$dest" "$tmp" 2>/dev/null || true
    mv "$tmp" "$dest"
    echo "  wrote $dest"
    _CHANGED=1
}

# Run a command as the service user (root runs it as that user; anyone else as themselves).
_as_user() {
    if [ "$(id -u)" = 0 ] && [ "$SERVICE_USER" != root ]; then
        runuser -u "$SERVICE_USER" -- env DATA_DIR="$DATA_DIR" "$@"
    else
        "$@"
    fi
}

_manage() {
    _as_user "$ROOT/$VENV_PYTHON" manage.py "$@"
}

# Read DATA_DIR/lifecycle/install.conf (KEY=VALUE lines) into CONF_*; never sourced, since
# the service user may write the data folder and root runs this.
_read_conf() {
    local line key value
    CONF_ROLE="" CONF_PORT="" CONF_WORKERS="" CONF_HTTP_PORT="" CONF_SERVER_NAME=""
    CONF_SERVICE_USER="" CONF_SERVICES="" CONF_FEATURES=""
    [ -f "$CONF_FILE" ] || return 0
    while IFS= read -r line; do
        key=${line%%=*}
        value=${line#*=}
        case $key in
        ROLE | PORT | WORKERS | HTTP_PORT | SERVER_NAME | SERVICE_USER | SERVICES | FEATURES)
            printf -v "CONF_$key" '%s' "$value"
            ;;
        esac
    done <"$CONF_FILE"
}

# Merge KEY=VALUE into .env. Given by the operator on the command line (explicit=1): set, and
# a different value already there is reported as changed. A default (explicit=0): added when
# the key is missing; an operator's value is kept and reported.
_env_set() {
    local key=$1 value=$2 explicit=$3 current
    if current=$(_env_get "$ENV_FILE" "$key"); then
        if [ "$current" = "$value" ]; then
            return 0
        fi
        if [ "$explicit" = 0 ]; then
            echo "  .env: kept $key=$current (install's default: $value)"
            return 0
        fi
        echo "  .env: $key: $current → $value"
        ENV_TEXT=$(printf '%s\n' "$ENV_TEXT" |
            sed "s|^[[:space:]]*\(export[[:space:]]\{1,\}\)\{0,1\}$key[[:space:]]*=.*|$key=$value|")
        return 0
    fi
    echo "  .env: added $key=$value"
    ENV_TEXT=$(printf '%s\n%s=%s' "$ENV_TEXT" "$key" "$value")
    ENV_ADDED+=("$key")
}

install_main() {
    local MODE=$1
    shift
    local F_ROLE="" F_PORT="" F_WORKERS="" F_CHANNEL="" F_HTTP_PORT="" F_SERVER_NAME=""
    local F_USER="" F_DATA_DIR="" F_SERVICES="" ADMIN="" WITH_SERVICES=0
    local F_FEATURES=() ARGS="$*"
    while [ $# -gt 0 ]; do
        case $1 in
        --terminal | --control | --satellite | --watchtower)
            [ -z "$F_ROLE" ] || [ "$F_ROLE" = "${1#--}" ] || _die "one role only ($F_ROLE or ${1#--}?)"
            F_ROLE=${1#--}
            ;;
        --fixed | --stable | --latest | --unstable)
            [ -z "$F_CHANNEL" ] || [ "$F_CHANNEL" = "${1#--}" ] ||
                _die "one channel only ($F_CHANNEL or ${1#--}?)"
            F_CHANNEL=${1#--}
            ;;
        --port | --workers | --http-port | --server-name | --user | --data-dir | --admin | --feature)
            [ $# -ge 2 ] && [ -n "$2" ] && [[ $2 != -* ]] || _die "$1 needs a value"
            case $1 in
            --port) F_PORT=$2 ;;
            --workers) F_WORKERS=$2 ;;
            --http-port) F_HTTP_PORT=$2 ;;
            --server-name) F_SERVER_NAME=$2 ;;
            --user) F_USER=$2 ;;
            --data-dir) F_DATA_DIR=$2 ;;
            --admin) ADMIN=$2 ;;
            --feature) F_FEATURES+=("$2") ;;
            esac
            shift
            ;;
        --port=* | --workers=* | --http-port=* | --server-name=* | --user=* | --data-dir=* | --admin=* | --feature=*)
            set -- "${1%%=*}" "${1#*=}" "${@:2}"
            continue
            ;;
        --services) F_SERVICES=yes ;;
        --no-services) F_SERVICES=no ;;
        --with-services) WITH_SERVICES=1 ;;
        -h | --help)
            install_usage "$MODE"
            exit 0
            ;;
        *)
            install_usage "$MODE" >&2
            _die "unknown argument: $1"
            ;;
        esac
        shift
    done
    if [ "$MODE" = configure ] && [ -n "$F_USER$F_DATA_DIR" ]; then
        _die "--user and --data-dir are chosen at install (./uninstall.sh, then ./install.sh)"
    fi
    [ "$MODE" = install ] || [ "$WITH_SERVICES" = 0 ] || _die "--with-services is an install.sh option"
    local item slug mode
    for item in "${F_FEATURES[@]}"; do
        slug=${item%%=*}
        mode=${item#*=}
        [[ $item == *=* ]] && [[ $slug =~ ^[a-z0-9-]+$ ]] && _in_list "$mode" "on off auto" ||
            _die "--feature wants SLUG=on|off|auto, not '$item'"
    done
    for item in "$F_PORT" "$F_HTTP_PORT"; do
        [ -z "$item" ] || _is_port "$item" || _die "a port is a number from 1 to 65535, not '$item'"
    done
    if [ -n "$F_WORKERS" ] && [ "$F_WORKERS" != auto ] && ! { [[ $F_WORKERS =~ ^[0-9]+$ ]] &&
        [ "$F_WORKERS" -ge 1 ] && [ "$F_WORKERS" -le 64 ]; }; then
        _die "--workers wants a number from 1 to 64 or auto, not '$F_WORKERS'"
    fi
    [[ $F_SERVER_NAME =~ ^[A-Za-z0-9._*-]*$ ]] || _die "not a server name: '$F_SERVER_NAME'"
    [[ $ROOT != *[[:space:]]* ]] || _die "the project folder's path may not hold spaces ($ROOT)"

    # --- where: the service user and the data folder ---------------------------------------
    ENV_FILE=$ROOT/.env
    local owner home
    owner=$(stat -c %U "$ROOT")
    SERVICE_USER=${F_USER:-$owner}
    id -u "$SERVICE_USER" >/dev/null 2>&1 || _die "no user '$SERVICE_USER'"
    home=$(getent passwd "$SERVICE_USER" | cut -d: -f6)
    local data_explicit=1
    DATA_DIR=${F_DATA_DIR:-${DATA_DIR:-}}
    if [ -z "$DATA_DIR" ]; then
        DATA_DIR=$(_env_get "$ENV_FILE" DATA_DIR || true)
        data_explicit=0
    fi
    DATA_DIR=${DATA_DIR:-$home/.local/share/constellation}
    DATA_DIR=${DATA_DIR/#\~/$home}
    [[ $DATA_DIR == /* ]] || DATA_DIR=$ROOT/$DATA_DIR
    [[ $DATA_DIR != *[[:space:]]* ]] || _die "the data folder's path may not hold spaces ($DATA_DIR)"
    export DATA_DIR
    LIFECYCLE_DIR=$DATA_DIR/lifecycle
    CONF_FILE=$LIFECYCLE_DIR/install.conf
    MANIFEST=$LIFECYCLE_DIR/installed
    _read_conf
    if [ "$MODE" = configure ] && [ ! -f "$CONF_FILE" ]; then
        _die "this node is not installed (no $CONF_FILE): run ./install.sh first"
    fi
    [ -z "$F_USER" ] && [ -n "$CONF_SERVICE_USER" ] && SERVICE_USER=$CONF_SERVICE_USER

    # --- what: the options, from the flags, else the last run, else the defaults ----------
    local ROLE PORT WORKERS HTTP_PORT SERVER_NAME SERVICES
    ROLE=${F_ROLE:-${CONF_ROLE:-${NODE_ROLE:-$(_env_get "$ENV_FILE" NODE_ROLE || true)}}}
    ROLE=${ROLE:-terminal}
    _in_list "$ROLE" "$ROLES" || _die "the role is one of: $ROLES (not '$ROLE')"
    PORT=${F_PORT:-${CONF_PORT:-8000}}
    # A Watchtower runs a worker per core by default (auto); the other roles one.
    WORKERS=${F_WORKERS:-${CONF_WORKERS:-}}
    if [ -z "$WORKERS" ]; then
        WORKERS=1
        [ "$ROLE" != watchtower ] || WORKERS=auto
    fi
    if [ "$WORKERS" = auto ]; then
        WORKERS=$(nproc 2>/dev/null || echo 1)
        [ "$WORKERS" -le 64 ] || WORKERS=64
    fi
    HTTP_PORT=${F_HTTP_PORT:-${CONF_HTTP_PORT:-80}}
    SERVER_NAME=${F_SERVER_NAME:-${CONF_SERVER_NAME:-_}}
    SERVICES=${F_SERVICES:-${CONF_SERVICES:-yes}}
    # A Terminal runs with ./start.sh (docs/lifecycle.md): no services.
    [ "$ROLE" != terminal ] || SERVICES=no
    [ $((PORT + WORKERS - 1)) -le 65535 ] || _die "--port $PORT with $WORKERS workers passes 65535"
    if [ "$SERVICES" = yes ] && [ "$HTTP_PORT" -ge "$PORT" ] &&
        [ "$HTTP_PORT" -lt $((PORT + WORKERS)) ]; then
        _die "NGINX's --http-port $HTTP_PORT is one of the workers' ports ($PORT...$((PORT + WORKERS - 1)))"
    fi
    # The features switched by this and earlier runs, one per slug (the last word wins).
    local FEATURES="" seen=" " i
    local all=($CONF_FEATURES "${F_FEATURES[@]}")
    for ((i = ${#all[@]} - 1; i >= 0; i--)); do
        slug=${all[i]%%=*}
        [[ $seen == *" $slug "* ]] && continue
        seen+="$slug "
        FEATURES="${all[i]}${FEATURES:+ $FEATURES}"
    done

    # --- refusals, before anything changes ---------------------------------------------------
    if [ "$SERVICES" = yes ] && [ "$(id -u)" != 0 ]; then
        _die "a $ROLE node's services (systemd units, NGINX) are installed by root:" \
            "run sudo ./$MODE.sh $ARGS, or add --no-services to prepare the node only"
    fi
    # shellcheck source=scripts/_venv.sh
    . scripts/_venv.sh
    local python version
    if [ ! -e "$VENV_PYTHON" ]; then
        python=${PYTHON:-}
        if [ -z "$python" ]; then
            python=$(command -v python3.11 || command -v python3 || true)
        fi
        [ -n "$python" ] && command -v "$python" >/dev/null 2>&1 ||
            _die "Python 3.11 is required and none was found (tried ${PYTHON:-python3.11, python3});" \
                "install it (Debian/Ubuntu: apt install python3.11 python3.11-venv) or set PYTHON"
        version=$("$python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null) ||
            _die "$python does not run"
        [[ $version == 3.11.* ]] ||
            _die "Python 3.11 is required; $python is Python $version." \
                "Install Python 3.11 (python3.11, python3.11-venv) or set PYTHON=/path/to/python3.11"
    fi

    # The admin's password: asked now, so that a missing one changes nothing; it goes to
    # ensure_admin through its environment only (never an argument, a file or the output).
    local password=""
    if [ -n "$ADMIN" ]; then
        [[ $ADMIN =~ ^[A-Za-z0-9@.+_-]{1,150}$ ]] || _die "--admin: not a user name: '$ADMIN'"
        password=${ADMIN_PASSWORD:-}
        if [ -z "$password" ]; then
            [ -t 0 ] || _die "--admin $ADMIN: set ADMIN_PASSWORD (no terminal to ask the password on)"
            read -r -s -p "Password for the admin user $ADMIN: " password
            echo
            [ -n "$password" ] || _die "--admin $ADMIN: an empty password"
        fi
    fi

    echo "== $MODE: $ROLE node in $ROOT (data: $DATA_DIR, user: $SERVICE_USER," \
        "services: $SERVICES)"

    # Old manifest: what an earlier run installed.
    local OLD_MANIFEST=""
    [ ! -f "$MANIFEST" ] || OLD_MANIFEST=$(cat "$MANIFEST")
    local OWN=()  # this run's manifest lines (nginx-* lines are scripts/nginx-setup.sh's)
    _CHANGED=0

    # --- the data folder and .venv -----------------------------------------------------------
    if [ ! -d "$DATA_DIR" ]; then
        mkdir -p "$DATA_DIR"
        [ "$(id -u)" != 0 ] || chown "$SERVICE_USER:" "$DATA_DIR"
        OWN+=("data-dir $DATA_DIR")
        echo "  made $DATA_DIR"
    elif grep -qxF "data-dir $DATA_DIR" <<<"$OLD_MANIFEST"; then
        OWN+=("data-dir $DATA_DIR")
    fi
    mkdir -p "$LIFECYCLE_DIR"
    if [ ! -e "$VENV_PYTHON" ]; then
        OWN+=("venv $ROOT/$VENV_DIR")
    elif grep -qxF "venv $ROOT/$VENV_DIR" <<<"$OLD_MANIFEST"; then
        OWN+=("venv $ROOT/$VENV_DIR")
    fi
    local REQUIREMENTS=(requirements.txt) model=""
    [ ! -r /proc/device-tree/model ] || model=$(tr -d '\0' </proc/device-tree/model)
    if [ "${INSTALL_PI:-}" = 1 ] || { [ -z "${INSTALL_PI:-}" ] && [[ $model == *"Raspberry Pi"* ]]; }; then
        REQUIREMENTS+=(requirements-pi.txt)
    fi
    for item in "${REQUIREMENTS[@]}"; do
        _as_user bash -c 'cd "$1" && . scripts/_venv.sh && PYTHON=$3 venv_ensure "$2"' _ \
            "$ROOT" "$item" "${python:-}" || _die "could not install $item into $VENV_DIR"
    done

    # --- the Watchtower's database and broker ---------------------------------------------------
    # Several workers share one database and one channel layer: PostgreSQL and Redis (SQLite
    # and the in-memory layer live in one process). Checked with the venv's Python, so here.
    if [ "$WITH_SERVICES" = 1 ]; then
        scripts/watchtower-services.sh --install --env-file "$ROOT/.env" ||
            _die "--with-services: PostgreSQL and Redis could not be installed (see above)"
    fi
    if [ "$WORKERS" -gt 1 ] || [ "$WITH_SERVICES" = 1 ]; then
        scripts/watchtower-services.sh --check ||
            _die "--workers $WORKERS needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL)" \
                "answering (see above); set them in .env or add --with-services to install them"
    fi

    # --- .env --------------------------------------------------------------------------------
    local ENV_TEXT="" ENV_ADDED=() env_existed=0
    if [ -f "$ENV_FILE" ]; then
        env_existed=1
        ENV_TEXT=$(cat "$ENV_FILE")
    else
        ENV_TEXT="# Written by install.sh (docs/lifecycle.md); settings: .env.example."
    fi
    echo "== .env"
    _env_set DATA_DIR "$DATA_DIR" "$data_explicit"
    _env_set NODE_ROLE "$ROLE" 1
    local env_changed=0
    _write_env

    # --- the database, static files, the node --------------------------------------------------
    echo "== database and static files"
    _manage migrate --noinput -v 0 || _die "migrate failed (see above)"
    _manage collectstatic --noinput -v 0 || _die "collectstatic failed (see above)"
    local node_args=(--role "$ROLE") node_json
    for item in $FEATURES; do
        node_args+=(--feature "$item")
    done
    node_json=$(_manage node "${node_args[@]}" --json) || _die "could not set the role and features"
    local ACTIVE
    ACTIVE=$(printf '%s' "$node_json" | "$ROOT/$VENV_PYTHON" -c \
        'import json, sys; print(" ".join(f["slug"] for f in json.load(sys.stdin)["features"] if f["active"]))') ||
        _die "could not read the node's features"
    echo "  role $ROLE; active features: ${ACTIVE:-none}"
    local celery=0 nginx=0
    if [ "$SERVICES" = yes ]; then
        _in_list celery-queue "$ACTIVE" && celery=1
        _in_list nginx-server "$ACTIVE" && nginx=1
    fi
    if [ "$nginx" = 1 ]; then
        # Behind NGINX every charger comes from 127.0.0.1: the per-address limits and the
        # logs need the address NGINX saw (X-Forwarded-For), believed from NGINX only.
        _env_set OCPP_TRUSTED_PROXIES 127.0.0.1 0
        _write_env
    fi
    if grep -qxF "env-file $ENV_FILE" <<<"$OLD_MANIFEST" || [ "$env_existed" = 0 ]; then
        OWN+=("env-file $ENV_FILE")
    else
        while read -r _ item; do
            OWN+=("env-key $item")
        done < <(grep '^env-key ' <<<"$OLD_MANIFEST" || true)
        for item in "${ENV_ADDED[@]}"; do
            grep -qxF "env-key $item" <<<"$OLD_MANIFEST" || OWN+=("env-key $item")
        done
    fi
    if [ -n "$F_CHANNEL" ]; then
        echo "  update channel: $(_manage lifecycle channel --set "$F_CHANNEL" | tail -n 1)"
    fi
    if [ -n "$ADMIN" ]; then
        ADMIN_USERNAME=$ADMIN ADMIN_PASSWORD=$password _manage ensure_admin ||
            _die "could not create the admin user"
    fi

    # --- the lifecycle files upgrade.sh reads ----------------------------------------------------
    echo "== lifecycle files"
    _CHANGED=0
    _put_file "$LIFECYCLE_DIR/requirements" 644 < <(printf '%s\n' "${REQUIREMENTS[@]}")
    _put_file "$LIFECYCLE_DIR/health-url" 644 < <(echo "http://127.0.0.1:$PORT/healthz")
    _put_file "$CONF_FILE" 644 < <(printf '%s\n' "ROLE=$ROLE" "PORT=$PORT" "WORKERS=$WORKERS" \
        "HTTP_PORT=$HTTP_PORT" "SERVER_NAME=$SERVER_NAME" "SERVICE_USER=$SERVICE_USER" \
        "SERVICES=$SERVICES" "FEATURES=$FEATURES")
    OWN+=("file $LIFECYCLE_DIR/requirements" "file $LIFECYCLE_DIR/health-url" "file $CONF_FILE")
    local CONFIG_CHANGED=$_CHANGED

    # --- services ------------------------------------------------------------------------------
    local SYSTEMD_DIR=${SYSTEMD_DIR:-/etc/systemd/system}
    local NEW_UNITS=() NEW_FILES=()
    if [ "$SERVICES" = yes ]; then
        echo "== systemd units in $SYSTEMD_DIR"
        _CHANGED=0
        local bind=0.0.0.0 queue=off port
        [ "$nginx" = 0 ] || bind=127.0.0.1
        [ "$celery" = 0 ] || queue=on
        _put_file "$SYSTEMD_DIR/$UNIT_PREFIX-web@.service" 644 < <(_unit_web "$bind" "$queue")
        NEW_FILES+=("$SYSTEMD_DIR/$UNIT_PREFIX-web@.service")
        for ((port = PORT; port < PORT + WORKERS; port++)); do
            NEW_UNITS+=("$UNIT_PREFIX-web@$port.service")
        done
        if [ "$celery" = 1 ]; then
            _put_file "$SYSTEMD_DIR/$UNIT_PREFIX-celery.service" 644 < <(_unit_celery celery "Celery worker")
            _put_file "$SYSTEMD_DIR/$UNIT_PREFIX-beat.service" 644 < <(_unit_celery beat "Celery beat")
            NEW_FILES+=("$SYSTEMD_DIR/$UNIT_PREFIX-celery.service" "$SYSTEMD_DIR/$UNIT_PREFIX-beat.service")
            NEW_UNITS+=("$UNIT_PREFIX-celery.service" "$UNIT_PREFIX-beat.service")
        fi
        local units_changed=$_CHANGED
        _CHANGED=$((CONFIG_CHANGED | units_changed | env_changed))
    fi
    # Units and unit files an earlier run installed and this one does not want.
    local gone_units=() gone_files=() kept_units=() fresh_units=() unit file
    while read -r _ unit; do
        _in_list "$unit" "${NEW_UNITS[*]}" || gone_units+=("$unit")
    done < <(grep '^unit ' <<<"$OLD_MANIFEST" || true)
    while read -r _ file; do
        [[ $file == "$SYSTEMD_DIR"/* ]] || continue
        _in_list "$file" "${NEW_FILES[*]}" || gone_files+=("$file")
    done < <(grep '^file ' <<<"$OLD_MANIFEST" || true)
    for unit in "${NEW_UNITS[@]}"; do
        if grep -qxF "unit $unit" <<<"$OLD_MANIFEST"; then
            kept_units+=("$unit")
        else
            fresh_units+=("$unit")
        fi
    done
    if [ ${#gone_units[@]} -gt 0 ]; then
        echo "  stopping and disabling ${gone_units[*]}"
        systemctl disable --now "${gone_units[@]}" || echo "warning: could not disable ${gone_units[*]}"
    fi
    for file in "${gone_files[@]}"; do
        rm -f "$file"
        echo "  removed $file"
    done
    if [ "${units_changed:-0}" = 1 ] || [ ${#gone_files[@]} -gt 0 ]; then
        systemctl daemon-reload
    fi
    if [ ${#fresh_units[@]} -gt 0 ]; then
        _stop_scripts
        echo "  enabling and starting ${fresh_units[*]}"
        systemctl enable --now "${fresh_units[@]}" || _die "systemctl could not start ${fresh_units[*]}"
    fi
    if [ ${#kept_units[@]} -gt 0 ] && [ "$_CHANGED" = 1 ]; then
        echo "  restarting ${kept_units[*]} (their configuration changed)"
        systemctl try-restart "${kept_units[@]}" || _die "systemctl could not restart ${kept_units[*]}"
    elif [ ${#kept_units[@]} -gt 0 ]; then
        echo "  units unchanged: ${kept_units[*]}"
    fi
    # A service user other than root may stop and start its own units (upgrade.sh, run by the
    # scheduled upgrade as that user): a polkit rule, where polkit is installed.
    local POLKIT_DIR=${POLKIT_DIR:-/etc/polkit-1/rules.d} rule
    rule=$POLKIT_DIR/50-$UNIT_PREFIX.rules
    if [ "$SERVICES" = yes ] && [ "$SERVICE_USER" != root ]; then
        if [ -d "$POLKIT_DIR" ]; then
            _put_file "$rule" 644 < <(_polkit_rule)
            OWN+=("file $rule")
        else
            echo "  warning: no $POLKIT_DIR (polkit): scheduled upgrades, run as $SERVICE_USER," \
                "cannot restart the units; run ./upgrade.sh as root"
        fi
    elif grep -qxF "file $rule" <<<"$OLD_MANIFEST"; then
        rm -f "$rule"
        echo "  removed $rule"
    fi
    for file in "${NEW_FILES[@]}"; do
        OWN+=("file $file")
    done
    for unit in "${NEW_UNITS[@]}"; do
        OWN+=("unit $unit")
    done
    if [ ${#NEW_UNITS[@]} -gt 0 ]; then
        _put_file "$LIFECYCLE_DIR/units" 644 < <(printf '%s\n' "${NEW_UNITS[@]}")
        OWN+=("file $LIFECYCLE_DIR/units")
    elif [ -f "$LIFECYCLE_DIR/units" ]; then
        rm -f "$LIFECYCLE_DIR/units"
        echo "  removed $LIFECYCLE_DIR/units: the node runs with ./start.sh"
    fi

    # The manifest before NGINX, so that nginx-setup.sh adds its lines to it.
    { printf '%s\n' "${OWN[@]}"; grep '^nginx-' <<<"$OLD_MANIFEST" || true; } >"$MANIFEST.new"
    mv "$MANIFEST.new" "$MANIFEST"
    if [ "$nginx" = 1 ]; then
        echo "== NGINX site"
        local upstreams=()
        for ((port = PORT; port < PORT + WORKERS; port++)); do
            upstreams+=(--upstream "127.0.0.1:$port")
        done
        scripts/nginx-setup.sh install --manifest "$MANIFEST" --port "$HTTP_PORT" \
            --server-name "$SERVER_NAME" "${upstreams[@]}" || _die "the NGINX site was not installed"
    elif grep -q '^nginx-' "$MANIFEST"; then
        echo "== NGINX site: no longer wanted"
        scripts/nginx-setup.sh remove --manifest "$MANIFEST" || _die "could not remove the NGINX site"
    fi
    # The manifest lists itself last, so uninstall.sh removes it with the rest.
    grep -qxF "file $MANIFEST" "$MANIFEST" || echo "file $MANIFEST" >>"$MANIFEST"

    # A node run with ./start.sh (no units): restart it when something changed.
    if [ ${#NEW_UNITS[@]} -eq 0 ] && [ "$((CONFIG_CHANGED | env_changed))" = 1 ]; then
        _restart_scripts "$PORT"
    fi
    echo
    if [ "$SERVICES" = yes ]; then
        echo "Services: ${NEW_UNITS[*]}$([ "$nginx" = 0 ] || echo ", NGINX on port $HTTP_PORT")."
    else
        echo "Prepared. Start it with ./start.sh$([ "$PORT" = 8000 ] || echo " --port $PORT"); stop with ./stop.sh."
    fi
    echo "Manifest: $MANIFEST (./uninstall.sh removes what it lists)."
}

# Write ENV_TEXT to .env when it changed (install_main's locals); note it in env_changed.
_write_env() {
    _CHANGED=0
    # .env may hold the operator's secrets: readable by the service user only.
    _put_file "$ENV_FILE" 600 < <(printf '%s\n' "$ENV_TEXT")
    env_changed=$((env_changed | _CHANGED))
    [ "$(id -u)" != 0 ] || chown "$SERVICE_USER:" "$ENV_FILE"
}

# Before its units start: a node still run with ./start.sh (a Terminal before the install) would
# hold the port; the services take over from it.
_stop_scripts() {
    local name
    for name in uvicorn daphne celery; do
        if [ -s "$DATA_DIR/run/$name.pid" ] && kill -0 "$(tr -dc '0-9' <"$DATA_DIR/run/$name.pid")" 2>/dev/null; then
            echo "  the node runs with ./start.sh: stopping it (./stop.sh), its services take over"
            _as_user ./stop.sh
            return
        fi
    done
}

# A node run with ./start.sh is restarted with the options it was started with (the new port).
_restart_scripts() {
    local port=$1 args=() i
    # shellcheck source=scripts/_procs.sh
    . scripts/_procs.sh
    RUN_DIR=$DATA_DIR/run
    # shellcheck source=scripts/_lifecycle.sh
    . scripts/_lifecycle.sh
    lifecycle_running || return 0
    lifecycle_remember
    args=("${LIFECYCLE_START_ARGS[@]}")
    for ((i = 0; i < ${#args[@]}; i++)); do
        case ${args[i]} in
        --foreground) _die "the node runs with start.sh --foreground (a service manager?): restart it yourself" ;;
        --port) args[i + 1]=$port ;;
        --port=*) args[i]=--port=$port ;;
        esac
    done
    [[ " ${args[*]} " == *" --port "* ]] || [[ " ${args[*]} " == *" --port="* ]] ||
        args+=(--port "$port")
    echo "== restarting the node (./stop.sh, ./start.sh ${args[*]})"
    _as_user ./stop.sh
    _as_user ./start.sh "${args[@]}"
}

# The ASGI server, one instance per port (constellation-web@PORT.service).
_unit_web() {
    local bind=$1 queue=$2
    cat <<UNIT
# Constellation: the ASGI server on port %i. Written by install.sh; change it with
# ./configure.sh (docs/lifecycle.md), not by hand.
[Unit]
Description=Constellation ASGI server (port %i)
After=network-online.target postgresql.service redis-server.service
Wants=network-online.target

[Service]
Type=simple
User=$SERVICE_USER
WorkingDirectory=$ROOT
Environment=DATA_DIR=$DATA_DIR
# on: the Celery units run the tasks and the beat; off: this process runs the periodic jobs.
Environment=CELERY_QUEUE=$queue
ExecStart=$ROOT/scripts/service-start.sh web %i $bind
Restart=on-failure
RestartSec=2
TimeoutStopSec=30
# One file descriptor per charger socket.
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
UNIT
}

_unit_celery() {
    local what=$1 description=$2
    cat <<UNIT
# Constellation: the $description. Written by install.sh; change it with ./configure.sh
# (docs/lifecycle.md), not by hand.
[Unit]
Description=Constellation $description
After=network-online.target postgresql.service redis-server.service
Wants=network-online.target

[Service]
Type=simple
User=$SERVICE_USER
WorkingDirectory=$ROOT
Environment=DATA_DIR=$DATA_DIR
Environment=CELERY_QUEUE=on
ExecStart=$ROOT/scripts/service-start.sh $what
Restart=on-failure
RestartSec=5
TimeoutStopSec=60
UNIT
    if [ "$what" = celery ]; then
        cat <<'UNIT'
# The scheduled upgrade check starts upgrade.sh from this worker; without systemd-run it runs
# detached in this unit's cgroup, and upgrade.sh stops this unit: stop only the worker (it
# stops its own pool), never the upgrade (docs/lifecycle.md, "Delegated upgrade").
KillMode=process
UNIT
    fi
    cat <<'UNIT'

[Install]
WantedBy=multi-user.target
UNIT
}

# polkit: the service user may start, stop and restart the constellation-* units (upgrade.sh).
_polkit_rule() {
    cat <<RULE
// Written by Constellation's install.sh (docs/lifecycle.md): $SERVICE_USER may start, stop
// and restart this node's units, as upgrade.sh does when a scheduled upgrade runs.
polkit.addRule(function (action, subject) {
    if (action.id == "org.freedesktop.systemd1.manage-units" &&
        subject.user == "$SERVICE_USER" &&
        String(action.lookup("unit") || "").indexOf("$UNIT_PREFIX-") == 0) {
        return polkit.Result.YES;
    }
});
RULE
}
