package worker_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/internal/config"
	"github.com/cachewarm/cachewarm/internal/fixture"
	"github.com/cachewarm/cachewarm/jobs"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

func TestRefreshSpread(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		spec string
		want time.Duration
	}{
		{"@every 2s", 200 * time.Millisecond},
		{"@every 4s", 400 * time.Millisecond},
		{"*/5 * * * *", 30 * time.Second},
		{"@every 6h", time.Minute},
	} {
		sched, err := config.ParseSchedule(tt.spec)
		require.NoError(t, err)
		require.Equal(t, tt.want, jobs.RefreshSpread(sched.Next), tt.spec)
	}
}

// TestRefreshAheadRenewsUntouchedKeys: with CACHE_REFRESH_CRITICAL='@every 2s', a critical
// key nobody changes has its TTL renewed before it lapses, each refresh spreads its tenants'
// workflows over a tenth of the period, and refreshes never pile up.
func TestRefreshAheadRenewsUntouchedKeys(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, 3)
	ctx := context.Background()
	start := time.Now()
	env.StartWorker(t, env.Config(t, map[string]string{
		"CACHE_WARMING_ENABLED":        "true",
		"CACHE_WARMING_PHASE3_ENABLED": "false",
		"CACHE_REFRESH_CRITICAL":       "@every 2s",
		"CACHE_REFRESH_HIGH":           "@every 1h",
	}), nil)

	const key = "finance:coa:t001"
	require.Eventually(t, func() bool { return env.Redis.Exists(ctx, key).Val() == 1 }, 20*time.Second, 20*time.Millisecond, "the startup warm")
	// Age the key: as if most of its 24 h had passed.
	require.NoError(t, env.Redis.PExpire(ctx, key, time.Minute).Err())
	require.Eventually(t, func() bool {
		return env.Redis.PTTL(ctx, key).Val() > 23*time.Hour
	}, 15*time.Second, 50*time.Millisecond, "a refresh renewed the untouched key's TTL")
	require.Eventually(t, func() bool {
		var n int
		_ = env.Pool.QueryRow(ctx, `SELECT count(DISTINCT tenant_id) FROM cachewarm.workflow_runs WHERE trigger = 'refresh' AND state = 'completed'`).Scan(&n)
		return n == 3
	}, 15*time.Second, 50*time.Millisecond, "every tenant is refreshed")
	elapsed := time.Since(start)

	// The fan-out: one refresh job per period, spread over 200 ms (a tenth of 2 s).
	var args []byte
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT args FROM cachewarm.river_job WHERE kind = 'cachewarm.refresh' ORDER BY id LIMIT 1`).Scan(&args))
	var ra jobs.RefreshArgs
	require.NoError(t, json.Unmarshal(args, &ra))
	require.Equal(t, jobs.RefreshArgs{Phase: "critical", Spread: 200 * time.Millisecond}, ra)
	rows, err := env.Pool.Query(ctx, `
SELECT extract(epoch FROM j.scheduled_at - j.created_at)::float8 FROM cachewarm.river_job j
JOIN cachewarm.workflow_runs r ON r.id = (j.args ->> 'workflow_id')::bigint
WHERE j.kind = 'cachewarm.warm_phase' AND r.trigger = 'refresh'`)
	require.NoError(t, err)
	delays, err := pgx.CollectRows(rows, pgx.RowTo[float64])
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(delays), 3)
	distinct := map[float64]bool{}
	for _, d := range delays {
		require.GreaterOrEqual(t, d, -0.01, "scheduled no earlier than inserted")
		require.LessOrEqual(t, d, 0.25, "within the spread")
		distinct[d] = true
	}
	require.Greater(t, len(distinct), 1, "each workflow has its own random delay")

	// No pile-up: at most one refresh job waiting or running, at most one workflow per tenant
	// active, and no more refresh workflows than periods elapsed.
	var waiting, active, maxRuns int
	require.NoError(t, env.Pool.QueryRow(ctx, `
SELECT count(*) FROM cachewarm.river_job WHERE kind = 'cachewarm.refresh' AND state NOT IN ('completed', 'discarded', 'cancelled')`).Scan(&waiting))
	require.LessOrEqual(t, waiting, 1)
	require.NoError(t, env.Pool.QueryRow(ctx, `
SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM cachewarm.workflow_runs WHERE state IN ('queued', 'running') GROUP BY tenant_id) s`).Scan(&active))
	require.LessOrEqual(t, active, 1)
	require.NoError(t, env.Pool.QueryRow(ctx, `
SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM cachewarm.workflow_runs WHERE trigger = 'refresh' GROUP BY tenant_id) s`).Scan(&maxRuns))
	require.LessOrEqual(t, maxRuns, int(elapsed/(2*time.Second))+1)
	var failed int
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT count(*) FROM cachewarm.workflow_runs WHERE state NOT IN ('queued', 'running', 'completed')`).Scan(&failed))
	require.Zero(t, failed)
}
