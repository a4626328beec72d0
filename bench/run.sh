#!/usr/bin/env bash
# The one command for Tracery's end-to-end benchmark (issue 3):
#
#   bench/run.sh                      # full run: fills the store to 10M spans (~15 min)
#   bench/run.sh --store-spans 1M --duration 10s   # a quick look
#
# Builds the release binaries, runs tracery-bench against target/release/tracery
# (once with --storage discard, once with the sled store) and writes the Markdown
# report to docs/benchmark.md as well as printing it. Extra arguments go to
# tracery-bench; see `target/release/tracery-bench --help`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bins
target_dir="${CARGO_TARGET_DIR:-target}"
export TRACERY_BENCH_COMMAND="bench/run.sh${*:+ $*}"
exec "$target_dir/release/tracery-bench" \
  --tracery "$target_dir/release/tracery" \
  --out docs/benchmark.md \
  --work-dir "$target_dir/tracery-bench" \
  "$@"
