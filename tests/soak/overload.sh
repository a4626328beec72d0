#!/usr/bin/env bash
# Overload soak (issue #14): runs tests/it/overload.rs for SECS seconds (default 600):
# 16 OTLP/gRPC exporters of 600-span traces against a server slowed by zstd level 19
# and a 4,000-span queue. Every export must be acknowledged and then read back whole,
# or refused with UNAVAILABLE + RetryInfo; ingest must accept again after the load.
# Prints the acknowledged and refused counts. (RSS is not sampled yet: the server
# runs in the test's process.)
#
#   tests/soak/overload.sh [SECS] [extra cargo args, e.g. --release]
set -euo pipefail
cd "$(dirname "$0")/../.."
secs="${1:-600}"
shift || true
TRACERY_OVERLOAD_SECS="$secs" CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}" \
    cargo test "$@" --test it overload::overload_is_refused_retryably_and_every_ack_is_stored -- --nocapture \
    2>&1 | grep -E '^overload|test result|panicked'
