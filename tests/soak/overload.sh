#!/usr/bin/env bash
# Overload soak (issue #14): runs tests/it/overload.rs for SECS seconds (default 600)
# of 2x load, after WARMUP seconds of the same load (default 1200) whose RSS samples are
# reported but not judged: a fresh server's RSS rises while sled's cache and the
# allocator's arenas fill, for about the first ten minutes at this load
# (docs/reliability.md, "Overload soak figures"), so the judged window starts well after.
# It starts the real tracery binary slowed by --zstd-level 19 (4,000-span queue,
# 50 ms queue wait), measures the span rate it can write with 8 closed-loop OTLP/gRPC
# exporters, then offers twice that rate open loop (600-span traces; one export in
# four over OTLP/HTTP) while it samples the process's VmRSS every 5 s. Every export
# must be acknowledged (and then read back whole) or refused with UNAVAILABLE +
# RetryInfo / 429 + Retry-After; tracery_spans_rejected_total{reason="queue_full"}
# must count every refused span; ingest must accept again within 10 s of the load
# stopping; RSS must not grow in the second half of the measured SECS. Prints the
# "overload figures" line that docs/reliability.md quotes.
#
#   tests/soak/overload.sh [SECS] [extra cargo args, e.g. --release]
#   WARMUP=0 tests/soak/overload.sh 600      # no warm-up
set -euo pipefail
cd "$(dirname "$0")/../.."
secs="${1:-600}"
shift || true
TRACERY_OVERLOAD_SECS="$secs" TRACERY_OVERLOAD_WARMUP_SECS="${WARMUP:-1200}" CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}" \
    cargo test "$@" --test it overload::twice_the_write_rate_is_refused_retryably_with_flat_rss -- --nocapture \
    2>&1 | grep -E 'overload (figures|timeline)|test result|panicked'
