#!/usr/bin/env bash
# Install this node: role, port, update channel, features, and (every role but Terminal) its
# systemd services and NGINX site. ./install.sh --help lists every option; docs/lifecycle.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
cd "$ROOT"
# shellcheck source=scripts/_install.sh
. scripts/_install.sh
install_main install "$@"
