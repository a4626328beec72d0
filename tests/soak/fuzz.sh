#!/usr/bin/env bash
# Fuzz soak (issue #14): runs every cargo-fuzz target in fuzz/ for SECS_PER_TARGET
# seconds (default 3600), one after another, and prints the executions and the
# crashes (panics), timeouts (> 10 s) and out-of-memory inputs (> 2 GiB) of each.
# Unlike .ci/fuzz it does not stop at the first crash: libFuzzer's fork mode keeps
# going and counts them; the inputs land in fuzz/artifacts/<target>/. The corpus
# grows in fuzz/corpus-run/<target>/ (ignored by git), so later runs start further.
#
#   tests/soak/fuzz.sh [SECS_PER_TARGET] [TARGET...]
# Stable Rust, no sanitizer (see .ci/fuzz). Run it at `nice -n 10` on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/../../fuzz"

secs="${1:-3600}"
shift || true
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install --locked cargo-fuzz
fi
if [ $# -eq 0 ]; then
  set -- $(cargo fuzz list)
fi
cargo fuzz build --sanitizer none 2>&1 | tail -n 1
# The built binaries are run directly, so editing the sources during a soak does
# not make `cargo fuzz run` rebuild in the middle of it.
bin_dir="target/$(rustc -vV | sed -n 's/^host: //p')/release"

printf '%-14s %8s %14s %8s %8s %6s %10s\n' target seconds executions crashes timeouts ooms corpus
total_crashes=0
for target in "$@"; do
  mkdir -p "corpus-run/$target" "artifacts/$target"
  log="logs-$target.txt"
  started=$SECONDS
  # fork=1: one child at a time (two cores shared); a crash, timeout or OOM ends
  # the child, is counted and written out, and the next child goes on.
  "$bin_dir/$target" -artifact_prefix="artifacts/$target/" \
    -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    "corpus-run/$target" "corpus/$target" >"$log" 2>&1 || true
  # Fork mode's status lines: "#EXECS: cov: … oom/timeout/crash: O/T/C time: …".
  last=$(grep -E '^#[0-9]+: cov:' "$log" | tail -n 1)
  execs=$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$last")
  read -r ooms timeouts crashes < <(sed -E 's#.*oom/timeout/crash: ([0-9]+)/([0-9]+)/([0-9]+).*#\1 \2 \3#' <<<"$last")
  corpus=$(ls "corpus-run/$target" | wc -l)
  printf '%-14s %8s %14s %8s %8s %6s %10s\n' "$target" "$((SECONDS - started))" "${execs:-?}" \
    "${crashes:-?}" "${timeouts:-?}" "${ooms:-?}" "$corpus"
  total_crashes=$((total_crashes + ${crashes:-0} + ${timeouts:-0} + ${ooms:-0}))
done
echo "fuzz soak: $total_crashes crashes, timeouts and OOMs in total; inputs in fuzz/artifacts/, logs in fuzz/logs-*.txt"
