#!/usr/bin/env bash
# Measures how the warm of every tenant scales with the number of worker processes, on a
# single Redis and on a 3-master Redis Cluster. For each Redis and each worker count it starts
# that many `cachewarm worker` processes on one database, empties Redis, enqueues a workflow
# of every phase for every tenant (`cachewarm warm --all`), and times it from the first
# workflow's insert to the last one's completion (workflow_runs timestamps). It also reports
# the CPU the workers, their PostgreSQL sessions and Redis used meanwhile.
#
#   scripts/scaling.sh                      # 1000 tenants, 1-3 workers, every Redis mode
#   TENANTS=200 WORKERS="1 2" MODES=single RUNS=3 scripts/scaling.sh
#
# Environment:
#   TENANTS           tenants to warm (default 1000)
#   WORKERS           worker process counts (default "1 2 3")
#   MODES             Redis modes (default "single cluster cluster-tags"; cluster-tags is the
#                     cluster with CACHEWARM_KEY_HASH_TAGS=true)
#   PHASES            phases to warm (default critical,high,medium)
#   CACHEWARM_WORKERS job slots per worker process (default 8)
#   RUNS              runs per cell, interleaved; the table shows the fastest (default 1)
#   PGURL             PostgreSQL server (default postgres://postgres@127.0.0.1:5432)
#   DATABASE          the script's own database (default cachewarm_scaling: created, seeded
#                     and migrated if it does not hold TENANTS tenants; no other is touched)
#
# Redis: the script starts its own redis-server (single) and its own cluster
# (test/cluster/start.sh) on free loopback ports, and stops them at exit; the shared Redis on
# 6379 is never touched.
set -euo pipefail
cd "$(dirname "$0")/.."

TENANTS=${TENANTS:-1000}
WORKERS=${WORKERS:-"1 2 3"}
MODES=${MODES:-"single cluster cluster-tags"}
PHASES=${PHASES:-critical,high,medium}
JOBS_PER_WORKER=${CACHEWARM_WORKERS:-8}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432}
DATABASE=${DATABASE:-cachewarm_scaling}
RUNS=${RUNS:-1}
DBURL="$PGURL/$DATABASE?sslmode=disable"

tmp=$(mktemp -d -t cachewarm-scaling-XXXXXX)
pids=()
single_pid=
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "$single_pid" ] && kill "$single_pid" 2>/dev/null || true
  test/cluster/start.sh --stop --dir "$tmp/cluster" >/dev/null 2>&1 || true
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

log() { printf '%s\n' "$*" >&2; }
psqlq() { psql "$DBURL" -Atqc "$1"; }

log "building cachewarm"
go build -o "$tmp/cachewarm" ./cmd/cachewarm
bin=$tmp/cachewarm

# The database: ours alone, seeded once per tenant count.
if ! psql "$PGURL/postgres?sslmode=disable" -Atqc "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'" | grep -q 1; then
  psql "$PGURL/postgres?sslmode=disable" -qc "CREATE DATABASE $DATABASE" >/dev/null
fi
have=$(psqlq "SELECT count(*) FROM tenants" 2>/dev/null || echo 0)
if [ "$have" != "$TENANTS" ]; then
  log "seeding $TENANTS tenants into $DATABASE (about 70 s per 1000)"
  DATABASE_URL=$DBURL "$bin" seed --tenants "$TENANTS" >/dev/null
fi
DATABASE_URL=$DBURL "$bin" migrate >"$tmp/migrate.log" 2>&1 || { cat "$tmp/migrate.log" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# A single Redis of our own.
single_port=$(free_port)
redis-server --port "$single_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" \
  --logfile "$tmp/single.log" --daemonize no &
single_pid=$!
for _ in $(seq 100); do [ "$(redis-cli -p "$single_port" ping 2>/dev/null)" = PONG ] && break; sleep 0.05; done

# A cluster of our own, only if asked for.
cluster_addrs=
if [[ " $MODES " == *" cluster"* ]]; then
  cluster_addrs=$(test/cluster/start.sh --dir "$tmp/cluster" | sed -n 's/^REDIS_CLUSTER_ADDRS=//p')
  [ -n "$cluster_addrs" ] || { log "the cluster did not start"; exit 1; }
fi

flush_redis() {
  if [ "$1" = single ]; then
    redis-cli -p "$single_port" flushall >/dev/null
  else
    for a in ${cluster_addrs//,/ }; do redis-cli -h "${a%:*}" -p "${a##*:}" flushall >/dev/null; done
  fi
}

redis_env() {
  if [ "$1" = single ]; then echo "REDIS_URL=redis://127.0.0.1:$single_port/0"; else echo "REDIS_CLUSTER_ADDRS=$cluster_addrs"; fi
}

tags_env() {
  if [ "$1" = cluster-tags ]; then echo "CACHEWARM_KEY_HASH_TAGS=true"; else echo "CACHEWARM_KEY_HASH_TAGS=false"; fi
}

# cpu_busy prints the machine's busy and total CPU ticks so far (/proc/stat).
cpu_busy() { awk '/^cpu /{print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat; }

# proc_cpu prints the CPU seconds (user + system) the given processes have used.
proc_cpu() {
  local p total=0 t
  for p in "$@"; do
    t=$(awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null || echo 0)
    total=$((total + t))
  done
  awk -v t="$total" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.1f", t/hz}'
}

# run_once MODE N sets secs, keys, split (phase jobs per worker), busy (machine CPU busy
# during the warm), wcpu (CPU seconds the workers used) and pgcpu (CPU seconds their
# PostgreSQL sessions used). It runs in the script's
# own shell, so the cleanup trap sees the worker pids.
run_once() {
  local mode=$1 n=$2 i
  flush_redis "$mode"
  psqlq "DELETE FROM cachewarm.river_job; DELETE FROM cachewarm.workflow_runs" >/dev/null
  psqlq "VACUUM ANALYZE cachewarm.river_job, cachewarm.workflow_runs, cachewarm.workflow_phases" >/dev/null
  pids=()
  for i in $(seq "$n"); do
    env -i PATH="$PATH" DATABASE_URL="$DBURL" "$(redis_env "$mode")" "$(tags_env "$mode")" HTTP_ADDR=127.0.0.1:0 \
      CACHE_WARMING_ENABLED=false CACHE_WARMING_PHASE3_ENABLED=true CACHEWARM_WORKERS="$JOBS_PER_WORKER" \
      "$bin" worker >"$tmp/worker$i.log" 2>&1 &
    pids+=($!)
  done
  for i in $(seq "$n"); do
    for _ in $(seq 1200); do grep -q 'msg="worker started"' "$tmp/worker$i.log" && break; sleep 0.05; done
    grep -q 'msg="worker started"' "$tmp/worker$i.log" || {
      log "worker $i (pid ${pids[$((i - 1))]}) did not start within 60 s:"
      ps -o pid,stat,etime,args -p "${pids[$((i - 1))]}" >&2 || true
      cat "$tmp/worker$i.log" >&2
      exit 1
    }
  done
  local b0 t0 b1 t1
  read -r b0 t0 < <(cpu_busy)
  env DATABASE_URL="$DBURL" "$(redis_env "$mode")" "$bin" warm --all --phase "$PHASES" --wait --timeout 30m >"$tmp/warm.log" 2>&1 ||
    { log "warm failed:"; cat "$tmp/warm.log" >&2; exit 1; }
  read -r b1 t1 < <(cpu_busy)
  busy=$(awk -v b=$((b1 - b0)) -v t=$((t1 - t0)) 'BEGIN{printf "%.0f%%", 100*b/t}')
  wcpu=$(proc_cpu "${pids[@]}")
  # The workers' PostgreSQL sessions (all opened during this run) and the CPU they used.
  pgcpu=$(proc_cpu $(psqlq "SELECT pid FROM pg_stat_activity WHERE datname = '$DATABASE' AND pid <> pg_backend_pid()"))
  for p in "${pids[@]}"; do kill -TERM "$p"; done
  for p in "${pids[@]}"; do wait "$p" || true; done
  pids=()
  secs=$(psqlq "SELECT round(extract(epoch FROM max(finished_at) - min(created_at))::numeric, 2) FROM cachewarm.workflow_runs")
  keys=$(psqlq "SELECT sum(keys_written) FROM cachewarm.workflow_runs WHERE state = 'completed'")
  split=$(psqlq "SELECT string_agg(n::text, '/' ORDER BY n DESC) FROM (SELECT count(*) AS n FROM cachewarm.river_job WHERE kind = 'cachewarm.warm_phase' GROUP BY attempted_by[1]) s")
  local bad
  bad=$(psqlq "SELECT count(*) FROM cachewarm.workflow_runs WHERE state <> 'completed'")
  [ "$bad" = 0 ] || { log "$bad workflow(s) did not complete"; exit 1; }
}

redis_cpu() {
  local addrs a total=0
  if [ "$1" = single ]; then addrs="127.0.0.1:$single_port"; else addrs=${cluster_addrs//,/ }; fi
  for a in $addrs; do
    total=$(redis-cli -h "${a%:*}" -p "${a##*:}" info cpu | tr -d '\r' |
      awk -F: -v t="$total" '/^used_cpu_(sys|user):/{t+=$2} END{print t}')
  done
  echo "$total"
}

label_of() {
  case $1 in
    single) echo "single" ;;
    cluster) echo "cluster, 3 masters" ;;
    cluster-tags) echo "cluster, 3 masters, hash tags" ;;
    *) log "unknown mode $1 (single, cluster, cluster-tags)"; exit 2 ;;
  esac
}
for mode in $MODES; do label_of "$mode" >/dev/null; done

# Runs are interleaved (every cell once, then again), so a burst of load from something else
# on the machine does not land on one cell only; each cell keeps its fastest run.
declare -A best bkeys bsplit bbusy bcpu brcpu bpgcpu
for r in $(seq "$RUNS"); do
  for mode in $MODES; do
    for n in $WORKERS; do
      r0=$(redis_cpu "$mode")
      run_once "$mode" "$n"
      rcpu=$(awk -v a="$r0" -v b="$(redis_cpu "$mode")" 'BEGIN{printf "%.1f", b-a}')
      log "run $r: $mode, $n worker(s): ${secs}s, $keys keys ($split), CPU busy $busy, workers ${wcpu}s, postgres ${pgcpu}s, redis ${rcpu}s"
      c=$mode/$n
      if [ -z "${best[$c]:-}" ] || awk "BEGIN{exit !($secs < ${best[$c]})}"; then
        best[$c]=$secs bkeys[$c]=$keys bsplit[$c]=$split bbusy[$c]=$busy bcpu[$c]=$wcpu brcpu[$c]=$rcpu bpgcpu[$c]=$pgcpu
      fi
    done
  done
done

printf '%s tenants, phases %s, %s jobs per worker process, %s CPU cores, PostgreSQL %s, Redis %s, best of %s run(s)\n\n' \
  "$TENANTS" "$PHASES" "$JOBS_PER_WORKER" "$(nproc)" "$(psqlq 'SHOW server_version' | cut -d' ' -f1)" \
  "$(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')" "$RUNS"
printf '| Redis | workers | warm time | tenants/s | keys/s | speed-up | phase jobs per worker | machine CPU busy | CPU: workers | PostgreSQL | Redis |\n'
printf '|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|\n'
for mode in $MODES; do
  base=
  for n in $WORKERS; do
    c=$mode/$n
    [ -n "$base" ] || base=${best[$c]}
    awk -v m="$(label_of "$mode")" -v n="$n" -v s="${best[$c]}" -v k="${bkeys[$c]}" -v t="$TENANTS" -v b="$base" \
      -v sp="${bsplit[$c]}" -v bu="${bbusy[$c]}" -v c="${bcpu[$c]}" -v rc="${brcpu[$c]}" -v pc="${bpgcpu[$c]}" \
      'BEGIN{printf "| %s | %d | %.1f s | %.0f | %.0f | %.2fx | %s | %s | %s s | %s s | %s s |\n", m, n, s, t/s, k/s, b/s, sp, bu, c, pc, rc}'
  done
done
