#!/usr/bin/env bash
# Install the Debian packages some tests drive, when missing: headless Chromium and its driver
# (tests/browser) and nginx (tests/nodes/test_nginx_site.py: `nginx -t` and a real nginx in
# front of the server) and gettext (tests/core/test_translations.py: makemessages). Never
# downloads a build of its own.
# Without apt-get or root the tests decide: they fail in CI (CI=true) and skip elsewhere.
set -uo pipefail

# program → package
declare -A NEEDED=(
    [/usr/bin/chromium]=chromium
    [/usr/bin/chromedriver]=chromium-driver
    [/usr/sbin/nginx]=nginx-light
    [/usr/bin/xgettext]=gettext
)
missing=()
for program in "${!NEEDED[@]}"; do
    [ -x "$program" ] || missing+=("${NEEDED[$program]}")
done
[ ${#missing[@]} -gt 0 ] || exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "test-packages: no apt-get here; tests needing ${missing[*]} cannot run" >&2
    exit 0
fi
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO=(sudo -n)
    else
        echo "test-packages: not root; install ${missing[*]} to run the tests that need them" >&2
        exit 0
    fi
fi
echo "test-packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Another apt may hold the lock for a while (unattended upgrades): wait for it.
"${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null &&
    "${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null ||
    echo "test-packages: the installation failed; tests needing ${missing[*]} cannot run" >&2
exit 0
