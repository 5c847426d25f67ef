#!/usr/bin/env bash
# Measures how the full warm (all three phases, one worker process) grows with the number of
# tenants: for each count it runs `cachewarm-bench --skip-raw --changes 0` on a database of its
# own (cachewarm_bench_<N>, seeded once; cachewarm_bench itself is used for 1000) and prints one
# table row: keys, bytes, warm time, keys/s, time per million keys, worker peak RSS, CPU and
# the hypervisor's steal. Time growing linearly with keys shows as a flat "per 1M keys" column.
#
#   scripts/tenants.sh                 # 10, 100 and 1000 tenants
#   COUNTS="10 100 1000 5000" scripts/tenants.sh
#
# Environment: COUNTS (default "10 100 1000"), BIN (default bin/cachewarm), RUNS (runs per
# count, interleaved; the table shows the fastest; default 1).
set -euo pipefail
cd "$(dirname "$0")/.."

COUNTS=${COUNTS:-"10 100 1000"}
BIN=${BIN:-bin/cachewarm}
RUNS=${RUNS:-1}
tmp=$(mktemp -d -t cachewarm-tenants-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

for run in $(seq 1 "$RUNS"); do
  for n in $COUNTS; do
    db=cachewarm_bench_$n
    [ "$n" = 1000 ] && db=cachewarm_bench
    echo "run $run: $n tenants ($db) ..." >&2
    go run ./cmd/cachewarm-bench --tenants "$n" --database "$db" --skip-raw --changes 0 --bin "$BIN" >"$tmp/$n.$run" 2>&1 ||
      { cat "$tmp/$n.$run" >&2; exit 1; }
  done
done

echo "full warm (critical, high, medium) by tenant count, 1 worker process x 8 jobs, $(nproc) CPU cores, best of $RUNS run(s)"
echo
echo "| tenants | keys | bytes | warm time | keys/s | per 1M keys | worker peak RSS | CPU: PostgreSQL | Redis | worker | steal |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for n in $COUNTS; do
  best=""
  for run in $(seq 1 "$RUNS"); do
    f="$tmp/$n.$run"
    wall=$(awk '$1 == "total" {print $5}' "$f")
    secs=$(echo "$wall" | awk '{ # a Go duration: 408ms, 4.56s or 1m2.355s
      if (sub(/ms$/, "")) { print $0 / 1000; next }
      sub(/s$/, ""); n = split($0, p, "m"); print (n == 2 ? p[1] * 60 + p[2] : p[1]) }')
    if [ -z "$best" ] || awk -v a="$secs" -v b="$best" 'BEGIN {exit !(a < b)}'; then best=$secs; bestf=$f; fi
  done
  awk -v secs="$best" -v n="$n" '
    $1 == "total" { keys = $2; bytes = $3 " " $4 }
    /^worker peak RSS/ { rss = $4 " " $5 }
    /^CPU during the warm/ { pg = $6; rd = $9; wk = $12 }
    /^CPU stolen/ { steal = $6 }
    END {
      gsub(",", "", pg); gsub(",", "", rd)
      printf "| %d | %d | %s | %.2f s | %.0f | %.1f s | %s | %s s | %s s | %s s | %s |\n", n, keys, bytes, secs, keys / secs, secs / keys * 1e6, rss, pg, rd, wk, steal
    }' "$bestf"
done
