package migrations_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/internal/capture"
	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/fixture"
	"github.com/cachewarm/cachewarm/migrations"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// rewarmJobs counts the change re-warm jobs queued for tenant x dataset, by state.
func rewarmJobs(t *testing.T, pool *pgxpool.Pool, tenant, dataset string) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), `
SELECT count(*) FROM cachewarm.river_job
WHERE kind = 'cachewarm.warm_datasets'
  AND args @> jsonb_build_object('tenant_id', $1::text, 'datasets', jsonb_build_array($2::text))`, tenant, dataset).Scan(&n))
	return n
}

// tenantJobs counts every cachewarm job of tenant.
func tenantJobs(t *testing.T, pool *pgxpool.Pool, tenant string) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(),
		`SELECT count(*) FROM cachewarm.river_job WHERE args ->> 'tenant_id' = $1`, tenant).Scan(&n))
	return n
}

// version returns the data version of tenant x dataset (0 if it has none).
func version(t *testing.T, pool *pgxpool.Pool, tenant, dataset string) int64 {
	t.Helper()
	var v int64
	require.NoError(t, pool.QueryRow(context.Background(), `
SELECT coalesce((SELECT version FROM cachewarm.dataset_versions WHERE tenant_id = $1 AND dataset = $2), 0)`,
		tenant, dataset).Scan(&v))
	return v
}

func TestUpdateIsFreshInRedis(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, 2)
	env.StartWorker(t, env.Config(t, nil), nil)
	ctx := context.Background()

	tag, err := env.Pool.Exec(ctx, `
UPDATE chart_of_accounts SET name = 'Renamed by the trigger test'
WHERE tenant_id = 't001' AND code = (SELECT min(code) FROM chart_of_accounts WHERE tenant_id = 't001')`)
	require.NoError(t, err)
	require.EqualValues(t, 1, tag.RowsAffected())

	// Speed is measured by BenchmarkChangeToFresh; this asserts it happens, by itself.
	require.Eventually(t, func() bool {
		v, err := env.Redis.Get(ctx, "finance:coa:t001").Result()
		return err == nil && strings.Contains(v, `"name":"Renamed by the trigger test"`)
	}, 5*time.Second, 10*time.Millisecond, "the new name reaches finance:coa:t001 without anyone asking")

	n, err := env.Redis.Exists(ctx, "finance:coa:t002").Result()
	require.NoError(t, err)
	require.Zero(t, n, "t002 did not change: nothing is warmed for it")
}

// collect runs the change collector once, as a worker's does every few milliseconds: the
// changes the triggers appended become version bumps and re-warm jobs.
func collect(t *testing.T, pool *pgxpool.Pool) []capture.Tenant {
	t.Helper()
	tenants, err := capture.Collect(context.Background(), pool)
	require.NoError(t, err)
	return tenants
}

func TestTriggersEnqueueOncePerTenantAndDataset(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, 3) // no worker: the test collects, and jobs stay in the table to be counted
	ctx := context.Background()
	pool := env.Pool

	t.Run("bulk update", func(t *testing.T) {
		before := version(t, pool, "t001", "materials")
		tag, err := pool.Exec(ctx, `UPDATE materials SET name = name || ' (bulk)' WHERE tenant_id = 't001'`)
		require.NoError(t, err)
		collect(t, pool)
		require.GreaterOrEqual(t, tag.RowsAffected(), int64(2000))
		require.Equal(t, 1, rewarmJobs(t, pool, "t001", "materials"), "one job for 2,000+ rows")
		require.Equal(t, 1, rewarmJobs(t, pool, "t001", "kit_definitions"), "kits read materials too")
		require.Greater(t, version(t, pool, "t001", "materials"), before, "the version was bumped")

		// Row by row in one transaction: the transaction's own waiting job covers the rest.
		tx, err := pool.Begin(ctx)
		require.NoError(t, err)
		for id := 1; id <= 200; id++ {
			_, err := tx.Exec(ctx, `UPDATE materials SET name = name || '.' WHERE tenant_id = 't002' AND id = $1`, id)
			require.NoError(t, err)
		}
		require.NoError(t, tx.Commit(ctx))
		collect(t, pool)
		require.Equal(t, 1, rewarmJobs(t, pool, "t002", "materials"), "one job for 200 statements in one transaction")

		// A later change while that job still waits adds nothing.
		_, err = pool.Exec(ctx, `UPDATE materials SET name = name || '!' WHERE tenant_id = 't001' AND id = 1`)
		require.NoError(t, err)
		collect(t, pool)
		require.Equal(t, 1, rewarmJobs(t, pool, "t001", "materials"))
	})

	t.Run("insert and delete", func(t *testing.T) {
		_, err := pool.Exec(ctx, `
INSERT INTO crm_pipeline_stages
SELECT (jsonb_populate_record(s, jsonb_build_object('id', s.id + 1000))).*
FROM crm_pipeline_stages s WHERE tenant_id = 't003' ORDER BY id LIMIT 1`)
		require.NoError(t, err)
		collect(t, pool)
		require.Equal(t, 1, rewarmJobs(t, pool, "t003", "pipeline_stages"), "INSERT fires")

		// Let the waiting job go (as a worker would take it), so the DELETE needs its own.
		_, err = pool.Exec(ctx, `UPDATE cachewarm.river_job SET state = 'completed', finalized_at = now()
WHERE kind = 'cachewarm.warm_datasets' AND args ->> 'tenant_id' = 't003'`)
		require.NoError(t, err)
		before := version(t, pool, "t003", "pipeline_stages")
		tag, err := pool.Exec(ctx, `DELETE FROM crm_pipeline_stages WHERE tenant_id = 't003' AND id = (SELECT max(id) FROM crm_pipeline_stages WHERE tenant_id = 't003')`)
		require.NoError(t, err)
		collect(t, pool)
		require.EqualValues(t, 1, tag.RowsAffected())
		require.Equal(t, 2, rewarmJobs(t, pool, "t003", "pipeline_stages"), "DELETE fires")
		require.Greater(t, version(t, pool, "t003", "pipeline_stages"), before)

		// A statement that changes no row enqueues nothing.
		_, err = pool.Exec(ctx, `DELETE FROM crm_pipeline_stages WHERE tenant_id = 'nobody'`)
		require.NoError(t, err)
		collect(t, pool)
		require.Zero(t, tenantJobs(t, pool, "nobody"))
	})

	t.Run("tenant-exact", func(t *testing.T) {
		jobsBefore := tenantJobs(t, pool, "t003")
		v := version(t, pool, "t003", "chart_of_accounts")
		_, err := pool.Exec(ctx, `UPDATE chart_of_accounts SET name = name || '*' WHERE tenant_id = 't002'`)
		require.NoError(t, err)
		collect(t, pool)
		require.Equal(t, jobsBefore, tenantJobs(t, pool, "t003"), "a change of t002 queues nothing for t003")
		require.Equal(t, v, version(t, pool, "t003", "chart_of_accounts"), "nor bumps its version")
		for _, d := range []string{"chart_of_accounts", "trial_balance", "gl_balances"} {
			require.Equal(t, 1, rewarmJobs(t, pool, "t002", d), d)
		}

		// One statement over two tenants: one job per tenant x dataset.
		_, err = pool.Exec(ctx, `UPDATE exchange_rates SET rate = rate WHERE tenant_id IN ('t001', 't003')`)
		require.NoError(t, err)
		collect(t, pool)
		require.Equal(t, 1, rewarmJobs(t, pool, "t001", "exchange_rates"))
		require.Equal(t, 1, rewarmJobs(t, pool, "t003", "exchange_rates"))
		require.Zero(t, rewarmJobs(t, pool, "t002", "exchange_rates"))
	})

	t.Run("row moved to another tenant", func(t *testing.T) {
		// An UPDATE keeps no table of old rows: the row trigger on a changed tenant column
		// reports the tenant the row left.
		_, err := pool.Exec(ctx, `UPDATE cachewarm.river_job SET state = 'completed', finalized_at = now()
WHERE kind = 'cachewarm.warm_datasets' AND args ->> 'tenant_id' IN ('t001', 't002')`)
		require.NoError(t, err)
		left, joined := rewarmJobs(t, pool, "t001", "vendors"), rewarmJobs(t, pool, "t002", "vendors")
		_, err = pool.Exec(ctx, `UPDATE vendors SET tenant_id = 't002', id = id + 100000, code = code || '-moved' WHERE tenant_id = 't001' AND id = 1`)
		require.NoError(t, err)
		collect(t, pool)
		require.Equal(t, left+1, rewarmJobs(t, pool, "t001", "vendors"), "the tenant the row left")
		require.Equal(t, joined+1, rewarmJobs(t, pool, "t002", "vendors"), "the tenant it joined")
	})

	t.Run("repeatable read", func(t *testing.T) {
		// Under REPEATABLE READ the trigger must not fail the caller's transaction.
		tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
		require.NoError(t, err)
		_, err = tx.Exec(ctx, `UPDATE vendors SET name = name || '~' WHERE tenant_id = 't003' AND id = 1`)
		require.NoError(t, err)
		_, err = tx.Exec(ctx, `UPDATE vendors SET name = name || '~' WHERE tenant_id = 't003' AND id = 2`)
		require.NoError(t, err)
		require.NoError(t, tx.Commit(ctx))
		collect(t, pool)
		require.Equal(t, 1, rewarmJobs(t, pool, "t003", "vendors"), "its own waiting job still covers the second statement")
	})
}

func TestNewDatasetGetsTriggersOnMigrate(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, 1)
	ctx := context.Background()
	pool := env.Pool
	logger := slog.New(slog.DiscardHandler)
	_, err := pool.Exec(ctx, `CREATE TABLE vendor_notes (tenant_id text NOT NULL, vendor_id bigint, note text)`)
	require.NoError(t, err)
	cat := fixture.CatalogWith(t, map[string]string{"vendor_digest": `-- phase: high
-- ttl: 1h
-- tables: vendors, vendor_notes
-- key: test:vendor_digest:{tenant}
-- value: json
SELECT count(*)::text AS value FROM vendors WHERE tenant_id = $1::text`})

	res, err := migrations.Migrate(ctx, pool, cat, logger)
	require.NoError(t, err)
	require.Contains(t, res.Triggered, "vendor_notes")
	require.Len(t, triggersOn(t, pool, "vendor_notes"), 5, "INSERT, UPDATE, a tenant move, DELETE and TRUNCATE")

	_, err = pool.Exec(ctx, `INSERT INTO vendor_notes VALUES ('t001', 1, 'call back')`)
	require.NoError(t, err)
	collect(t, pool)
	require.Equal(t, 1, rewarmJobs(t, pool, "t001", "vendor_digest"), "the new table's trigger")
	_, err = pool.Exec(ctx, `UPDATE vendors SET name = name WHERE tenant_id = 't001' AND id = 1`)
	require.NoError(t, err)
	collect(t, pool)
	require.Equal(t, 1, rewarmJobs(t, pool, "t001", "vendors"), "an existing table's trigger feeds the old datasets")
	require.Equal(t, 1, rewarmJobs(t, pool, "t001", "vendor_digest"), "and the new one (deduplicated with the waiting job)")

	// Removing the dataset removes its triggers on the next migrate.
	def, err := catalog.Default()
	require.NoError(t, err)
	res, err = migrations.Migrate(ctx, pool, def, logger)
	require.NoError(t, err)
	require.NotContains(t, res.Triggered, "vendor_notes")
	require.Empty(t, triggersOn(t, pool, "vendor_notes"))
	_, err = pool.Exec(ctx, `SELECT cachewarm.enqueue_dataset_warm('t001', ARRAY['vendor_digest'])`)
	require.ErrorContains(t, err, "unknown dataset 'vendor_digest'")
}

func triggersOn(t *testing.T, pool *pgxpool.Pool, table string) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
SELECT tgname::text FROM pg_trigger WHERE tgrelid = to_regclass($1) AND NOT tgisinternal ORDER BY 1`, table)
	require.NoError(t, err)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return names
}

func TestBulkAndTruncateChanges(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, 5) // no worker: the test collects
	ctx := context.Background()
	pool := env.Pool

	tag, err := pool.Exec(ctx, `UPDATE materials SET name = name || '.'`)
	require.NoError(t, err)
	require.GreaterOrEqual(t, tag.RowsAffected(), int64(10_000))
	collect(t, pool)
	for _, tn := range []string{"t001", "t002", "t003", "t004", "t005"} {
		require.Equal(t, 1, rewarmJobs(t, pool, tn, "materials"), "one job per tenant x dataset for %d rows", tag.RowsAffected())
		require.Equal(t, 1, rewarmJobs(t, pool, tn, "kit_definitions"))
	}

	// TRUNCATE re-warms the table's datasets of every active tenant.
	_, err = pool.Exec(ctx, `UPDATE tenants SET active = false WHERE id = 't005'`)
	require.NoError(t, err)
	collect(t, pool)
	_, err = pool.Exec(ctx, `DELETE FROM cachewarm.river_job`) // as if the workers had done them
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `TRUNCATE crm_pipeline_stages`)
	require.NoError(t, err)
	tenants := collect(t, pool)
	require.Len(t, tenants, 4, "the active tenants")
	for _, tn := range []string{"t001", "t002", "t003", "t004"} {
		require.Equal(t, 1, rewarmJobs(t, pool, tn, "pipeline_stages"), tn)
	}
	require.Zero(t, rewarmJobs(t, pool, "t005", "pipeline_stages"), "not the inactive one")
}
