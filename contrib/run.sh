#!/usr/bin/env bash
# Quick start: builds portsurge (installing missing Debian packages) and runs it in the
# foreground: the collector on UDP 2055 (NetFlow) and 4739 (IPFIX), dual-stack.
# Extra arguments go to portsurge-collector, e.g. `contrib/run.sh --dump` to see every record.
set -euo pipefail
cd "$(dirname "$0")/.."

contrib/deps.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null

echo "portsurge: point your routers' NetFlow v5/v9 export at UDP port 2055 and IPFIX at 4739" \
     "of this host ($(hostname -I 2>/dev/null | awk '{print $1}'))" >&2
exec build/collector/portsurge-collector --verbose "$@"
