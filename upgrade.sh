#!/usr/bin/env bash
# Upgrade this node: fetch, pick the target of its update channel, back up the database, check
# out the target, install requirements, migrate, collect static files, restart, check /healthz;
# on any failure put the old code and database back and restart the old version.
# The whole script is one function, read before it runs: `git checkout` may replace this file.
set -uo pipefail

usage() {
    cat <<'USAGE'
Usage: ./upgrade.sh [--check] [--to REF] [--channel CHANNEL] [--remote NAME] [--branch NAME]
                    [--by WHO] [--log FILE]

Moves this node to the target of its update channel (manage.py lifecycle channel; set by
install.sh / configure.sh, or in the admin):
  fixed     nothing (upgrade only with --to)
  stable    the newest release tag vX.Y.Z
  latest    the newest tag, pre-releases (vX.Y.Z-rc.N) included, in semantic-version order
  unstable  the head of the main branch (REMOTE/BRANCH)
A channel never moves the node back to a version it already contains.

Steps: git fetch --tags; back up the database (DATA_DIR/backups: a SQLite copy or pg_dump);
stop the node; check out the target; install requirements; migrate; collectstatic; start the
node again as it was started (start.sh's options, or its systemd units) and wait for /healthz.
On any failure: the old commit, the old requirements and the database backup are put back and
the old version is started again. Each attempt is recorded in the admin (Upgrades) with its log.

  --check           only say whether an upgrade is available (one line);
                    exit 0 when one is, 1 when not, 2 on error
  --to REF          upgrade (or go back) to this tag, branch or commit, whatever the channel
  --channel NAME    use this channel for this run instead of the node's
  --remote NAME     the git remote to fetch from (default: origin)
  --branch NAME     the main branch of the unstable channel (default: main)
  --by WHO          who asked (recorded: manual, beat, admin ...; default: manual)
  --log FILE        write the output to FILE only (delegated runs); by default it goes to the
                    terminal and to DATA_DIR/logs/upgrade-<time>.log
  -h, --help        show this help

Exit status: 0 upgraded (or nothing to do), 1 failed and rolled back (the old version serves),
2 refused before changing anything, 3 the rollback failed too (see the log).
USAGE
}

main() {
    local ROOT
    ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
    cd "$ROOT" || exit 2

    local CHECK=0 TO="" CHANNEL="" REMOTE=origin BRANCH=main BY=manual LOG=""
    while [ $# -gt 0 ]; do
        case $1 in
        --check) CHECK=1 ;;
        --to | --channel | --remote | --branch | --by | --log)
            [ $# -ge 2 ] && [ -n "$2" ] && [[ $2 != -* ]] || die "$1 needs a value"
            case $1 in
            --to) TO=$2 ;;
            --channel) CHANNEL=$2 ;;
            --remote) REMOTE=$2 ;;
            --branch) BRANCH=$2 ;;
            --by) BY=$2 ;;
            --log) LOG=$2 ;;
            esac
            shift
            ;;
        --to=* | --channel=* | --remote=* | --branch=* | --by=* | --log=*)
            set -- "${1%%=*}" "${1#*=}" "${@:2}"
            continue
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
        shift
    done
    case $CHANNEL in
    "" | fixed | stable | latest | unstable) ;;
    *) die "--channel must be fixed, stable, latest or unstable, not '$CHANNEL'" ;;
    esac

    # shellcheck source=scripts/_venv.sh
    . scripts/_venv.sh
    # shellcheck source=scripts/_procs.sh
    . scripts/_procs.sh
    [ -x "$VENV_PYTHON" ] || die "no $VENV_DIR here: start or install the node first"
    PY=$ROOT/$VENV_PYTHON
    export DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-config.settings}
    DATA_DIR=$(procs_data_dir) || die "could not read the settings (see the error above)"
    [ -n "$DATA_DIR" ] || die "the settings gave no DATA_DIR"
    export DATA_DIR
    RUN_DIR=$DATA_DIR/run
    mkdir -p "$RUN_DIR" "$DATA_DIR/logs" "$DATA_DIR/backups"
    # shellcheck source=scripts/_lifecycle.sh
    . scripts/_lifecycle.sh

    command -v git >/dev/null 2>&1 || die "git is not installed"
    git rev-parse --git-dir >/dev/null 2>&1 || die "$ROOT is not a git checkout"

    if [ "$CHECK" = 0 ]; then
        if [ -z "$LOG" ]; then
            LOG=$DATA_DIR/logs/upgrade-$(date -u +%Y%m%dT%H%M%SZ).log
            exec > >(tee -a "$LOG") 2> >(tee -a "$LOG" >&2)
        else
            mkdir -p "$(dirname "$LOG")"
            exec >>"$LOG" 2>&1
        fi
        echo "=== upgrade.sh $(date -u +%Y-%m-%dT%H:%M:%SZ) in $ROOT (by $BY)"
    fi

    # One upgrade at a time (a scheduled one and a manual one may meet).
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$RUN_DIR/upgrade.lock"
        flock -n 9 || die "another upgrade is running (lock $RUN_DIR/upgrade.lock)"
    fi

    git fetch --quiet --tags "$REMOTE" || die "git fetch --tags $REMOTE failed"

    local plan_args=(--remote "$REMOTE" --branch "$BRANCH" --shell)
    [ -z "$CHANNEL" ] || plan_args+=(--channel "$CHANNEL")
    [ -z "$TO" ] || plan_args+=(--to "$TO")
    local plan
    plan=$("$PY" manage.py lifecycle plan "${plan_args[@]}") || die "could not pick the target"
    # Only the PLAN_* lines, each value quoted by the command (shlex.quote).
    eval "$(grep -E '^PLAN_[A-Z_]+=' <<<"$plan")"
    [ -n "${PLAN_AVAILABLE:-}" ] || die "the plan said nothing: $plan"

    if [ "$CHECK" = 1 ]; then
        echo "$PLAN_REASON"
        [ "$PLAN_AVAILABLE" = 1 ] && exit 0
        exit 1
    fi
    echo "channel $PLAN_CHANNEL: $PLAN_REASON"
    ATTEMPT=(--channel "$PLAN_CHANNEL" --by "$BY" --from-version "$PLAN_CURRENT_VERSION"
        --from-commit "$PLAN_CURRENT_COMMIT" --to-ref "$PLAN_TARGET_REF"
        --to-version "$PLAN_TARGET_VERSION" --to-commit "$PLAN_TARGET_COMMIT")
    if [ "$PLAN_AVAILABLE" != 1 ]; then
        "$PY" manage.py lifecycle finish "${ATTEMPT[@]}" --result no_upgrade \
            --detail "$PLAN_REASON" --log-file "$LOG" >/dev/null ||
            echo "warning: could not record the attempt"
        exit 0
    fi

    if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
        git status --short --untracked-files=no
        die "files of $ROOT were changed by hand (above): commit or discard them first"
    fi
    OLD_COMMIT=$PLAN_CURRENT_COMMIT
    OLD_BRANCH=$(git symbolic-ref -q --short HEAD || true)

    # Written before the backup, so the row survives a restore and is finished afterwards.
    UPGRADE_ID=$("$PY" manage.py lifecycle begin "${ATTEMPT[@]}") || {
        echo "warning: could not record the attempt's start; going on"
        UPGRADE_ID=""
    }

    lifecycle_remember
    WAS_RUNNING=0
    if lifecycle_running; then
        lifecycle_can_restart || die "cannot restart this node: $LIFECYCLE_CANNOT"
        WAS_RUNNING=1
        echo "== stopping the node ($(lifecycle_mode))"
        lifecycle_stop || fail_before_change "could not stop the node"
    else
        echo "the node is not running: it will not be started (nor /healthz checked)"
    fi

    echo "== backing up the database"
    local suffix
    suffix=$("$PY" manage.py lifecycle backup-suffix) ||
        fail_before_change "could not tell how to back up this database"
    BACKUP=$DATA_DIR/backups/db-$(date -u +%Y%m%dT%H%M%SZ)-${OLD_COMMIT:0:8}$suffix
    "$PY" manage.py lifecycle backup "$BACKUP" || fail_before_change "the backup failed"

    echo "== checking out $PLAN_TARGET_VERSION ($PLAN_TARGET_COMMIT)"
    git -c advice.detachedHead=false checkout --quiet --detach "$PLAN_TARGET_COMMIT" ||
        rollback "git checkout $PLAN_TARGET_COMMIT failed"
    # The target's own helpers from here on.
    [ ! -f scripts/_venv.sh ] || . scripts/_venv.sh

    echo "== installing requirements"
    install_requirements || rollback "installing the requirements failed"
    echo "== migrating"
    "$PY" manage.py migrate --noinput || rollback "migrate failed"
    echo "== collecting static files"
    "$PY" manage.py collectstatic --noinput --verbosity 0 || rollback "collectstatic failed"
    if [ "$WAS_RUNNING" = 1 ]; then
        echo "== starting $PLAN_TARGET_VERSION"
        lifecycle_start || rollback "the new version did not start"
        echo "== checking $LIFECYCLE_HEALTH_URL"
        lifecycle_health || rollback "the new version does not answer /healthz"
    fi

    echo "upgraded: $PLAN_CURRENT_VERSION → $PLAN_TARGET_VERSION (backup: $BACKUP)"
    "$PY" manage.py lifecycle finish "${ATTEMPT[@]}" ${UPGRADE_ID:+--id "$UPGRADE_ID"} \
        --result upgraded --log-file "$LOG" >/dev/null ||
        echo "warning: could not record the result"
    exit 0
}

die() {
    echo "error: $*" >&2
    exit 2
}

# Install the requirement files the node uses: those listed in DATA_DIR/lifecycle/requirements
# (install.sh writes it, e.g. requirements.txt and requirements-pi.txt), else requirements.txt.
install_requirements() {
    local files=(requirements.txt) file
    if [ -s "$DATA_DIR/lifecycle/requirements" ]; then
        mapfile -t files < <(grep -v '^[[:space:]]*\(#\|$\)' "$DATA_DIR/lifecycle/requirements")
    fi
    for file in "${files[@]}"; do
        [ -f "$file" ] || { echo "no $file in this version"; return 1; }
        venv_ensure "$file" || return 1
    done
}

# Nothing changed yet but the node may be stopped: start it again, record, exit 1.
fail_before_change() {
    echo "error: $1"
    if [ "${WAS_RUNNING:-0}" = 1 ]; then
        lifecycle_start && lifecycle_health || echo "error: the node did not start again"
    fi
    "$PY" manage.py lifecycle finish "${ATTEMPT[@]}" ${UPGRADE_ID:+--id "$UPGRADE_ID"} \
        --result failed --detail "$1" --log-file "$LOG" >/dev/null ||
        echo "warning: could not record the result"
    exit 1
}

# Put back the old code, requirements and database, start the old version; record; exit 1
# (3 when the rollback itself failed).
rollback() {
    local reason=$1 ok=1
    echo "error: $reason"
    echo "== rolling back to $PLAN_CURRENT_VERSION ($OLD_COMMIT)"
    lifecycle_stop || echo "warning: could not stop the new version"
    if [ -n "$OLD_BRANCH" ]; then
        git checkout --quiet --force "$OLD_BRANCH" || ok=0
    else
        git -c advice.detachedHead=false checkout --quiet --force --detach "$OLD_COMMIT" || ok=0
    fi
    if [ "$(git rev-parse HEAD)" != "$OLD_COMMIT" ]; then
        echo "error: could not check out $OLD_COMMIT again"
        ok=0
    fi
    [ ! -f scripts/_venv.sh ] || . scripts/_venv.sh
    install_requirements || {
        echo "error: could not reinstall the old requirements"
        ok=0
    }
    echo "== restoring the database from $BACKUP"
    "$PY" manage.py lifecycle restore "$BACKUP" || ok=0
    if [ "$WAS_RUNNING" = 1 ]; then
        echo "== starting $PLAN_CURRENT_VERSION again"
        if lifecycle_start && lifecycle_health; then :; else ok=0; fi
    fi
    local result=rolled_back status=1
    if [ "$ok" = 1 ]; then
        echo "rolled back: $PLAN_CURRENT_VERSION serves again; the upgrade to $PLAN_TARGET_VERSION failed: $reason"
    else
        result=failed
        status=3
        echo "error: the rollback failed too (above); the backup is $BACKUP"
    fi
    # After the restore, so the restored database keeps the record.
    "$PY" manage.py lifecycle finish "${ATTEMPT[@]}" ${UPGRADE_ID:+--id "$UPGRADE_ID"} \
        --result "$result" --detail "$reason" --log-file "$LOG" >/dev/null ||
        echo "warning: could not record the result"
    echo "error: upgrade to $PLAN_TARGET_VERSION failed: $reason" >&2
    exit "$status"
}

main "$@"; exit $?
