#!/usr/bin/env bash
# Remove what ./install.sh installed, exactly what its manifest (DATA_DIR/lifecycle/installed)
# lists: units stopped, disabled and deleted, the NGINX site removed, .env and .venv when
# install.sh made them. The data folder (database, logs, backups) stays unless --purge.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
cd "$ROOT"

usage() {
    cat <<'USAGE'
Usage: ./uninstall.sh [--purge] [--data-dir DIR]

Removes what ./install.sh installed here, as listed in DATA_DIR/lifecycle/installed:
  - systemd units: systemctl disable --now, unit files deleted, systemctl daemon-reload;
  - the NGINX site: its files removed, Debian's default site enabled again if install.sh had
    disabled it, nginx -t and reload;
  - .env when install.sh created it, else only the lines it added;
  - .venv when install.sh created it;
  - the lifecycle files (units, health-url, requirements, install.conf, the manifest).
A node run with ./start.sh is stopped first. The data folder (database, logs, backups, static
files) is kept, unless --purge: then it is deleted too.

  --purge         delete the data folder as well
  --data-dir DIR  the data folder (default: DATA_DIR, else .env's, else the settings' default)
  -h, --help      show this help

Environment: SYSTEMD_DIR, NGINX_DIR (as for install.sh).
USAGE
}

die() {
    echo "error: $*" >&2
    exit 1
}

PURGE=0
DATA=""
while [ $# -gt 0 ]; do
    case $1 in
    --purge) PURGE=1 ;;
    --data-dir)
        [ $# -ge 2 ] && [ -n "$2" ] || die "--data-dir needs a value"
        DATA=$2
        shift
        ;;
    --data-dir=*) DATA=${1#--data-dir=} ;;
    -h | --help)
        usage
        exit 0
        ;;
    *)
        usage >&2
        die "unknown argument: $1"
        ;;
    esac
    shift
done

# shellcheck source=scripts/_install.sh
. scripts/_install.sh
# The data folder as install.sh found it.
if [ -z "$DATA" ]; then
    DATA=${DATA_DIR:-}
fi
if [ -z "$DATA" ]; then
    DATA=$(_env_get "$ROOT/.env" DATA_DIR || true)
fi
if [ -z "$DATA" ]; then
    home=$(getent passwd "$(stat -c %U "$ROOT")" | cut -d: -f6)
    DATA=$home/.local/share/constellation
fi
DATA_DIR=$DATA
export DATA_DIR
MANIFEST=$DATA_DIR/lifecycle/installed
[ -f "$MANIFEST" ] || die "nothing installed here: no manifest $MANIFEST (see --data-dir)"

if grep -q '^\(unit\|nginx-\)' "$MANIFEST" && [ "$(id -u)" != 0 ]; then
    die "this node's services (systemd units, NGINX) are removed by root: run sudo ./uninstall.sh"
fi

echo "== uninstall: what $MANIFEST lists"
# A node run with ./start.sh: stop it (it runs from .venv, which may go).
if ! grep -q '^unit ' "$MANIFEST" && compgen -G "$DATA_DIR/run/*.pid" >/dev/null &&
    [ -x .venv/bin/python ]; then
    ./stop.sh || echo "warning: ./stop.sh failed"
fi
mapfile -t UNITS < <(sed -n 's/^unit //p' "$MANIFEST")
if [ ${#UNITS[@]} -gt 0 ]; then
    echo "  stopping and disabling ${UNITS[*]}"
    systemctl disable --now "${UNITS[@]}" || echo "warning: systemctl disable failed (above)"
fi
if grep -q '^nginx-' "$MANIFEST"; then
    scripts/nginx-setup.sh remove --manifest "$MANIFEST" || echo "warning: the NGINX site (above)"
fi
reload=0
SYSTEMD=${SYSTEMD_DIR:-/etc/systemd/system}
while read -r kind value; do
    case $kind in
    file)
        [ "$value" != "$MANIFEST" ] || continue
        if [ -e "$value" ]; then
            rm -f "$value"
            echo "  removed $value"
        fi
        [[ $value != "$SYSTEMD"/* ]] || reload=1
        ;;
    env-file)
        rm -f "$value"
        echo "  removed $value"
        ;;
    env-key)
        if [ -f .env ]; then
            sed -i "/^[[:space:]]*\(export[[:space:]]\{1,\}\)\{0,1\}$value[[:space:]]*=/d" .env
            echo "  removed $value from .env"
        fi
        ;;
    venv)
        rm -rf "$value"
        echo "  removed $value"
        ;;
    esac
done <"$MANIFEST"
[ "$reload" = 0 ] || systemctl daemon-reload

rm -f "$MANIFEST"
rmdir "$DATA_DIR/lifecycle" 2>/dev/null || true
if [ "$PURGE" = 1 ]; then
    rm -rf "$DATA_DIR"
    echo "  removed the data folder $DATA_DIR"
else
    echo "The data folder $DATA_DIR is kept (database, logs, backups): --purge deletes it."
fi
echo "Uninstalled."
