#!/bin/bash
# Where a collector's CPU goes, user or kernel: nfcapd, portsurge-collector decoding only and
# ps-sink (the bare recvmmsg loop), one after the other, each pinned to CPU 1 while ps-blast on
# CPU 0 sends RATE records/s (default 2,000,000) of VERSION for DUR seconds (default 15).
# Prints utime and stime (from /proc/PID/stat, 1.5 s after the start to 0.5 s after the
# sender) and CPU-seconds per million records sent. nfcapd receives one datagram per system
# call and writes every flow to a file, the other two take a batch per call and write nothing;
# on the test VM nfcapd's kernel time grows with the gigabytes it has written, so compare the
# same DUR only (tests/bench/README.md, session 14). Only ever sends to 127.0.0.1.
# usage: kernel-share.sh BUILD v5|v9|ipfix PORT
set -u
B=$1; V=$2; PORT=$3
RATE=${RATE:-2000000}; DUR=${DUR:-15}
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
HZ=$(getconf CLK_TCK)

measure() { # NAME COMMAND...
  local name=$1; shift
  taskset -c 1 "$@" >"$D/$name.log" 2>&1 &
  local pid=$!
  sleep 1.5
  local before after sent
  before=$(awk '{print $14, $15}' "/proc/$pid/stat")
  sent=$(taskset -c 0 "$B/tests/bench/ps-blast" --port "$PORT" --version "$V" --rate "$RATE" \
    --duration "$DUR" --records 30 --pool 16384 --live-times | tail -1 |
    sed -n 's/.*"records":\([0-9]*\).*/\1/p')
  sleep 0.5
  after=$(awk '{print $14, $15}' "/proc/$pid/stat")
  kill -INT "$pid"; wait "$pid" 2>/dev/null
  echo "$before $after" | awk -v n="$name" -v hz="$HZ" -v sent="$sent" '{
    u = ($3 - $1) / hz; s = ($4 - $2) / hz
    printf "%-10s user %6.2f s  system %6.2f s  (%2.0f%% kernel)  %.3f CPU-s per million records sent\n",
           n, u, s, 100 * s / (u + s), (u + s) / sent * 1e6 }'
}

mkdir "$D/flows"
measure nfcapd nfcapd -b 127.0.0.1 -p "$PORT" -w "$D/flows" -t 3600 -B 4194304
rm -rf "$D/flows"
measure portsurge "$B/collector/portsurge-collector" --listen "127.0.0.1:$PORT" --rcvbuf 4194304
measure recvmmsg "$B/tests/bench/ps-sink" "$PORT" 30 4194304
