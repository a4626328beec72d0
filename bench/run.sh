#!/usr/bin/env bash
# The one command for Tracery's end-to-end benchmark (issues 3, 10, 12, 15 and 16):
#
#   bench/run.sh                      # full run: 10M then 50M spans (~40 min)
#   bench/run.sh --store-spans 1M --big-store-spans 0 --duration 10s   # a quick look
#   bench/run.sh --compare-server-arg=--red-metrics=false   # plus RED metrics on vs off
#
# Builds the release binaries (tracery and the tracery-bench crate in bench/),
# installs rotel (PyPI `rotel`, the reference OTLP collector with a null sink)
# into a virtualenv under the target directory if it isn't there yet, runs
# tracery-bench against target/release/tracery and writes the Markdown report to
# docs/benchmark.md as well as printing it. Extra arguments go to tracery-bench;
# see `target/release/tracery-bench --help`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p tracery -p tracery-bench
target_dir="${CARGO_TARGET_DIR:-target}"
venv="$target_dir/rotel-venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import rotel' 2>/dev/null; then
  "$venv/bin/pip" install --quiet 'rotel==0.0.1a15'
fi
rotel_agent="$("$venv/bin/python" -c 'import os, rotel; print(os.path.join(os.path.dirname(rotel.__file__), "rotel-agent"))')"
export TRACERY_BENCH_COMMAND="bench/run.sh${*:+ $*}"
exec "$target_dir/release/tracery-bench" \
  --tracery "$target_dir/release/tracery" \
  --rotel "$rotel_agent" \
  --out docs/benchmark.md \
  --work-dir "$target_dir/tracery-bench" \
  "$@"
