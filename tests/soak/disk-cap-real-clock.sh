#!/usr/bin/env bash
# Disk-cap soak under the real clock (issue #14): runs tests/it/disk_cap.rs's
# a_cap_below_one_hour_of_data_holds_with_the_real_clock for SECS seconds (default
# 3600) with --max-disk-gib GIB (default 0.05), four durable OTLP/gRPC exporters
# each pausing PAUSE_MS (default 10) between 50-span requests, and `du -sk` of the
# data dir sampled every 10 s. No hour turns early, so the cap (far below what an
# hour of this load writes) holds only by dropping the oldest blocks of the hour
# being written. Prints the "disk-cap real-clock figures" line that
# docs/reliability.md quotes.
#
#   tests/soak/disk-cap-real-clock.sh [SECS] [GIB] [PAUSE_MS] [extra cargo args, e.g. --release]
set -euo pipefail
cd "$(dirname "$0")/../.."
secs="${1:-3600}"
gib="${2:-0.05}"
pause_ms="${3:-10}"
shift 3 || shift $#
TRACERY_DISK_CAP_REAL_SECS="$secs" TRACERY_DISK_CAP_REAL_GIB="$gib" \
TRACERY_DISK_CAP_REAL_PAUSE_MS="$pause_ms" TRACERY_DISK_CAP_SAMPLE_SECS=10 \
CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}" \
    cargo test "$@" --test it disk_cap::a_cap_below_one_hour_of_data_holds_with_the_real_clock -- --nocapture \
    2>&1 | grep -E 'disk-cap real-clock figures|test result|panicked'
