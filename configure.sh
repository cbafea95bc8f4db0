#!/usr/bin/env bash
# Change the role, port, update channel or features of a node installed with ./install.sh,
# and restart what runs on them. ./configure.sh --help lists every option; docs/lifecycle.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
cd "$ROOT"
# shellcheck source=scripts/_install.sh
. scripts/_install.sh
install_main configure "$@"
