#!/usr/bin/env bash
# Crash-trial soak (issue #14): runs tests/it/crash.rs with many trials. Each trial
# starts the real tracery binary, drives durable OTLP/gRPC and OTLP/HTTP ingest from
# four exporters, and kills the process with SIGKILL in one of five phases, in turn:
# ingest (150-900 ms in), hour rotation (0-400 ms after the store's clock turns an
# hour and opens the new block file), compaction (inside a merge or a hole punch),
# retention and the disk cap (inside the drop of an hour). It restarts the binary on
# the same data dir and checks that every acknowledged trace reads back whole (those
# in hours retention or the cap may have dropped: absent or whole), that no
# unacknowledged trace is half visible, and that the store opened in under 2 s; at
# the end every trace acknowledged in any trial is checked once more. The test hooks
# it uses (TRACERY_TEST_CLOCK_OFFSET_SECS, TRACERY_TEST_PAUSE_MS) are described in
# docs/reliability.md. Prints one line per trial and a summary line with the counts
# per phase.
#
#   tests/soak/crash-trials.sh [TRIALS] [extra cargo args, e.g. --release]
set -euo pipefail
cd "$(dirname "$0")/../.."
trials="${1:-100}"
shift || true
TRACERY_CRASH_TRIALS="$trials" CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}" \
    cargo test "$@" --test it crash::acknowledged_spans_survive_kill_9 -- --nocapture --test-threads 1 \
    2>&1 | grep -E 'crash trial|test result|panicked'
