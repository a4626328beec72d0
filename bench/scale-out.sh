#!/usr/bin/env bash
# The figures of docs/scale-out.md, in one run: the same tracery-bench workload
# (ingest over OTLP/gRPC and OTLP/HTTP, the store filled, get-trace and find-traces
# latencies, every acknowledged span counted back) against the embedded store and then
# against ClickHouse, plus bytes per span on disk for both.
#
#   bench/scale-out.sh                 # one ClickHouse server (plain MergeTree tables)
#   bench/scale-out.sh --cluster       # the 2-shard x 2-replica cluster (Replicated + Distributed)
#   bench/scale-out.sh [--cluster] -- TRACERY-BENCH-ARGS...   # instead of the defaults below
#   TRACERY=target/debug/tracery bench/scale-out.sh     # that server binary, no release build
#
# ClickHouse is Debian's 18.16 (what these machines can install, so Tracery runs its
# compat profile: no codecs, no skip indexes), started by scripts/clickhouse-cluster.sh
# under target/scale-out and stopped at the end. tracery-bench starts its servers with
# `--storage sled`; for the ClickHouse run it is given a wrapper as its tracery binary
# that swaps that flag for the ClickHouse ones and execs the real binary (same PID, so
# the CPU and memory figures are the server's own). B/span on ClickHouse is
# sum(bytes_on_disk) of the active parts of the database over the spans stored,
# counting every replica's copy and also per copy.
#
# Writes target/scale-out/{embedded,clickhouse,summary}.md and prints the summary.
set -euo pipefail
cd "$(dirname "$0")/.."

cluster=0
bench_args=(--servers sled --protocols grpc,http-protobuf --exporters 8
  --store-spans 500k --big-store-spans 0 --duration 10s --warmup 3s
  --query-samples 200 --query-budget 15s --freshness-interval 1s)
while [ $# -gt 0 ]; do
  case "$1" in
    --cluster) cluster=1; shift ;;
    --) shift; bench_args=("$@"); break ;;
    *) echo "unknown argument $1 (tracery-bench arguments go after --)" >&2; exit 2 ;;
  esac
done

target_dir="${CARGO_TARGET_DIR:-target}"
bench="$target_dir/release/tracery-bench"
if [ -n "${TRACERY:-}" ]; then
  # TRACERY=target/debug/tracery: no release build of the server (it takes long);
  # both sides run the same binary, so the comparison holds, the absolute figures don't.
  tracery=$(realpath "$TRACERY")
  [ -x "$bench" ] || nice -n 5 cargo build --release -p tracery-bench
else
  nice -n 5 cargo build --release -p tracery -p tracery-bench
  tracery="$(cd "$target_dir/release" && pwd)/tracery"
fi
work="$target_dir/scale-out"
rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)

database=tracery_bench
if [ "$cluster" = 1 ]; then
  bash scripts/clickhouse-cluster.sh start "$work/clickhouse"
  cluster_args="--clickhouse-cluster tracery"
  layout="ClickHouse 18.16, 2 shards x 2 replicas + ZooKeeper (ReplicatedMergeTree behind Distributed)"
else
  bash scripts/clickhouse-cluster.sh start "$work/clickhouse" --shards 1 --replicas 1
  cluster_args=""
  layout="ClickHouse 18.16, one server (MergeTree)"
fi
trap 'bash scripts/clickhouse-cluster.sh stop "$work/clickhouse" >/dev/null' EXIT
# shellcheck disable=SC1091
source "$work/clickhouse/cluster.env"
first=${NODES%% *}
first_http_var="${first}_HTTP"
clickhouse_url="http://127.0.0.1:${!first_http_var}"

cat >"$work/tracery-on-clickhouse" <<EOF
#!/usr/bin/env bash
# Written by bench/scale-out.sh: tracery-bench's server, with ClickHouse for sled.
args=()
while [ \$# -gt 0 ]; do
  if [ "\$1" = --storage ] && [ "\${2:-}" = sled ]; then
    args+=(--storage clickhouse --clickhouse-url $clickhouse_url
      --clickhouse-database $database --clickhouse-create-schema $cluster_args)
    shift 2
  else
    args+=("\$1")
    shift
  fi
done
exec "$tracery" "\${args[@]}"
EOF
chmod +x "$work/tracery-on-clickhouse"

echo "== embedded store: tracery-bench ${bench_args[*]}"
TRACERY_BENCH_COMMAND="bench/scale-out.sh (embedded)" "$bench" --tracery "$tracery" \
  --out "$work/embedded.md" --work-dir "$work/bench" "${bench_args[@]}" >/dev/null
echo "== $layout: tracery-bench ${bench_args[*]}"
TRACERY_BENCH_COMMAND="bench/scale-out.sh (clickhouse)" "$bench" --tracery "$work/tracery-on-clickhouse" \
  --out "$work/clickhouse.md" --work-dir "$work/bench" "${bench_args[@]}" >/dev/null

# Bytes on disk: active parts of every table of the database, on every server.
query() { # SERVER SQL
  local tcp_var="${1}_TCP"
  clickhouse-client --host 127.0.0.1 --port "${!tcp_var}" --query "$2"
}
clickhouse_bytes=0
for server in $NODES; do
  # Parts still being merged count once they are active; wait for merges to settle
  # so the figure is the steady one, not the pre-merge peak.
  for _ in $(seq 1 60); do
    [ "$(query "$server" "SELECT count() FROM system.merges WHERE database = '$database'")" = 0 ] && break
    sleep 1
  done
  bytes=$(query "$server" "SELECT sum(bytes_on_disk) FROM system.parts WHERE active AND database = '$database'")
  clickhouse_bytes=$((clickhouse_bytes + bytes))
done
spans_table=spans
clickhouse_spans=$(query "$first" "SELECT count() FROM $database.$spans_table")
replicas=${REPLICAS:-1}

# One line of a report table, by its first cells.
row() { # FILE PREFIX
  grep -F -m1 "$2" "$1" || echo "(not in $1)"
}
cell() { # FILE PREFIX COLUMN(1-based, after the leading |)
  row "$1" "$2" | awk -F'|' -v column="$3" '{ gsub(/^ +| +$/, "", $(column + 1)); print $(column + 1) }'
}
embedded_disk=$(cell "$work/embedded.md" "| disk, allocated, filters and indexes included: store filled" 3)
per_copy=$(echo "scale=1; $clickhouse_bytes / $replicas / $clickhouse_spans" | bc)
all_copies=$(echo "scale=1; $clickhouse_bytes / $clickhouse_spans" | bc)

{
  echo "# Embedded store against ClickHouse, one run"
  echo
  echo "Produced by \`bench/scale-out.sh$([ "$cluster" = 1 ] && echo ' --cluster')\` on $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short=12 HEAD)."
  echo "Workload: \`tracery-bench ${bench_args[*]}\`; ClickHouse: $layout; server binary: ${TRACERY:-release build}."
  echo
  echo "| figure | embedded (sled + segments) | ClickHouse |"
  echo "|---|---|---|"
  for protocol in "OTLP/gRPC" "OTLP/HTTP protobuf"; do
    prefix="| sled | $protocol | "
    echo "| ingest, $protocol, durable acks: spans/s (export p50 / p99) | $(cell "$work/embedded.md" "$prefix" 5) ($(cell "$work/embedded.md" "$prefix" 10)) | $(cell "$work/clickhouse.md" "$prefix" 5) ($(cell "$work/clickhouse.md" "$prefix" 10)) |"
    echo "| ingest, $protocol: spans per server CPU-second (Tracery only) | $(cell "$work/embedded.md" "$prefix" 7) | $(cell "$work/clickhouse.md" "$prefix" 7) |"
  done
  echo "| get-trace p99 | $(cell "$work/embedded.md" "| get-trace" 3) | $(cell "$work/clickhouse.md" "| get-trace" 3) |"
  echo "| find-traces (service + operation + time window) p99 | $(cell "$work/embedded.md" "| find-traces, service + operation" 3) | $(cell "$work/clickhouse.md" "| find-traces, service + operation" 3) |"
  echo "| find-traces with a tag filter p99 | $(cell "$work/embedded.md" "| find-traces with a tag filter" 3) | $(cell "$work/clickhouse.md" "| find-traces with a tag filter" 3) |"
  echo "| ack → queryable | $(cell "$work/embedded.md" "| ack → queryable" 3) | $(cell "$work/clickhouse.md" "| ack → queryable" 3) |"
  echo "| disk per span | $embedded_disk | $per_copy B/span per copy ($all_copies B/span over all $replicas replica(s); $clickhouse_bytes B of active parts, $clickhouse_spans spans) |"
  echo "| acknowledged spans counted back | $(cell "$work/embedded.md" "| acknowledged spans counted back" 3) | $(cell "$work/clickhouse.md" "| acknowledged spans counted back" 3) |"
} >"$work/summary.md"
cat "$work/summary.md"
echo
echo "full reports: $work/embedded.md, $work/clickhouse.md"
