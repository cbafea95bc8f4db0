#!/usr/bin/env bash
# The one test command: prepare .venv (requirements-dev.txt), lint, check formatting, check the
# apps' import contracts, run pytest.
# Arguments go to pytest, e.g. scripts/test.sh tests/core -k healthz
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"

# shellcheck source=scripts/_venv.sh
. scripts/_venv.sh
venv_ensure requirements-dev.txt
# The MFRC522 library without its Raspberry-Pi-only dependencies (tests/hardware fakes them).
venv_ensure requirements-test-pi.txt --no-deps

failed=()

echo "== ruff check"
"$VENV_PYTHON" -m ruff check . || failed+=("ruff check")

echo "== ruff format --check"
"$VENV_PYTHON" -m ruff format --check . || failed+=("ruff format --check")

echo "== lint-imports (the apps' one-way order, docs/architecture.md)"
"$VENV_DIR/bin/lint-imports" || failed+=("lint-imports")

scripts/test-packages.sh  # Chromium for tests/browser and nginx for the NGINX site tests, when missing
echo "== pytest $*"
status=0
"$VENV_PYTHON" -m pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: that is a failure here" >&2
fi
[ "$status" -eq 0 ] || failed+=("pytest (exit $status)")

if [ ${#failed[@]} -gt 0 ]; then
    printf -v joined '%s, ' "${failed[@]}"
    echo "FAILED: ${joined%, }" >&2
    exit 1
fi
echo "all passed"
