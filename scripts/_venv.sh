# shellcheck shell=bash
# Sourced by start.sh and scripts/test.sh (from the project folder): find Python 3.11, create
# .venv when it is missing, and install a requirements file only when it changed since the last
# successful install. The stamp for each file (its sha256, with the files it includes by -r)
# is kept inside .venv, so a new venv always installs.

VENV_DIR=.venv
VENV_PYTHON=$VENV_DIR/bin/python

# Print the path of a Python 3.11 interpreter: $PYTHON if set, else python3.11, else python3.
venv_find_python() {
    local candidates=(python3.11 python3)
    if [ -n "${PYTHON:-}" ]; then
        candidates=("$PYTHON")
    fi
    local candidate
    for candidate in "${candidates[@]}"; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
                >/dev/null 2>&1; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

# Print the requirements file and, recursively, the files it includes with -r.
_venv_closure() {
    local file=$1 dir included
    echo "$file"
    dir=$(dirname "$file")
    sed -n 's/^[[:space:]]*-r[[:space:]]*\([^[:space:]#]*\).*/\1/p' "$file" |
        while read -r included; do
            _venv_closure "$dir/$included"
        done
}

_venv_digest() {
    local files
    mapfile -t files < <(_venv_closure "$1")
    if command -v sha256sum >/dev/null 2>&1; then
        cat -- "${files[@]}" | sha256sum | cut -d' ' -f1
    else
        cat -- "${files[@]}" | shasum -a 256 | cut -d' ' -f1
    fi
}

_venv_stamp() {
    echo "$VENV_DIR/.installed-$(basename "$1").sha256"
}

# Make sure .venv exists, runs Python 3.11 and has the requirements file installed; further
# arguments go to pip (e.g. --no-deps).
venv_ensure() {
    local requirements=$1 python stamp digest file
    shift
    if [ ! -e "$VENV_PYTHON" ]; then
        if ! python=$(venv_find_python); then
            echo "error: Python 3.11 not found (tried ${PYTHON:-python3.11, python3})." >&2
            echo "Install Python 3.11, or set PYTHON=/path/to/python3.11." >&2
            return 1
        fi
        echo "creating $VENV_DIR with $python"
        if ! "$python" -m venv "$VENV_DIR"; then
            echo "error: '$python -m venv' failed; on Debian/Ubuntu install python3.11-venv." >&2
            return 1
        fi
    fi
    if ! "$VENV_PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
        >/dev/null 2>&1; then
        echo "error: $VENV_DIR does not run Python 3.11 (or is broken)." >&2
        echo "Remove it (rm -rf $VENV_DIR) and run again." >&2
        return 1
    fi
    stamp=$(_venv_stamp "$requirements")
    digest=$(_venv_digest "$requirements")
    if [ "$(cat "$stamp" 2>/dev/null)" = "$digest" ]; then
        return 0
    fi
    echo "installing $requirements into $VENV_DIR"
    "$VENV_PYTHON" -m pip install --disable-pip-version-check --quiet "$@" -r "$requirements" ||
        return 1
    # Files pulled in with -r are installed now too: stamp them so they are not reinstalled.
    while read -r file; do
        _venv_digest "$file" >"$(_venv_stamp "$file")"
    done < <(_venv_closure "$requirements")
}
