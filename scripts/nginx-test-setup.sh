#!/usr/bin/env bash
# Install nginx (Debian's nginx-light) for the NGINX site tests in tests/nodes, when missing:
# they check the generated site with `nginx -t` and run a real nginx in front of the server.
# Without apt-get or root the tests decide: they fail in CI (CI=true) and skip elsewhere.
set -uo pipefail

if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "nginx-test-setup: no apt-get here; the nginx tests cannot run" >&2
    exit 0
fi
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO=(sudo -n)
    else
        echo "nginx-test-setup: not root; install nginx-light to run the nginx tests" >&2
        exit 0
    fi
fi
echo "nginx-test-setup: installing nginx-light"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq >/dev/null &&
    "${SUDO[@]}" apt-get install -y -qq --no-install-recommends nginx-light >/dev/null ||
    echo "nginx-test-setup: the installation failed; the nginx tests cannot run" >&2
exit 0
