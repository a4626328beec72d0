#!/usr/bin/env bash
# Checks the Docker packaging end to end: builds the image, runs `docker-compose up`
# (tracery + demo), and waits until /api/services lists the demo's services, then
# that the container reports healthy and stops cleanly on SIGTERM.
#
#   scripts/compose-check.sh [--no-build] [--screenshot FILE] [--keep]
#
# Needs docker and docker-compose (v1 or v2) and free ports 4317, 4318, 16686 and
# 14269. --screenshot also saves the UI fed by the demo (needs chromium).
# --keep leaves the stack running; --no-build uses the tracery:latest image as it
# is. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

screenshot=""
keep=0
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --screenshot) screenshot="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    --no-build) build=0; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

if docker compose version >/dev/null 2>&1; then
  compose=(docker compose -p tracery-check)
else
  compose=(docker-compose -p tracery-check)
fi
query=http://localhost:16686

# --network host: build steps reach the package registries on daemons without a
# default bridge too. The compose file's own `build: .` works the same elsewhere.
if [ "$build" = 1 ]; then
  echo "== building the image"
  docker build --network host -t tracery:latest . >/tmp/tracery-compose-build.log 2>&1 \
    || { tail -30 /tmp/tracery-compose-build.log; exit 1; }
fi
docker image ls tracery:latest --format 'image size: {{.Size}}'

cleanup() {
  if [ "$keep" = 0 ]; then
    "${compose[@]}" down -v >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

echo "== docker-compose up"
started=$(date +%s.%N)
"${compose[@]}" up -d --no-build

expected='["api-gateway","auth","cart","frontend","notifications","orders","payment"]'
echo "== waiting (at most 30 s) for the demo's services on $query/api/services"
services=""
while :; do
  elapsed=$(echo "$(date +%s.%N) - $started" | bc)
  services=$(curl -fsS "$query/api/services" 2>/dev/null \
    | python3 -c 'import json,sys; print(json.dumps(sorted(json.load(sys.stdin)["data"]), separators=(",",":")))' 2>/dev/null || true)
  if [ "$services" = "$expected" ]; then
    printf 'all demo services listed after %.1f s: %s\n' "$elapsed" "$services"
    break
  fi
  if [ "$(echo "$elapsed > 30" | bc)" = 1 ]; then
    echo "FAILED: after 30 s /api/services says: ${services:-nothing}" >&2
    "${compose[@]}" logs --tail 50 >&2
    exit 1
  fi
  sleep 0.5
done

traces=$(curl -fsS "$query/api/traces?service=frontend&limit=20" \
  | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["data"]))')
echo "frontend traces found: $traces"
[ "$traces" -gt 0 ]

echo "== a Zipkin span through the published port 9411"
now_us=$(($(date +%s) * 1000000))
curl -fsS -X POST -H 'content-type: application/json' "http://localhost:9411/api/v2/spans" \
  -d "[{\"traceId\":\"00000000000000000000000000c0ffee\",\"id\":\"00000000000000aa\",\"name\":\"compose check\",\"timestamp\":$now_us,\"duration\":1000,\"localEndpoint\":{\"serviceName\":\"zipkin-sender\"}}]"
found=""
for _ in $(seq 1 20); do
  if curl -fsS "$query/api/traces/00000000000000000000000000c0ffee" 2>/dev/null | grep -q zipkin-sender; then
    found=1; break
  fi
  sleep 0.5
done
[ -n "$found" ] || { echo "FAILED: the Zipkin span did not come back" >&2; exit 1; }
echo "the Zipkin span is stored"

container=$("${compose[@]}" ps -q tracery)
echo "== waiting for the image's HEALTHCHECK (tracery healthcheck) to report healthy"
for _ in $(seq 1 60); do
  health=$(docker inspect -f '{{.State.Health.Status}}' "$container")
  [ "$health" = healthy ] && break
  sleep 1
done
echo "health: $health"
[ "$health" = healthy ]
curl -fsS http://localhost:14269/metrics | grep -E '^tracery_spans_accepted_total' || true

if [ -n "$screenshot" ]; then
  echo "== screenshot of the UI to $screenshot"
  trace_id=$(curl -fsS "$query/api/traces?service=frontend&operation=POST%20%2Fcheckout&limit=1" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["traceID"])')
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,900 \
    --virtual-time-budget=5000 --screenshot="$screenshot" "$query/search?service=frontend" \
    >/dev/null 2>&1
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,900 \
    --virtual-time-budget=5000 --screenshot="${screenshot%.png}-trace.png" "$query/trace/$trace_id" \
    >/dev/null 2>&1
  ls -l "$screenshot" "${screenshot%.png}-trace.png"
fi

echo "== SIGTERM: tracery must flush and exit 0 within the grace period"
stop_started=$(date +%s.%N)
"${compose[@]}" stop -t 30 tracery >/dev/null 2>&1
printf 'stopped in %.1f s, exit code %s\n' "$(echo "$(date +%s.%N) - $stop_started" | bc)" \
  "$(docker inspect -f '{{.State.ExitCode}}' "$container")"
[ "$(docker inspect -f '{{.State.ExitCode}}' "$container")" = 0 ]
docker logs "$container" 2>&1 | grep -E 'tracery stopped' | tail -1
echo "compose check passed"
