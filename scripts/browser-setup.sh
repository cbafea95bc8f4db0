#!/usr/bin/env bash
# Install headless Chromium and its driver (Debian packages) for the browser tests in
# tests/browser, when they are missing. Never downloads a browser build of its own.
# Without apt-get or root the tests decide: they fail in CI (CI=true) and skip elsewhere.
set -uo pipefail

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "browser-setup: no apt-get here; the browser tests cannot run" >&2
    exit 0
fi
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO=(sudo -n)
    else
        echo "browser-setup: not root; install chromium and chromium-driver to run the browser tests" >&2
        exit 0
    fi
fi
echo "browser-setup: installing chromium and chromium-driver"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq >/dev/null &&
    "${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null ||
    echo "browser-setup: the installation failed; the browser tests cannot run" >&2
exit 0
