#!/usr/bin/env bash
# Crash-trial soak (issue #14): runs tests/it/crash.rs with many trials. Each trial
# starts the real tracery binary, drives durable OTLP/gRPC and OTLP/HTTP ingest from
# four exporters, kills the process with SIGKILL after a random 150-900 ms, restarts
# it on the same data dir, and checks that every acknowledged trace reads back whole
# and no unacknowledged trace is half visible; at the end every trace acknowledged in
# any trial is checked once more. Prints one line per trial and a summary.
#
#   tests/soak/crash-trials.sh [TRIALS] [extra cargo args, e.g. --release]
set -euo pipefail
cd "$(dirname "$0")/../.."
trials="${1:-100}"
shift || true
TRACERY_CRASH_TRIALS="$trials" CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}" \
    cargo test "$@" --test it crash::acknowledged_spans_survive_kill_9 -- --nocapture --test-threads 1 \
    2>&1 | grep -E '^crash trial|^crash trials|test result|panicked'
