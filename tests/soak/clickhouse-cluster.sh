#!/usr/bin/env bash
# The deployment of docker-compose.scale-out.yml, natively on this machine and with
# failures: the 2-shard x 2-replica ClickHouse cluster of scripts/clickhouse-cluster.sh,
# two tracery nodes on it (node 1 on server s1r1, node 2 on s2r2) and HAProxy running
# deploy/scale-out/haproxy.cfg itself (only its host names and ports rewritten to the
# local ones). `tracery demo` exports through HAProxy for SECONDS; after a third of
# them tracery node 1 is killed with SIGKILL, after two thirds ClickHouse replica s2r1.
#
#   tests/soak/clickhouse-cluster.sh [SECONDS]      (default 60)
#
# Passes when spans keep arriving in ClickHouse after each kill, HAProxy has taken the
# dead node out, and queries through HAProxy still find the demo's services and traces.
# Prints spans per second in ClickHouse over time and the demo's failed exports (the
# demo does not retry; an SDK would). Needs haproxy (`apt-get install haproxy`) besides
# what .ci/setup-clickhouse installs; builds the release binary unless TRACERY names one.
# Retention is off (RETENTION_HOURS=72 turns it on): on 18.16 the compat profile's
# `ALTER TABLE … DELETE ON CLUSTER` mutations crashed three of the four servers
# (segfault in ReplicatedMergeTreeQueue::tryFinalizeMutations) in the first run.
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${1:-60}
if [ -n "${TRACERY:-}" ]; then
  tracery=$(realpath "$TRACERY")  # e.g. TRACERY=target/debug/tracery: no release build
else
  nice -n 5 cargo build --release --bin tracery
  tracery="$(pwd)/${CARGO_TARGET_DIR:-target}/release/tracery"
fi
command -v haproxy >/dev/null || { echo "needs haproxy: apt-get install haproxy" >&2; exit 1; }

work=$(mktemp -d /tmp/tracery-scale-out.XXXXXX)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  bash scripts/clickhouse-cluster.sh stop "$work/clickhouse" >/dev/null || true
  echo "logs and data kept in $work"
}
trap cleanup EXIT

bash scripts/clickhouse-cluster.sh start "$work/clickhouse"
# shellcheck disable=SC1091
source "$work/clickhouse/cluster.env"

read -r -a ports <<<"$(python3 -c '
import socket
sockets = [socket.socket() for _ in range(13)]
for s in sockets: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in sockets))')"
declare -A port
i=0
for name in 1_grpc 1_http 1_query 1_admin 2_grpc 2_http 2_query 2_admin \
  lb_grpc lb_http lb_query lb_query_grpc lb_stats; do
  port[$name]=${ports[$i]}
  i=$((i + 1))
done

start_node() { # N CLICKHOUSE_HTTP_PORT
  "$tracery" --storage clickhouse --clickhouse-url "http://127.0.0.1:$2" \
    --clickhouse-database tracery --clickhouse-cluster tracery --clickhouse-create-schema \
    --otlp-grpc-addr "127.0.0.1:${port[$1_grpc]}" --otlp-http-addr "127.0.0.1:${port[$1_http]}" \
    --query-addr "127.0.0.1:${port[$1_query]}" --admin-addr "127.0.0.1:${port[$1_admin]}" \
    --query-grpc-addr "" --jaeger-grpc-addr "" --jaeger-thrift-http-addr "" \
    --jaeger-udp-compact-addr "" --jaeger-udp-binary-addr "" --zipkin-addr "" \
    --sampling-http-addr "" --sampling-grpc-addr "" --retention-hours "${RETENTION_HOURS:-0}" \
    </dev/null >"$work/tracery-$1.log" 2>&1 &
  pids+=($!)
  eval "node_$1_pid=$!"
}
start_node 1 "$s1r1_HTTP"
start_node 2 "$s2r2_HTTP"
for n in 1 2; do
  for _ in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:${port[${n}_admin]}/health/ready" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fsS "http://127.0.0.1:${port[${n}_admin]}/health/ready" >/dev/null \
    || { tail -20 "$work/tracery-$n.log"; exit 1; }
done
echo "tracery nodes ready: 1 on s1r1, 2 on s2r2"

# deploy/scale-out/haproxy.cfg with local addresses: the bind ports, the server
# addresses, and each server's own check port (the admin port).
python3 - "$work/haproxy.cfg" <<PY
import re, sys
text = open("deploy/scale-out/haproxy.cfg").read()
binds = {"4317": ${port[lb_grpc]}, "4318": ${port[lb_http]}, "16686": ${port[lb_query]},
         "16685": ${port[lb_query_grpc]}, "8404": ${port[lb_stats]}}
for container, local in binds.items():
    text = text.replace(f"bind :{container}", f"bind 127.0.0.1:{local}")
nodes = {"1": {"4317": ${port[1_grpc]}, "4318": ${port[1_http]}, "16686": ${port[1_query]}, "16685": 0, "admin": ${port[1_admin]}},
         "2": {"4317": ${port[2_grpc]}, "4318": ${port[2_http]}, "16686": ${port[2_query]}, "16685": 0, "admin": ${port[2_admin]}}}
def server(match):
    node, container = match.group(1), match.group(2)
    local = nodes[node][container]
    if local == 0:  # the gRPC query API is off here
        return f"server tracery-{node} 127.0.0.1:1 disabled"
    return f"server tracery-{node} 127.0.0.1:{local} port {nodes[node]['admin']}"
text = re.sub(r"server tracery-(\d) tracery-\d:(\d+)", server, text)
open(sys.argv[1], "w").write(text)
PY
haproxy -c -q -f "$work/haproxy.cfg"
haproxy -db -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
haproxy_pid=$!
pids+=($haproxy_pid)
lb_query="http://127.0.0.1:${port[lb_query]}"
for _ in $(seq 1 100); do
  curl -fsS "$lb_query/api/services" >/dev/null 2>&1 && break
  kill -0 "$haproxy_pid" 2>/dev/null || { cat "$work/haproxy.log" >&2; exit 1; }
  sleep 0.1
done
curl -fsS "$lb_query/api/services" >/dev/null || { cat "$work/haproxy.log" >&2; exit 1; }
echo "HAProxy (deploy/scale-out/haproxy.cfg) answers on 127.0.0.1:${port[lb_query]}"

spans_stored() {
  clickhouse-client --host 127.0.0.1 --port "$s1r2_TCP" --query "SELECT count() FROM tracery.spans"
}
backend_state() { # BACKEND SERVER
  curl -fsS "http://127.0.0.1:${port[lb_stats]}/;csv" | awk -F, -v b="$1" -v s="$2" '$1 == b && $2 == s { print $18 }'
}

echo "== tracery demo through HAProxy (OTLP/gRPC on :${port[lb_grpc]}) for ${seconds}s"
"$tracery" demo --endpoint "http://127.0.0.1:${port[lb_grpc]}" --rate 100 --duration "${seconds}s" \
  </dev/null >"$work/demo.log" 2>&1 &
demo_pid=$!
pids+=($demo_pid)

started=$(date +%s)
third=$((seconds / 3))
previous=$(spans_stored)
declare -A at_kill
phase=before
while kill -0 "$demo_pid" 2>/dev/null; do
  sleep 2
  elapsed=$(($(date +%s) - started))
  now=$(spans_stored)
  printf '%3ds  %-22s spans in ClickHouse: %8d (+%d)\n' "$elapsed" "$phase" "$now" $((now - previous))
  previous=$now
  if [ "$phase" = before ] && [ "$elapsed" -ge "$third" ]; then
    # shellcheck disable=SC2154
    kill -KILL "$node_1_pid"
    at_kill[node]=$now
    phase="tracery-1 killed"
    echo "     SIGKILL tracery node 1 (PID $node_1_pid)"
  elif [ "$phase" = "tracery-1 killed" ] && [ "$elapsed" -ge $((2 * third)) ]; then
    bash scripts/clickhouse-cluster.sh kill "$work/clickhouse" s2r1 | sed 's/^/     /'
    at_kill[replica]=$now
    phase="and s2r1 killed"
  fi
done
wait "$demo_pid" || true
final=$(spans_stored)
grep -E 'demo finished' "$work/demo.log" | tail -1

failures=0
check() { # DESCRIPTION COMMAND...
  if "${@:2}"; then echo "ok: $1"; else echo "FAILED: $1" >&2; failures=$((failures + 1)); fi
}
check "spans arrived after tracery-1 was killed (${at_kill[node]:-?} -> ${at_kill[replica]:-?})" \
  test "${at_kill[replica]:-0}" -gt "${at_kill[node]:-0}"
check "spans arrived after s2r1 was killed (${at_kill[replica]:-?} -> $final)" \
  test "$final" -gt "${at_kill[replica]:-0}"
check "HAProxy took tracery-1 out (otlp_grpc: $(backend_state otlp_grpc tracery-1))" \
  test "$(backend_state otlp_grpc tracery-1)" = DOWN
check "HAProxy keeps tracery-2 in (otlp_grpc: $(backend_state otlp_grpc tracery-2))" \
  test "$(backend_state otlp_grpc tracery-2)" = UP
services=$(curl -fsS "$lb_query/api/services" | python3 -c 'import json,sys; print(",".join(sorted(json.load(sys.stdin)["data"])))')
check "services through HAProxy: $services" test -n "$services"
traces=$(curl -fsS "$lb_query/api/traces?service=frontend&limit=20" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["data"]))')
check "frontend traces through HAProxy: $traces" test "$traces" -gt 0
[ "$failures" = 0 ] && echo "scale-out soak passed" || exit 1
