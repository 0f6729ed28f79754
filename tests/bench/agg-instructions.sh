#!/bin/bash
# Instructions the aggregation executes per record, counted by callgrind: a figure that does
# not move with the machine's load, unlike time on this VM, so a change to the hot path can be
# judged by it before it is timed. Runs ps-decode-bench --aggregate (v5, pool 2048, 2 simulated
# seconds at 1,000,000 records/s) under valgrind and prints the instructions inside the bench's
# flow callback (the copy into the batch and ps_aggregate_add_batch) per aggregated record.
# Extra arguments go to ps-decode-bench (e.g. --sources 1 --dst-ports 1 --destinations 1).
# usage: agg-instructions.sh BUILD [ps-decode-bench options...]
set -eu
B=$1; shift
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
RECORDS=2000000 # --sim-seconds 2 at the default --rate
valgrind --tool=callgrind --callgrind-out-file="$OUT" "$B/tests/bench/ps-decode-bench" \
  --aggregate --pool 2048 -V v5 --sim-seconds 2 "$@" >/dev/null 2>&1
callgrind_annotate --inclusive=yes "$OUT" 2>/dev/null | grep -m1 -E ':on_flow ' |
  awk -v n="$RECORDS" '{gsub(",", "", $1); printf "%.1f instructions per aggregated record\n", $1 / n}'
