#!/usr/bin/env bash
# Quick start: builds portsurge (installing missing Debian packages) and runs it in the
# foreground with contrib/portsurge.conf (PS_CONFIG names another file): the collector on UDP
# 2055 (NetFlow) and 4739 (IPFIX), dual-stack, aggregating into Redis, and the alerter, whose
# "console" receiver prints every alert message to the log. With PS_REDIS_URL unset, a private
# redis-server is started (data and socket in .run/, stopped again on exit).
#
#   contrib/run.sh            run; extra arguments go to portsurge-collector (--dump, ...)
#   contrib/run.sh --demo     the same on a fresh demo Redis (.run/demo/) holding 8 days of
#                             history, then a scan wave on tcp/445 sent as NetFlow v5: an
#                             incident appears in the log and in `portsurge top` within a minute
set -euo pipefail
cd "$(dirname "$0")/.."

demo=false
if [ "${1:-}" = "--demo" ]; then demo=true; shift; fi
config=${PS_CONFIG:-contrib/portsurge.conf}
run_dir=$PWD/.run
$demo && run_dir=$PWD/.run/demo

contrib/deps.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null

start_redis() {
  $demo && rm -rf "$run_dir"
  mkdir -p "$run_dir"
  redis_url=$run_dir/redis.sock
  redis-server --port 0 --unixsocket "$redis_url" --unixsocketperm 700 --dir "$run_dir" \
    --appendonly yes --save "" --daemonize yes --pidfile "$run_dir/redis.pid" \
    --logfile "$run_dir/redis.log"
  for _ in $(seq 50); do [ -S "$redis_url" ] && break; sleep 0.1; done
  redis_pid=$(cat "$run_dir/redis.pid" 2>/dev/null || true)
  echo "portsurge: started redis-server on $redis_url (data in ${run_dir#"$PWD"/})" >&2
}

# 8 days of ordinary history up to 3 minutes ago; the alerter starts from there
seed_demo_history() {
  local now_minute=$(( $(date +%s) / 60 * 60 ))
  local end=$(( now_minute - 180 ))
  build/tests/tools/ps-seed --redis "$redis_url" --end "$end" --days 8 \
    --ports tcp/445,tcp/443,udp/53,tcp/22,tcp/3389 >/dev/null
  redis-cli -s "$redis_url" HSET ps:alerter last_bucket $(( end - 60 )) >/dev/null
  echo "portsurge: demo history written (8 days of 5 ports, up to $(date -u -d @"$end" +%H:%MZ))" >&2
}

# the wave, once the collector listens; then show what the operator would look at
play_demo_wave() {
  sleep 2
  build/tests/tools/ps-demo-wave --port 2055 --minutes 3 >&2
  for _ in $(seq 60); do
    [ "$(redis-cli -s "$redis_url" XLEN ps:alerts)" -gt 0 ] && break
    sleep 1
  done
  echo "portsurge: the incident as the CLI sees it:" >&2
  build/alerting/cli/portsurge top --redis "$redis_url" --window 5m --limit 5 >&2 || true
  build/alerting/cli/portsurge alerts --redis "$redis_url" --since 1h >&2 || true
}

redis_url=${PS_REDIS_URL:-}
redis_pid=""
$demo && [ -n "$redis_url" ] && { echo "portsurge: --demo uses its own Redis; unset PS_REDIS_URL" >&2; exit 2; }
[ -n "$redis_url" ] || start_redis
collector_options=() alerter_options=()
if $demo; then
  seed_demo_history
  collector_options=(--grace 5 --flush-interval 2) # close the wave's minutes at once
  alerter_options=(--interval 2)
fi

echo "portsurge: point your routers' NetFlow v5/v9 export at UDP port 2055 and IPFIX at 4739" \
     "of this host ($(hostname -I 2>/dev/null | awk '{print $1}')); see \"Point your routers" \
     "at it\" in README.md; query with build/alerting/cli/portsurge top --redis $redis_url" >&2
cleanup() {
  trap - EXIT INT TERM
  kill -TERM "$collector" "$alerter" 2>/dev/null || true
  wait "$collector" "$alerter" 2>/dev/null || true # the collector writes its open buckets
  [ -z "$redis_pid" ] || kill "$redis_pid" 2>/dev/null || true
}
build/alerting/portsurge-alerter --config "$config" --redis "$redis_url" "${alerter_options[@]}" &
alerter=$!
build/collector/portsurge-collector --config "$config" --redis "$redis_url" \
  "${collector_options[@]}" "$@" &
collector=$!
trap cleanup EXIT INT TERM
if $demo; then play_demo_wave; fi
wait "$collector"
