#!/usr/bin/env bash
# Quick start: builds portsurge (installing missing Debian packages) and runs it in the
# foreground: the collector on UDP 2055 (NetFlow) and 4739 (IPFIX), dual-stack, aggregating
# into Redis, and the alerter, which logs incidents (surges such as a scan wave on tcp/445). With PS_REDIS_URL unset, a private redis-server is started for it (data and
# socket in .run/, stopped again on exit). Extra arguments go to portsurge-collector, e.g.
# `contrib/run.sh --dump` to also see every record, `--home-network 10.0.0.0/8`.
set -euo pipefail
cd "$(dirname "$0")/.."

contrib/deps.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null

redis_url=${PS_REDIS_URL:-}
redis_pid=""
if [ -z "$redis_url" ]; then
  mkdir -p .run
  redis_url=$PWD/.run/redis.sock
  redis-server --port 0 --unixsocket "$redis_url" --unixsocketperm 700 --dir "$PWD/.run" \
    --appendonly yes --save "" --daemonize yes --pidfile "$PWD/.run/redis.pid" \
    --logfile "$PWD/.run/redis.log"
  redis_pid=$(cat .run/redis.pid 2>/dev/null || true)
  for _ in $(seq 50); do [ -S "$redis_url" ] && break; sleep 0.1; done
  redis_pid=$(cat .run/redis.pid 2>/dev/null || true)
  echo "portsurge: started redis-server on $redis_url (data in .run/)" >&2
fi

echo "portsurge: point your routers' NetFlow v5/v9 export at UDP port 2055 and IPFIX at 4739" \
     "of this host ($(hostname -I 2>/dev/null | awk '{print $1}')); query with" \
     "redis-cli -s $redis_url (see schema/redis.md)" >&2
cleanup() {
  trap - EXIT INT TERM
  kill -TERM "$collector" "$alerter" 2>/dev/null || true
  wait "$collector" "$alerter" 2>/dev/null || true # the collector writes its open buckets
  [ -z "$redis_pid" ] || kill "$redis_pid" 2>/dev/null || true
}
build/alerting/portsurge-alerter --redis "$redis_url" &
alerter=$!
build/collector/portsurge-collector --verbose --redis "$redis_url" "$@" &
collector=$!
trap cleanup EXIT INT TERM
wait "$collector"
