#!/usr/bin/env bash
# Starts (or stops) a 3-master Redis Cluster from the local redis-server on loopback ports, for
# trying cachewarm against a cluster by hand and for scripts/scaling.sh. The Go tests start
# their own clusters (internal/testenv.NewCluster) and do not need this script.
#
#   test/cluster/start.sh [--dir DIR] [--port FIRST]   # prints REDIS_CLUSTER_ADDRS=...
#   test/cluster/start.sh --stop [--dir DIR]
#
# DIR (default ${TMPDIR:-/tmp}/cachewarm-cluster) holds each node's config, log and pid file.
# Ports are the first free ones from FIRST (default 7001) whose cluster bus port (+10000) is
# free too. Nothing is persisted (--save '' --appendonly no).
set -euo pipefail

dir=${TMPDIR:-/tmp}/cachewarm-cluster
port=7001
stop=false
while [ $# -gt 0 ]; do
  case $1 in
    --dir) dir=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --stop) stop=true; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "start.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

stop_nodes() {
  local pids=()
  for pidfile in "$dir"/node*/redis.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null && pids+=("$pid") || true
    rm -f "$pidfile"
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  done
}

if $stop; then
  stop_nodes
  echo "stopped the cluster in $dir"
  exit 0
fi

for bin in redis-server redis-cli; do
  command -v $bin >/dev/null || { echo "start.sh: $bin not found; install it with: apt-get install redis-server" >&2; exit 1; }
done
if compgen -G "$dir/node*/redis.pid" >/dev/null; then
  echo "start.sh: a cluster already runs in $dir; stop it first: $0 --stop --dir $dir" >&2
  exit 1
fi

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

addrs=()
for n in 1 2 3; do
  while ! { port_free "$port" && port_free $((port + 10000)); }; do
    port=$((port + 1))
    # The cluster bus listens on port + 10000, so the port must be 55535 at most.
    [ "$port" -le 55535 ] || { echo "start.sh: no free port pair below 55536 from --port" >&2; stop_nodes; exit 1; }
  done
  node="$dir/node$n"
  mkdir -p "$node"
  rm -f "$node/nodes.conf"
  redis-server --port "$port" --bind 127.0.0.1 --cluster-enabled yes \
    --cluster-config-file "$node/nodes.conf" --cluster-node-timeout 5000 \
    --dir "$node" --logfile "$node/redis.log" --pidfile "$node/redis.pid" \
    --save '' --appendonly no --daemonize yes
  for _ in $(seq 100); do
    [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && break
    sleep 0.05
  done
  [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] || { echo "start.sh: node on $port did not start:" >&2; tail "$node/redis.log" >&2; stop_nodes; exit 1; }
  addrs+=("127.0.0.1:$port")
  port=$((port + 1))
done

trap 'echo "start.sh: failed; stopping the nodes" >&2; stop_nodes' ERR
redis-cli --cluster create "${addrs[@]}" --cluster-replicas 0 --cluster-yes >"$dir/create.log" 2>&1 ||
  { cat "$dir/create.log" >&2; false; }

ready() {
  local a info
  for a in "${addrs[@]}"; do
    info=$(redis-cli -h "${a%:*}" -p "${a##*:}" cluster info 2>/dev/null) || return 1
    grep -q 'cluster_state:ok' <<<"$info" && grep -q 'cluster_known_nodes:3' <<<"$info" || return 1
  done
}
for _ in $(seq 200); do ready && break; sleep 0.1; done
ready || { echo "start.sh: cluster did not reach cluster_state:ok in 20s" >&2; false; }
trap - ERR

list=$(IFS=,; echo "${addrs[*]}")
echo "REDIS_CLUSTER_ADDRS=$list"
