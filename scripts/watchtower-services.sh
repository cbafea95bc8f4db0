#!/usr/bin/env bash
# The services a Watchtower (several ASGI workers) needs: PostgreSQL and Redis. --check says
# whether the ones the settings name answer; --install installs them from the system's
# packages and creates the database and its user. install.sh calls it (--with-services).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"

usage() {
    cat <<'USAGE'
Usage: scripts/watchtower-services.sh --check
       scripts/watchtower-services.sh --install [--env-file FILE] [--db-name NAME] [--db-user NAME]

--check      connect to the PostgreSQL of DATABASE_URL and the Redis of REDIS_URL (from the
             environment or .env, as the server reads them) and say, for each, whether it
             answers. Exit 0 when both do, 1 when one does not or is not configured.
--install    (root) apt-get install -y postgresql redis-server, enable and start them
             (systemctl, when there is one), create the database user and the database
             (as the postgres user, through runuser and psql) and write DATABASE_URL and
             REDIS_URL into FILE, unless FILE already names a PostgreSQL database and a Redis.
             The user's password is generated once, written only to FILE (mode 600) and never
             shown. Running it again changes nothing that is already there. Check afterwards
             with --check.
  --env-file FILE  the settings file to complete (default: .env of this folder)
  --db-name NAME   the database (default: constellation)
  --db-user NAME   its owner (default: constellation)
-h, --help   show this help
USAGE
}

die() {
    echo "error: $*" >&2
    exit 2
}

MODE=""
ENV_FILE=$ROOT/.env
DB_NAME=constellation
DB_USER=constellation
while [ $# -gt 0 ]; do
    case $1 in
    --check | --install)
        [ -z "$MODE" ] || die "--check and --install go alone"
        MODE=${1#--}
        shift
        ;;
    --env-file | --db-name | --db-user)
        [ $# -ge 2 ] && [[ $2 != -* ]] || die "$1 needs a value"
        case $1 in
        --env-file) ENV_FILE=$2 ;;
        --db-name) DB_NAME=$2 ;;
        --db-user) DB_USER=$2 ;;
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
[ -n "$MODE" ] || {
    usage >&2
    die "say --check or --install"
}

# --- check -----------------------------------------------------------------------------------

# Reads the settings as the server does; never prints a password (only user@host:port/db).
CHECK_PY='
import sys
from django.conf import settings

ok = True
db = settings.DATABASES["default"]
if not db["ENGINE"].endswith("postgresql"):
    print("PostgreSQL: not configured: DATABASE_URL names %s, not PostgreSQL"
          % db["ENGINE"].rsplit(".", 1)[-1])
    ok = False
else:
    import psycopg
    where = "%s@%s:%s/%s" % (db["USER"], db["HOST"] or "localhost", db["PORT"] or 5432, db["NAME"])
    try:
        psycopg.connect(host=db["HOST"] or None, port=db["PORT"] or 5432, user=db["USER"],
                        password=db["PASSWORD"] or None, dbname=db["NAME"],
                        connect_timeout=5).close()
        print("PostgreSQL: %s answers" % where)
    except Exception as error:
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        print("PostgreSQL: %s does not answer: %s" % (where, detail))
        ok = False
if not settings.REDIS_URL:
    print("Redis: not configured: REDIS_URL is not set")
    ok = False
else:
    from urllib.parse import urlsplit
    import redis
    parts = urlsplit(settings.REDIS_URL)
    where = "%s:%s%s" % (parts.hostname, parts.port or 6379, parts.path or "/0")
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=5,
                             socket_timeout=5).ping()
        print("Redis: %s answers" % where)
    except Exception as error:
        print("Redis: %s does not answer: %s" % (where, error))
        ok = False
if not ok:
    print("A Watchtower needs both: start them (systemctl start postgresql redis-server), "
          "set DATABASE_URL and REDIS_URL in .env, or install them with "
          "scripts/watchtower-services.sh --install (install.sh --with-services).")
sys.exit(0 if ok else 1)
'

if [ "$MODE" = check ]; then
    # shellcheck source=scripts/_venv.sh
    . scripts/_venv.sh
    [ -x "$VENV_PYTHON" ] || die "no $VENV_PYTHON: run ./install.sh or ./start.sh first"
    DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-config.settings} \
        exec "$VENV_PYTHON" -c "$CHECK_PY"
fi

# --- install ---------------------------------------------------------------------------------

[[ $DB_NAME =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || die "--db-name: letters, digits, _ only, not '$DB_NAME'"
[[ $DB_USER =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || die "--db-user: letters, digits, _ only, not '$DB_USER'"
[ "$(id -u)" = 0 ] || die "--install needs root (it runs apt-get and creates the database user)"
command -v apt-get >/dev/null 2>&1 ||
    die "no apt-get: install PostgreSQL and Redis with this system's packages, then --check"

# What FILE already says (an earlier run, or the administrator).
env_value() {
    [ -f "$ENV_FILE" ] || return 0
    sed -n "s/^$1=//p" "$ENV_FILE" | tail -n 1
}
DATABASE_URL_SET=$(env_value DATABASE_URL)
REDIS_URL_SET=$(env_value REDIS_URL)

echo "installing postgresql and redis-server (apt-get)"
DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql redis-server
if command -v systemctl >/dev/null 2>&1; then
    systemctl enable --now postgresql redis-server
fi

as_postgres() {
    runuser -u postgres -- "$@"
}

# Wait (30 s at most) for the freshly started cluster to take connections.
for ((i = 0; i < 60; i++)); do
    as_postgres psql -Atqc 'SELECT 1' >/dev/null 2>&1 && break
    sleep 0.5
done

case $DATABASE_URL_SET in
postgres://* | postgresql://*)
    echo "DATABASE_URL already names a PostgreSQL database in $ENV_FILE: kept"
    ;;
*)
    # Letters and digits only: nothing to quote in a URL or in SQL.
    PASSWORD=$(python3 -c 'import secrets, string
print("".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32)))')
    [ ${#PASSWORD} -eq 32 ] || die "could not generate a password"
    # The password goes through psql's standard input, never a command line (ps shows those).
    as_postgres psql -v ON_ERROR_STOP=1 -q -d postgres <<SQL
DO \$\$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER') THEN
        ALTER ROLE "$DB_USER" WITH LOGIN PASSWORD '$PASSWORD';
    ELSE
        CREATE ROLE "$DB_USER" WITH LOGIN PASSWORD '$PASSWORD';
    END IF;
END
\$\$;
SQL
    if [ "$(as_postgres psql -Atq -d postgres -c \
        "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" != 1 ]; then
        as_postgres createdb -O "$DB_USER" "$DB_NAME"
    fi
    touch "$ENV_FILE"
    chmod 600 "$ENV_FILE"
    sed -i '/^DATABASE_URL=/d' "$ENV_FILE"
    echo "DATABASE_URL=postgres://$DB_USER:$PASSWORD@127.0.0.1:5432/$DB_NAME" >>"$ENV_FILE"
    echo "database $DB_NAME (owner $DB_USER) ready; DATABASE_URL written to $ENV_FILE"
    ;;
esac

if [ -n "$REDIS_URL_SET" ]; then
    echo "REDIS_URL already set in $ENV_FILE: kept"
else
    touch "$ENV_FILE"
    chmod 600 "$ENV_FILE"
    echo "REDIS_URL=redis://127.0.0.1:6379/0" >>"$ENV_FILE"
    echo "REDIS_URL written to $ENV_FILE"
fi
echo "done: check them with scripts/watchtower-services.sh --check"
