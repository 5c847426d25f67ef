package faults_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/fixture"
	"github.com/stretchr/testify/require"
)

// TestPostgresConnectionsKilled terminates every PostgreSQL connection of a worker
// (pg_terminate_backend, as a failover or a proxy restart does) three times while 32 tenants'
// workflows are mid-warm, and commits source changes in between: the worker reconnects by
// itself, every workflow completes, and the changes are warmed.
func TestPostgresConnectionsKilled(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, tenants)
	ctx := context.Background()
	app := "cwfaults_" + randomHex(4)
	wenv := workerEnv(env, map[string]string{
		// The application name tells the worker's connections from the test's own.
		"DATABASE_URL":      withQuery(t, env.DBURL, "application_name", app),
		"CACHEWARM_WORKERS": "4",
	})
	var dbName string
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT current_database()`).Scan(&dbName))
	terminate := func() int {
		var n int
		require.NoError(t, env.Pool.QueryRow(ctx, `
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE datname = $1 AND application_name = $2 AND pid <> pg_backend_pid()`, dbName, app).Scan(&n))
		return n
	}

	release := lockTables(t, env.Pool, "vendors")
	w := startWorker(t, "worker", wenv)
	run(t, wenv, "warm", "--all", "--phase", "critical,high")
	waitFor(t, 20*time.Second, "high phases mid-warm", func() (bool, error) {
		var n int
		err := env.Pool.QueryRow(ctx, `SELECT count(*) FROM cachewarm.river_job
			WHERE kind = 'cachewarm.warm_phase' AND state = 'running' AND args->>'phase' = 'high'`).Scan(&n)
		return n == 4, err
	})

	// Three rounds of terminations, 300 ms apart, with changes committed in between: one to
	// a dataset already warmed (t001's accounts) and one to a dataset mid-warm (t002's
	// vendors, committed once the lock is gone).
	killed := terminate()
	cut := time.Now()
	_, err := env.Pool.Exec(ctx, `UPDATE chart_of_accounts SET name = 'renamed during the outage' WHERE tenant_id = 't001' AND code = (SELECT min(code) FROM chart_of_accounts WHERE tenant_id = 't001')`)
	require.NoError(t, err)
	time.Sleep(300 * time.Millisecond)
	killed += terminate()
	release()
	_, err = env.Pool.Exec(ctx, `UPDATE vendors SET name = 'vendor renamed during the outage' WHERE tenant_id = 't002' AND id = (SELECT min(id) FROM vendors WHERE tenant_id = 't002')`)
	require.NoError(t, err)
	time.Sleep(300 * time.Millisecond)
	killed += terminate()
	t.Logf("terminated %d connections of the worker in three rounds", killed)
	require.GreaterOrEqual(t, killed, 3, "the worker had connections to terminate")

	waitWorkflowsDone(t, env.Pool, 2*time.Minute)
	workflowsDone := time.Since(cut)
	waitChangesDone(t, env.Pool, time.Minute)
	t.Logf("every workflow finished %s after the first termination, every change re-warm %s after it",
		workflowsDone.Round(100*time.Millisecond), time.Since(cut).Round(100*time.Millisecond))
	require.False(t, w.Done(), "the worker is still running")
	requireAllCompleted(t, env.Pool, tenants)
	var reconnected int
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = $2`, dbName, app).Scan(&reconnected))
	require.NotZero(t, reconnected, "the worker has connected again")

	coa, err := env.Redis.Get(ctx, "finance:coa:t001").Result()
	require.NoError(t, err)
	require.Contains(t, coa, "renamed during the outage")
	vendor, err := env.Redis.Get(ctx, "sales:vendors:t002:page:1:limit:100").Result()
	require.NoError(t, err)
	require.Contains(t, vendor, "vendor renamed during the outage")
	n := verifyDatasets(t, env.Pool, env.Redis, tenantIDs(1, tenants), datasetNames(catalog.PhaseCritical, catalog.PhaseHigh))
	t.Logf("%d keys match the database", n)

	var retried int
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT count(*) FROM cachewarm.river_job WHERE attempt > 1`).Scan(&retried))
	t.Logf("%d jobs needed more than one attempt; worker log mentions %d connection errors", retried,
		strings.Count(w.Out.String(), "terminating connection"))
}
