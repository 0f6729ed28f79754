#!/bin/sh
# Runs one libFuzzer target for PS_FUZZ_SECONDS (default 30) over a scratch copy of its seed
# corpus, so that the inputs it finds never land in the source tree. Crash, leak and timeout
# reproducers are kept in PS_FUZZ_ARTIFACTS (default: the build dir's fuzz-artifacts/).
# Usage: run-libfuzzer.sh FUZZ-BINARY CORPUS-DIR [libFuzzer options...]
set -eu
target=$1
corpus=$2
shift 2
seconds=${PS_FUZZ_SECONDS:-30}
artifacts=${PS_FUZZ_ARTIFACTS:-$(dirname "$target")/fuzz-artifacts}
scratch=$(mktemp -d "${TMPDIR:-/tmp}/portsurge-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT INT TERM
cp "$corpus"/* "$scratch"/
mkdir -p "$artifacts"
# libFuzzer exits 77 on a crash by default, which meson reads as "skipped": make it a failure
"$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -error_exitcode=1 -timeout_exitcode=1 \
  -artifact_prefix="$artifacts/$(basename "$target")-" "$@" "$scratch"
