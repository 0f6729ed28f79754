#!/bin/bash
# One end-to-end CPU measurement: portsurge-collector from BUILD pinned to CPU 1, ps-blast (and
# a private redis-server) on CPU 0, RATE records/s (default 1,000,000) of VERSION for DUR seconds
# (default 20) with --pool 16384 --live-times; prints records sent and received, the collector's
# CPU seconds (utime+stime from /proc, 0.5 s before the sender to 0.5 s after: no exit flush),
# CPU-seconds per million records and peak RSS; into Redis also redis-server's CPU seconds over
# the same time and its PFMERGE and HINCRBY calls (a DUR over 150 s includes bucket closes),
# the longest a single command kept redis-server from everyone else (LATENCY LATEST: a
# transaction's EXEC counts as one command), and how far the sender fell behind its schedule.
# Only ever sends to 127.0.0.1.
# usage: e2e-cpu.sh BUILD v5|v9|ipfix redis|decode PORT
# (COLLECTOR_ARGS: more options for the collector, e.g. "--receive-queue 1048576")
set -u
B=$1; V=$2; MODE=$3; PORT=$4
D=$(mktemp -d)
if [ "$MODE" = redis ]; then
  taskset -c 0 redis-server --port 0 --unixsocket "$D/r.sock" --save "" --appendonly no \
    --daemonize yes --dir "$D" --pidfile "$D/r.pid" --latency-monitor-threshold 1 >/dev/null
  sleep 0.3
  taskset -c 1 "$B/collector/portsurge-collector" --listen "127.0.0.1:$PORT" --stats \
    --redis "$D/r.sock" ${COLLECTOR_ARGS:-} 2>"$D/stats" & C=$!
else
  taskset -c 1 "$B/collector/portsurge-collector" --listen "127.0.0.1:$PORT" --stats \
    ${COLLECTOR_ARGS:-} 2>"$D/stats" & C=$!
fi
sleep 0.5; T0=$(awk '{print $14+$15}' /proc/$C/stat)
[ "$MODE" = redis ] && R0=$(awk '{print $14+$15}' /proc/$(cat "$D/r.pid")/stat)
taskset -c 0 "$B/tests/bench/ps-blast" --port "$PORT" --version "$V" --rate "${RATE:-1000000}" \
  --duration "${DUR:-20}" --pool 16384 --live-times > "$D/blast"
sleep 0.5; T1=$(awk '{print $14+$15}' /proc/$C/stat)
REDIS=""
if [ "$MODE" = redis ]; then
  R1=$(awk '{print $14+$15}' /proc/$(cat "$D/r.pid")/stat)
  CALLS=$(redis-cli -s "$D/r.sock" INFO commandstats | tr -d '\r' |
    awk -F'[:=,]' '/^cmdstat_(pfmerge|hincrby):/ {printf " %s=%s", substr($1, 9), $3}')
  LONGEST=$(redis-cli -s "$D/r.sock" LATENCY LATEST | tr -d '\r' |
    awk 'NR % 4 == 0 && $1 > m {m = $1} END {print m + 0}')
  REDIS=" redis_cpu_s=$(echo "scale=2; ($R1-$R0)/$(getconf CLK_TCK)" | bc)$CALLS"
  REDIS="$REDIS redis_longest_ms=$LONGEST"
fi
HWM=$(awk '/VmHWM/ {print $2}' /proc/$C/status)
kill $C; wait $C 2>/dev/null
SENT=$(grep -o '"records":[0-9]*' "$D/blast" | head -1 | cut -d: -f2)
RECV=$(grep -o '"records":[0-9]*' "$D/stats" | awk -F: '{s+=$2} END {print s}')
[ "$MODE" = redis ] && redis-cli -s "$D/r.sock" SHUTDOWN NOSAVE >/dev/null 2>&1
TICKS=$((T1-T0)); HZ=$(getconf CLK_TCK)
LATE=$(grep -o '"max_behind_ms":[0-9.]*' "$D/blast" | head -1 | cut -d: -f2)
echo "$B $V $MODE sent=$SENT recv=$RECV sender_late_ms=${LATE:-?}" \
  "cpu_s=$(echo "scale=3; $TICKS/$HZ" | bc)" \
  "cpu_s_per_M=$(echo "scale=4; $TICKS/$HZ/($RECV/1000000)" | bc) hwm_kB=$HWM$REDIS"
rm -rf "$D"
