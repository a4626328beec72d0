#!/usr/bin/env bash
# Disk-cap soak (issue #14): runs tests/it/disk_cap.rs for SECS seconds (default 900).
# It starts the real tracery binary with --max-disk-gib GIB (default 0.05) and the
# store's clock sped up SPEED times (default 15: an hour every 4 minutes, since the
# cap drops whole past hours and a 15-minute run would otherwise never see an hour
# turn), feeds it from four durable OTLP/gRPC exporters without pause (50-span
# traces, 256 random hex characters per span), samples `du -sk` of the data dir
# every 10 s, and checks that at least two hours were dropped (each logged) and that
# the directory did not grow in the second half. Prints the "disk-cap figures" line
# that docs/reliability.md quotes.
#
#   tests/soak/disk-cap.sh [SECS] [GIB] [SPEED] [extra cargo args, e.g. --release]
set -euo pipefail
cd "$(dirname "$0")/../.."
secs="${1:-900}"
gib="${2:-0.05}"
speed="${3:-15}"
shift 3 || shift $#
TRACERY_DISK_CAP_SECS="$secs" TRACERY_DISK_CAP_GIB="$gib" TRACERY_DISK_CAP_SPEED="$speed" \
TRACERY_DISK_CAP_SAMPLE_SECS=10 CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}" \
    cargo test "$@" --test it disk_cap::the_disk_cap_keeps_the_data_dir_flat_under_constant_load -- --nocapture \
    2>&1 | grep -E 'disk-cap figures|disk-cap du|test result|panicked'
