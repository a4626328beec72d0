#!/usr/bin/env bash
# Bytes per span on disk: the embedded store against ClickHouse, for the same demo
# traffic (issue #18). Starts the given tracery binary twice on free 127.0.0.1
# ports (embedded, then --storage clickhouse on CLICKHOUSE_URL), sends
# `tracery demo --requests N --seed 7` to each, stops it by PID, and prints bytes
# per span. With chdb-core in tests/clickhouse/.venv it also copies the rows into
# chdb with the current profile's DDL (ZSTD codecs, skip indexes) and sizes them.
#
#   scripts/clickhouse-bytes-per-span.sh CLICKHOUSE_URL [TRACERY_BIN] [REQUESTS]
#   e.g. scripts/clickhouse-bytes-per-span.sh http://127.0.0.1:18123 target/release/tracery 3000
set -euo pipefail
cd "$(dirname "$0")/.."
url=${1:?CLICKHOUSE_URL}
bin=${2:-target/debug/tracery}
requests=${3:-3000}
work=$(mktemp -d)
database="bytes_per_span_$$"
trap 'rm -rf "$work"' EXIT

port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ch() { curl -sS --fail-with-body "$url/" --data-binary "$1"; }

# run NAME [tracery args…]: start, wait until ready, send the demo, stop.
run() {
  local name=$1; shift
  local grpc http query admin
  grpc=$(port); http=$(port); query=$(port); admin=$(port)
  "$bin" --data-dir "$work/$name" --otlp-grpc-addr "127.0.0.1:$grpc" --otlp-http-addr "127.0.0.1:$http" \
    --query-addr "127.0.0.1:$query" --admin-addr "127.0.0.1:$admin" \
    --jaeger-grpc-addr "" --jaeger-thrift-http-addr "" --jaeger-udp-compact-addr "" \
    --jaeger-udp-binary-addr "" --zipkin-addr "" --query-grpc-addr "" \
    --sampling-http-addr "" --sampling-grpc-addr "" "$@" >"$work/$name.log" 2>&1 &
  local pid=$!
  for _ in $(seq 150); do
    curl -sf "http://127.0.0.1:$admin/health/ready" >/dev/null 2>&1 && break
    sleep 0.2
  done
  "$bin" demo --endpoint "http://127.0.0.1:$grpc" --requests "$requests" --seed 7 --rate 100000 \
    >"$work/$name.demo.log" 2>&1
  kill "$pid"
  wait "$pid" || true
  grep -o 'spans=[0-9]*' "$work/$name.demo.log" | tail -1 | cut -d= -f2
}

spans=$(run embedded)
embedded_bytes=$(grep -o 'size_on_disk=[0-9]*' "$work/embedded.log" | tail -1 | cut -d= -f2)
echo "embedded:   $spans spans, $embedded_bytes B, $((embedded_bytes / spans)) B/span"

run clickhouse --storage clickhouse --clickhouse-url "$url" --clickhouse-database "$database" \
  --clickhouse-create-schema >/dev/null
for table in spans trace_spans; do ch "OPTIMIZE TABLE $database.$table FINAL"; done
read -r rows ch_bytes < <(ch "SELECT max(rows), sum(bytes) FROM (SELECT table, sum(rows) AS rows, sum(bytes_on_disk) AS bytes FROM system.parts WHERE database = '$database' AND active AND table IN ('spans', 'trace_spans') GROUP BY table) FORMAT TSV")
version=$(ch "SELECT version()")
echo "clickhouse: $rows spans, $ch_bytes B, $((ch_bytes / rows)) B/span (server $version)"

python=tests/clickhouse/.venv/bin/python
if [ -x "$python" ]; then
  "$python" - "$url" "$database" <<'PY'
import sys, tempfile, urllib.parse
from chdb import session
url, database = sys.argv[1], sys.argv[2]
def source(query, structure):
    quoted = urllib.parse.quote(f"{query} FORMAT TabSeparated")
    return f"url('{url}/?query={quoted}', 'TabSeparated', '{structure}')"
codec = "CODEC(Delta, ZSTD(1))"
with tempfile.TemporaryDirectory() as path:
    db = session.Session(path)
    db.query("CREATE DATABASE m")
    db.query(f"""CREATE TABLE m.spans (trace_id FixedString(16), span_id FixedString(8),
      parent_span_id FixedString(8), service LowCardinality(String), operation LowCardinality(String),
      kind UInt8, start_unix_nanos UInt64 {codec}, start_time DateTime {codec},
      duration_nanos UInt64 CODEC(ZSTD(1)), terms Array(String) CODEC(ZSTD(3)), ingest_time DateTime {codec},
      INDEX trace_id_idx trace_id TYPE bloom_filter(0.01) GRANULARITY 4,
      INDEX terms_idx terms TYPE bloom_filter(0.01) GRANULARITY 4)
      ENGINE = MergeTree() PARTITION BY toDate(start_time) ORDER BY (service, operation, start_unix_nanos)""")
    db.query(f"""CREATE TABLE m.trace_spans (trace_id FixedString(16), start_unix_nanos UInt64 {codec},
      start_time DateTime {codec}, span String CODEC(ZSTD(3)), ingest_time DateTime {codec})
      ENGINE = MergeTree() PARTITION BY toDate(start_time) ORDER BY (trace_id, start_unix_nanos)""")
    db.query("INSERT INTO m.spans SELECT * FROM " + source(f"SELECT * FROM {database}.spans",
        "trace_id FixedString(16), span_id FixedString(8), parent_span_id FixedString(8), service String, "
        "operation String, kind UInt8, start_unix_nanos UInt64, start_time DateTime, duration_nanos UInt64, "
        "terms Array(String), ingest_time DateTime"))
    db.query("INSERT INTO m.trace_spans SELECT * FROM " + source(f"SELECT * FROM {database}.trace_spans",
        "trace_id FixedString(16), start_unix_nanos UInt64, start_time DateTime, span String, ingest_time DateTime"))
    for table in ("spans", "trace_spans"):
        db.query(f"OPTIMIZE TABLE m.{table} FINAL")
    rows, size = db.query("SELECT max(rows), sum(bytes) FROM (SELECT table, sum(rows) AS rows, "
        "sum(bytes_on_disk) AS bytes FROM system.parts WHERE database = 'm' AND active GROUP BY table)",
        "TSV").data().split()
    print(f"current:    {rows} spans, {size} B, {int(size) // int(rows)} B/span (chdb, current profile DDL)")
PY
fi
ch "DROP DATABASE $database"
