#!/usr/bin/env bash
# Install (or remove) this node's NGINX site: rendered by `manage.py nginx_site`, put in
# NGINX_DIR/sites-available + a link in sites-enabled (Debian's layout) or in conf.d, checked
# with `nginx -t`, then nginx reloaded. Only when the site changed: a second run with the same
# options changes nothing and says "unchanged". What it installs is recorded in the manifest
# (lines "nginx-file PATH", "nginx-link PATH", "nginx-disabled LINK TARGET"), so that
# `remove` (configure.sh, uninstall.sh) takes away exactly that.
set -euo pipefail

usage() {
    cat <<'USAGE'
Usage: scripts/nginx-setup.sh install --manifest FILE [--port N] [--server-name NAME]...
                                      [--upstream HOST:PORT]...
       scripts/nginx-setup.sh remove --manifest FILE

  install   render the site (manage.py nginx_site), install it, nginx -t, reload nginx.
            On port 80 Debian's stock "default" site (also on port 80, as the default server)
            is disabled (its link removed, recorded; `remove` puts it back).
  remove    remove what the manifest lists, put a disabled default site back, reload nginx.

  --manifest FILE     where the installed files are recorded (install.sh: DATA_DIR/lifecycle/installed)
  --port N            the HTTP port nginx listens on (default 80)
  --server-name NAME  (repeatable; default: any, "_")
  --upstream H:P      an ASGI worker (repeatable; default 127.0.0.1:8000)

Environment: NGINX_DIR (default /etc/nginx).
USAGE
}

die() {
    echo "error: $*" >&2
    exit 1
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"
NGINX_DIR=${NGINX_DIR:-/etc/nginx}
ACTION=${1:-}
[ $# -eq 0 ] || shift
MANIFEST=""
PORT=80
NAMES=()
UPSTREAMS=()
while [ $# -gt 0 ]; do
    case $1 in
    --manifest | --port | --server-name | --upstream)
        [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value"
        case $1 in
        --manifest) MANIFEST=$2 ;;
        --port) PORT=$2 ;;
        --server-name) NAMES+=(--server-name "$2") ;;
        --upstream) UPSTREAMS+=(--upstream "$2") ;;
        esac
        shift 2
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
[ -n "$MANIFEST" ] || die "--manifest FILE is required"

# Drop the manifest's nginx lines of these kinds.
manifest_drop() {
    local pattern=$1
    [ -f "$MANIFEST" ] || return 0
    grep -v -E "^($pattern) " "$MANIFEST" >"$MANIFEST.tmp" || true
    mv "$MANIFEST.tmp" "$MANIFEST"
}

reload_nginx() {
    nginx -t || return 1
    # reload-or-restart: a stopped nginx is started, a running one reloads without dropping
    # the chargers' sockets.
    systemctl reload-or-restart nginx.service
}

remove_site() {
    local kind path target changed=0
    [ -f "$MANIFEST" ] || return 0
    while read -r kind path target; do
        case $kind in
        nginx-link | nginx-file)
            if [ -e "$path" ] || [ -L "$path" ]; then
                rm -f "$path"
                echo "removed $path"
                changed=1
            fi
            ;;
        nginx-disabled)
            if [ ! -e "$path" ] && [ ! -L "$path" ] && [ -e "$target" ]; then
                ln -s "$target" "$path"
                echo "enabled $path again"
                changed=1
            fi
            ;;
        esac
    done < <(grep -E '^nginx-(link|file|disabled) ' "$MANIFEST" || true)
    manifest_drop 'nginx-file|nginx-link|nginx-disabled'
    if [ "$changed" = 1 ]; then
        reload_nginx || die "nginx -t failed after removing the site (see above)"
    fi
}

install_site() {
    local site link="" new previous="" changed=0
    if [ -d "$NGINX_DIR/sites-available" ] && [ -d "$NGINX_DIR/sites-enabled" ]; then
        site=$NGINX_DIR/sites-available/constellation.conf
        link=$NGINX_DIR/sites-enabled/constellation.conf
    else
        mkdir -p "$NGINX_DIR/conf.d"
        site=$NGINX_DIR/conf.d/constellation.conf
    fi
    new=$(mktemp "${TMPDIR:-/tmp}/constellation-nginx.XXXXXX")
    # shellcheck disable=SC2064
    trap "rm -f '$new' '$new.previous'" EXIT
    .venv/bin/python manage.py nginx_site --output "$new" --port "$PORT" "${NAMES[@]}" \
        "${UPSTREAMS[@]}" >/dev/null || die "could not render the NGINX site (see above)"
    chmod 644 "$new"
    if [ -f "$site" ] && cmp -s "$new" "$site"; then
        :
    else
        if [ -f "$site" ]; then
            previous=$new.previous
            cp -p "$site" "$previous"
        fi
        cp "$new" "$site.tmp"
        mv "$site.tmp" "$site"
        changed=1
    fi
    if [ -n "$link" ] && [ "$(readlink "$link" 2>/dev/null)" != "$site" ]; then
        ln -sfn "$site" "$link"
        changed=1
    fi
    # Debian's stock site listens on port 80 as the default server: ours would never be asked.
    local default=$NGINX_DIR/sites-enabled/default
    if [ -n "$link" ] && [ "$PORT" = 80 ] && [ -L "$default" ]; then
        echo "nginx-disabled $default $(readlink -f "$default")" >>"$MANIFEST"
        rm -f "$default"
        echo "disabled nginx's default site ($default; uninstall.sh puts it back)"
        changed=1
    fi
    manifest_drop 'nginx-file|nginx-link'
    echo "nginx-file $site" >>"$MANIFEST"
    [ -z "$link" ] || echo "nginx-link $link" >>"$MANIFEST"
    if [ "$changed" = 0 ]; then
        echo "nginx site $site: unchanged"
        return 0
    fi
    if ! reload_nginx; then
        if [ -n "$previous" ]; then
            mv "$previous" "$site"
            echo "nginx -t failed: the previous $site is back" >&2
        else
            rm -f "$site" ${link:+"$link"}
            manifest_drop 'nginx-file|nginx-link'
        fi
        die "nginx -t refused the configuration with the new site (see above)"
    fi
    echo "nginx site $site: installed${link:+, enabled as $link}; nginx reloaded"
}

mkdir -p "$(dirname "$MANIFEST")"
touch "$MANIFEST"
case $ACTION in
install) install_site ;;
remove) remove_site ;;
-h | --help) usage ;;
*)
    usage >&2
    die "install or remove, not '$ACTION'"
    ;;
esac
