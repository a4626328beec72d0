#!/usr/bin/env bash
# A ClickHouse cluster on this machine for Tracery's scale-out tests and figures:
# Debian's clickhouse-server (18.16) as SHARDS x REPLICAS servers plus one ZooKeeper,
# all listening on 127.0.0.1 only, each server with its own config, data and log
# directory under DIR, started in the background and stopped by PID.
#
#   scripts/clickhouse-cluster.sh start  DIR [--shards N] [--replicas M] [--base-port P]
#   scripts/clickhouse-cluster.sh stop   DIR
#   scripts/clickhouse-cluster.sh status DIR
#   scripts/clickhouse-cluster.sh kill   DIR NODE      (SIGKILL one server, e.g. s1r2)
#   scripts/clickhouse-cluster.sh restart DIR NODE     (start a killed server again)
#
# Defaults: 2 shards x 2 replicas, cluster name `tracery` (CLUSTER=... to change it).
# Ports: without --base-port the script asks the OS for free ports; with it, ZooKeeper
# gets P and server i (from 0) gets P+1+3i (HTTP), P+2+3i (native TCP) and P+3+3i
# (interserver replication). `start` writes DIR/cluster.env (sourceable shell:
# CLUSTER, ZK_PORT, NODES, and <NODE>_HTTP, <NODE>_TCP, <NODE>_PID per server) and
# prints one line per server; it returns when every server answers, ZooKeeper
# included, and `system.clusters` on the first server lists all of them.
#
# Each server has macros {shard} (01, 02, ...) and {replica} (s1r1, s1r2, ...), so
#   CREATE TABLE t ON CLUSTER tracery (...) ENGINE =
#     ReplicatedMergeTree('/clickhouse/tables/{shard}/t', '{replica}') ...
# and a Distributed('tracery', db, t, cityHash64(trace_id)) table in front of it work
# as in production. The shards use internal_replication=true: a Distributed insert
# goes to one healthy replica per shard and ReplicatedMergeTree copies it.
#
# Needs clickhouse-server, clickhouse-client, zookeeper and java (.ci/setup-clickhouse
# installs them) and python3. `stop` is safe to repeat; DIR is kept (delete it yourself).
set -euo pipefail

CLUSTER=${CLUSTER:-tracery}
CLICKHOUSE_SERVER=${CLICKHOUSE_SERVER:-/usr/sbin/clickhouse-server}
CLICKHOUSE_CLIENT=${CLICKHOUSE_CLIENT:-/usr/bin/clickhouse-client}
ZOOKEEPER_CLASSPATH=${ZOOKEEPER_CLASSPATH:-/usr/share/java/zookeeper.jar}
START_TIMEOUT_S=${START_TIMEOUT_S:-60}

usage() {
  sed -n '6,10p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

die() {
  echo "clickhouse-cluster: $*" >&2
  exit 1
}

# Prints N free TCP ports on 127.0.0.1, all different, chosen by the OS.
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
sockets = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    sockets.append(s)
print(" ".join(str(s.getsockname()[1]) for s in sockets))
PY
}

# Exit status 0 when something accepts TCP connections on 127.0.0.1:$1.
port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# ZooKeeper's four-letter `stat`; prints `serving` once it takes sessions (`ruok`
# answers imok earlier, while handshakes are still cut off).
zk_serving() {
  python3 - "$1" <<'PY' 2>/dev/null || true
import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
    s.sendall(b"stat")
    reply = b""
    while chunk := s.recv(4096):
        reply += chunk
    if b"Mode: " in reply:
        print("serving")
except OSError:
    pass
PY
}

# Exit status 0 when NODE's distributed-DDL worker failed to reach ZooKeeper when it
# started. An 18.16 server in that state answers queries that reconnect, but
# segfaults (NULL pointer in zkutil::ZooKeeper::createImpl) on the first
# `CREATE … ON CLUSTER`; only a restart mends it.
ddl_worker_broken() { # NODE
  grep -q 'DDLWorker::run().*connecting to ZooKeeper' "$dir/$1/log/clickhouse-server.err.log" 2>/dev/null
}

pid_alive() {
  [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null
}

# Sends SIGTERM to a PID, waits up to $2 s, then SIGKILL.
stop_pid() {
  local pid=$1 grace=$2 i
  pid_alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do
    pid_alive "$pid" || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    pid_alive "$pid" || return 0
    sleep 0.1
  done
}

query() { # query NODE SQL
  local port_var="${1}_TCP"
  "$CLICKHOUSE_CLIENT" --host 127.0.0.1 --port "${!port_var}" --query "$2"
}

load_env() {
  [ -f "$dir/cluster.env" ] || die "no cluster in $dir (missing cluster.env)"
  # shellcheck disable=SC1091
  source "$dir/cluster.env"
  # PIDs are kept in files so that kill/restart can update them.
  local node
  for node in $NODES; do
    printf -v "${node}_PID" '%s' "$(cat "$dir/$node/pid" 2>/dev/null || true)"
  done
  ZK_PID=$(cat "$dir/zookeeper/pid" 2>/dev/null || true)
}

write_zookeeper_config() {
  mkdir -p "$dir/zookeeper/data" "$dir/zookeeper/log"
  cat >"$dir/zookeeper/zoo.cfg" <<CFG
tickTime=500
initLimit=10
syncLimit=5
dataDir=$dir/zookeeper/data
clientPort=$ZK_PORT
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok,stat,mntr
autopurge.purgeInterval=1
CFG
}

start_zookeeper() {
  ( cd "$dir/zookeeper" && exec java -Xms64m -Xmx256m -XX:+UseSerialGC \
      -cp "$ZOOKEEPER_CLASSPATH" -Dzookeeper.log.dir="$dir/zookeeper/log" \
      org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zookeeper/zoo.cfg" \
      </dev/null >"$dir/zookeeper/log/stdout.log" 2>&1 ) &
  echo $! >"$dir/zookeeper/pid"
}

# The remote_servers section, the same on every server.
remote_servers_xml() {
  local shard replica node port_var
  echo "    <remote_servers>"
  echo "        <$CLUSTER>"
  for ((shard = 1; shard <= shards; shard++)); do
    echo "            <shard>"
    echo "                <internal_replication>true</internal_replication>"
    for ((replica = 1; replica <= replicas; replica++)); do
      node="s${shard}r${replica}"
      port_var="${node}_TCP"
      echo "                <replica><host>127.0.0.1</host><port>${!port_var}</port></replica>"
    done
    echo "            </shard>"
  done
  echo "        </$CLUSTER>"
  echo "    </remote_servers>"
}

write_server_config() { # NODE SHARD
  local node=$1 shard=$2 home="$dir/$1"
  local http_var="${node}_HTTP" tcp_var="${node}_TCP" inter_var="${node}_INTERSERVER"
  mkdir -p "$home/data" "$home/tmp" "$home/user_files" "$home/format_schemas" "$home/log"
  cat >"$home/config.xml" <<XML
<?xml version="1.0"?>
<!-- Written by scripts/clickhouse-cluster.sh: server $node of cluster $CLUSTER. -->
<yandex>
    <logger>
        <level>information</level>
        <log>$home/log/clickhouse-server.log</log>
        <errorlog>$home/log/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>2</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>${!http_var}</http_port>
    <tcp_port>${!tcp_var}</tcp_port>
    <interserver_http_port>${!inter_var}</interserver_http_port>
    <interserver_http_host>127.0.0.1</interserver_http_host>
    <max_connections>1024</max_connections>
    <keep_alive_timeout>10</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>
    <path>$home/data/</path>
    <tmp_path>$home/tmp/</tmp_path>
    <user_files_path>$home/user_files/</user_files_path>
    <format_schema_path>$home/format_schemas/</format_schema_path>
    <users_config>$dir/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
$(remote_servers_xml)
    <zookeeper>
        <node><host>127.0.0.1</host><port>$ZK_PORT</port></node>
        <session_timeout_ms>10000</session_timeout_ms>
    </zookeeper>
    <macros>
        <cluster>$CLUSTER</cluster>
        <shard>$(printf '%02d' "$shard")</shard>
        <replica>$node</replica>
    </macros>
    <distributed_ddl>
        <path>/clickhouse/task_queue/ddl</path>
    </distributed_ddl>
    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>
    <query_log>
        <database>system</database>
        <table>query_log</table>
        <flush_interval_milliseconds>7500</flush_interval_milliseconds>
    </query_log>
</yandex>
XML
}

write_users_config() {
  cat >"$dir/users.xml" <<'XML'
<?xml version="1.0"?>
<!-- Written by scripts/clickhouse-cluster.sh: one user, `default`, no password, from 127.0.0.1 only.
     Settings keep ClickHouse's defaults (load_balancing = random among replicas), as in production. -->
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <use_uncompressed_cache>0</use_uncompressed_cache>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
XML
}

start_server() { # NODE
  local node=$1 home="$dir/$1"
  ( cd "$home" && exec "$CLICKHOUSE_SERVER" --config-file="$home/config.xml" \
      </dev/null >"$home/log/stdout.log" 2>&1 ) &
  echo $! >"$home/pid"
}

wait_server() { # NODE DEADLINE
  local node=$1 deadline=$2 http_var="${1}_HTTP"
  until [ "$(curl -fsS "http://127.0.0.1:${!http_var}/ping" 2>/dev/null)" = "Ok." ]; do
    pid_alive "$(cat "$dir/$node/pid")" || {
      tail -20 "$dir/$node/log/clickhouse-server.err.log" "$dir/$node/log/stdout.log" >&2 || true
      die "server $node exited during start"
    }
    [ "$(date +%s)" -lt "$deadline" ] || die "server $node did not answer /ping within ${START_TIMEOUT_S} s"
    sleep 0.2
  done
}

cmd_start() {
  shards=2 replicas=2
  local base_port=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --shards) shards=$2; shift 2 ;;
      --replicas) replicas=$2; shift 2 ;;
      --base-port) base_port=$2; shift 2 ;;
      *) usage ;;
    esac
  done
  [[ $shards =~ ^[1-9][0-9]*$ && $replicas =~ ^[1-9][0-9]*$ ]] || die "--shards and --replicas take positive integers"
  if [ -f "$dir/cluster.env" ]; then
    load_env
    local node
    for node in $NODES; do
      local pid_var="${node}_PID"
      if pid_alive "${!pid_var}"; then
        die "a cluster already runs from $dir (server $node, PID ${!pid_var}); stop it first"
      fi
    done
  fi
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)

  local num_servers=$((shards * replicas)) ports
  if [ -n "$base_port" ]; then
    ports=$(seq "$base_port" $((base_port + 3 * num_servers)) | tr '\n' ' ')
    local port
    for port in $ports; do
      port_open "$port" && die "port $port is in use"
    done
  else
    ports=$(free_ports $((1 + 3 * num_servers)))
  fi
  # shellcheck disable=SC2206
  local port_list=($ports)
  ZK_PORT=${port_list[0]}
  NODES=""
  local shard replica index=0 node
  for ((shard = 1; shard <= shards; shard++)); do
    for ((replica = 1; replica <= replicas; replica++)); do
      node="s${shard}r${replica}"
      NODES="$NODES $node"
      printf -v "${node}_HTTP" '%s' "${port_list[$((1 + 3 * index))]}"
      printf -v "${node}_TCP" '%s' "${port_list[$((2 + 3 * index))]}"
      printf -v "${node}_INTERSERVER" '%s' "${port_list[$((3 + 3 * index))]}"
      index=$((index + 1))
    done
  done
  NODES=${NODES# }

  {
    echo "# Written by scripts/clickhouse-cluster.sh start; sourceable."
    echo "CLUSTER=$CLUSTER"
    echo "SHARDS=$shards"
    echo "REPLICAS=$replicas"
    echo "ZK_PORT=$ZK_PORT"
    echo "NODES=\"$NODES\""
    for node in $NODES; do
      local http_var="${node}_HTTP" tcp_var="${node}_TCP" inter_var="${node}_INTERSERVER"
      echo "${node}_HTTP=${!http_var}"
      echo "${node}_TCP=${!tcp_var}"
      echo "${node}_INTERSERVER=${!inter_var}"
    done
  } >"$dir/cluster.env"

  local started
  started=$(date +%s.%N)
  write_zookeeper_config
  write_users_config
  start_zookeeper
  index=0
  for ((shard = 1; shard <= shards; shard++)); do
    for ((replica = 1; replica <= replicas; replica++)); do
      write_server_config "s${shard}r${replica}" "$shard"
    done
  done
  local deadline=$(($(date +%s) + START_TIMEOUT_S))
  until [ "$(zk_serving "$ZK_PORT")" = serving ]; do
    pid_alive "$(cat "$dir/zookeeper/pid")" || {
      tail -20 "$dir/zookeeper/log/stdout.log" >&2 || true
      die "zookeeper exited during start"
    }
    [ "$(date +%s)" -lt "$deadline" ] || die "zookeeper did not answer within ${START_TIMEOUT_S} s"
    sleep 0.2
  done
  # Only once ZooKeeper serves (see ddl_worker_broken).
  for node in $NODES; do
    start_server "$node"
  done
  for node in $NODES; do
    wait_server "$node" "$deadline"
  done
  # Every server must see ZooKeeper (replicated DDL needs it) before we call it ready,
  # and a server whose DDL worker missed it at start is restarted.
  for node in $NODES; do
    until query "$node" "SELECT count() FROM system.zookeeper WHERE path = '/'" >/dev/null 2>&1; do
      [ "$(date +%s)" -lt "$deadline" ] || die "server $node cannot reach zookeeper"
      sleep 0.2
    done
    while ddl_worker_broken "$node"; do
      [ "$(date +%s)" -lt "$deadline" ] || die "server $node's DDL worker cannot reach zookeeper"
      echo "server $node: its DDL worker missed zookeeper at start; restarting it" >&2
      kill -KILL "$(cat "$dir/$node/pid")" 2>/dev/null || true
      while pid_alive "$(cat "$dir/$node/pid")"; do sleep 0.05; done
      mv "$dir/$node/log/clickhouse-server.err.log" "$dir/$node/log/clickhouse-server.err.log.1"
      start_server "$node"
      wait_server "$node" "$deadline"
      sleep 1 # the DDL worker connects in the background
    done
  done
  local first=${NODES%% *} listed
  listed=$(query "$first" "SELECT count() FROM system.clusters WHERE cluster = '$CLUSTER'")
  [ "$listed" = "$num_servers" ] || die "system.clusters lists $listed servers of $CLUSTER, expected $num_servers"
  printf 'cluster %s: %d shards x %d replicas + zookeeper, ready in %.1f s\n' \
    "$CLUSTER" "$shards" "$replicas" "$(echo "$(date +%s.%N) - $started" | bc)"
  cmd_status
}

cmd_status() {
  load_env
  local node pid_var http_var tcp_var state all_up=0
  if pid_alive "$ZK_PID"; then state=up; else state=down; all_up=1; fi
  printf '%-10s %-5s pid=%-8s zk=127.0.0.1:%s\n' zookeeper "$state" "${ZK_PID:--}" "$ZK_PORT"
  for node in $NODES; do
    pid_var="${node}_PID" http_var="${node}_HTTP" tcp_var="${node}_TCP"
    if pid_alive "${!pid_var}" && [ "$(curl -fsS "http://127.0.0.1:${!http_var}/ping" 2>/dev/null)" = "Ok." ]; then
      state=up
    else
      state=down
      all_up=1
    fi
    printf '%-10s %-5s pid=%-8s http=http://127.0.0.1:%s tcp=127.0.0.1:%s\n' \
      "$node" "$state" "${!pid_var:--}" "${!http_var}" "${!tcp_var}"
  done
  return $all_up
}

cmd_stop() {
  [ -f "$dir/cluster.env" ] || { echo "no cluster in $dir"; return 0; }
  load_env
  local node pid_var
  # All servers at once (each takes about 2 s to shut down), then ZooKeeper.
  for node in $NODES; do
    pid_var="${node}_PID"
    stop_pid "${!pid_var}" 20 &
  done
  wait
  for node in $NODES; do
    rm -f "$dir/$node/pid"
  done
  stop_pid "$ZK_PID" 10
  rm -f "$dir/zookeeper/pid"
  echo "cluster $CLUSTER in $dir stopped"
}

cmd_kill() { # NODE
  load_env
  local node=${1:-} pid_var
  [[ " $NODES " == *" $node "* ]] || die "no server named '$node' (servers: $NODES)"
  pid_var="${node}_PID"
  pid_alive "${!pid_var}" || die "server $node is not running"
  kill -KILL "${!pid_var}"
  while pid_alive "${!pid_var}"; do sleep 0.05; done
  rm -f "$dir/$node/pid"
  echo "server $node (PID ${!pid_var}) killed"
}

cmd_restart() { # NODE
  load_env
  local node=${1:-} pid_var
  [[ " $NODES " == *" $node "* ]] || die "no server named '$node' (servers: $NODES)"
  pid_var="${node}_PID"
  pid_alive "${!pid_var}" && die "server $node is still running (PID ${!pid_var})"
  start_server "$node"
  wait_server "$node" $(($(date +%s) + START_TIMEOUT_S))
  echo "server $node restarted (PID $(cat "$dir/$node/pid"))"
}

[ $# -ge 2 ] || usage
command=$1 dir=$2
shift 2
case "$command" in
  start) cmd_start "$@" ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  kill) cmd_kill "$@" ;;
  restart) cmd_restart "$@" ;;
  *) usage ;;
esac
