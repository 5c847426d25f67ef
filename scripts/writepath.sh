#!/usr/bin/env bash
# What cachewarm's change capture costs the ERP's own writes: pgbench (8 clients, single-row
# statements) on a database with cachewarm migrated against the same database without it,
# three workloads, rounds interleaved, no worker running (the cost inside the writer's
# transaction alone). Prints each run and the median share of throughput kept.
#
#   BIN=bin/cachewarm TENANTS=20 ROUNDS=3 SECONDS=8 scripts/writepath.sh
#
# The databases cwbench_wp_base and cwbench_wp_triggers are dropped at the end.
set -euo pipefail
BIN=${BIN:-bin/cachewarm}
TENANTS=${TENANTS:-20}
ROUNDS=${ROUNDS:-3}
SECONDS_EACH=${SECONDS:-8}
PG=${PGHOST_URL:-postgres://postgres@127.0.0.1:5432}
PGBENCH=${PGBENCH:-$(command -v pgbench || echo "$(pg_config --bindir)/pgbench")}
dir=$(mktemp -d)
trap 'rm -rf "$dir"; for db in base triggers; do psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS cwbench_wp_$db WITH (FORCE)" >/dev/null 2>&1 || true; done' EXIT

for db in base triggers; do
  psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS cwbench_wp_$db WITH (FORCE)" -c "CREATE DATABASE cwbench_wp_$db" >/dev/null
  DATABASE_URL="$PG/cwbench_wp_$db?sslmode=disable" "$BIN" seed --tenants "$TENANTS" --seed 1 >/dev/null
done
DATABASE_URL="$PG/cwbench_wp_triggers?sslmode=disable" "$BIN" migrate >/dev/null
for db in base triggers; do psql "$PG/cwbench_wp_$db" -qc "VACUUM ANALYZE" -c "CHECKPOINT" >/dev/null; done

cat > "$dir/insert_spread.sql" <<SQL
\set t random(1, $TENANTS)
INSERT INTO gl_entries (tenant_id, id, journal_id, line_no, entry_date, period_id, account_id, debit, credit, currency, source, created_at)
VALUES ('t' || lpad(:t::text, 3, '0'), (random() * 1e15)::bigint, 1, 1, current_date, 1, 1, 1.00, 0, 'USD', 'bench', now());
SQL
cat > "$dir/insert_one_tenant.sql" <<'SQL'
INSERT INTO gl_entries (tenant_id, id, journal_id, line_no, entry_date, period_id, account_id, debit, credit, currency, source, created_at)
VALUES ('t001', (random() * 1e15)::bigint, 1, 1, current_date, 1, 1, 1.00, 0, 'USD', 'bench', now());
SQL
cat > "$dir/update_spread.sql" <<SQL
\set t random(1, $TENANTS)
\set v random(1, 1000)
UPDATE vendors SET rating = rating WHERE tenant_id = 't' || lpad(:t::text, 3, '0') AND id = :v;
SQL

declare -A runs
echo "round workload database tps"
for round in $(seq 1 "$ROUNDS"); do
  for w in insert_spread insert_one_tenant update_spread; do
    for db in base triggers; do
      tps=$("$PGBENCH" "$PG/cwbench_wp_$db" -n -c 8 -j 2 -T "$SECONDS_EACH" -f "$dir/$w.sql" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
      echo "$round $w $db $tps"
      runs[$w.$db]="${runs[$w.$db]:-} $tps"
    done
    # The change log the triggers filled, emptied as a collector would, so rounds start alike.
    psql "$PG/cwbench_wp_triggers" -qc "DELETE FROM cachewarm.changes" -c "VACUUM cachewarm.changes" >/dev/null
  done
done

median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
echo
echo "| workload (pgbench -n -c 8 -j 2 -T $SECONDS_EACH, $TENANTS tenants, median of $ROUNDS) | without cachewarm | triggers | share kept |"
echo "|---|---:|---:|---:|"
for w in insert_spread insert_one_tenant update_spread; do
  b=$(echo "${runs[$w.base]}" | median); t=$(echo "${runs[$w.triggers]}" | median)
  printf '| %s | %.0f TPS | %.0f TPS | %.0f%% |\n' "$w" "$b" "$t" "$(awk -v t="$t" -v b="$b" 'BEGIN {print 100 * t / b}')"
done
