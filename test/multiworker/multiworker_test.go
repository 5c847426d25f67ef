package multiworker_test

import (
	"context"
	"errors"
	"maps"
	"syscall"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/demodata"
	"github.com/cachewarm/cachewarm/internal/fixture"
	"github.com/cachewarm/cachewarm/internal/testenv"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// tenants is the size of the seeded database both tests use (one template per test binary).
const tenants = 24

// workerEnv is the environment of a worker process on env's database, with overrides.
func workerEnv(env *fixture.Env, overrides map[string]string) map[string]string {
	e := map[string]string{
		"DATABASE_URL":                 env.DBURL,
		"REDIS_URL":                    env.RedisURL,
		"HTTP_ADDR":                    "127.0.0.1:0",
		"CACHE_WARMING_ENABLED":        "false",
		"CACHE_WARMING_PHASE3_ENABLED": "true",
		"CACHEWARM_SHUTDOWN_TIMEOUT":   "20s",
		"CACHEWARM_LOG_LEVEL":          "info",
	}
	maps.Copy(e, overrides)
	return e
}

// TestThreeWorkersShareTheWork runs three worker processes on one database, writing to a
// Redis Cluster, warms every tenant, and stops one worker with SIGTERM midway: every tenant x
// phase runs exactly once, more than one process takes work, and nothing is lost.
func TestThreeWorkersShareTheWork(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, tenants)
	cl := testenv.NewCluster(t)
	ctx := context.Background()
	wenv := workerEnv(env, map[string]string{
		"REDIS_URL":           "",
		"REDIS_CLUSTER_ADDRS": cl.AddrList(),
		"CACHEWARM_WORKERS":   "2", // small slots, so all three processes get work
	})
	ws := startWorkers(t, wenv, wenv, wenv)

	run(t, wenv, "warm", "--all", "--phase", "critical,high,medium")
	waitFor(t, time.Minute, "a fifth of the phases done", func() (bool, error) {
		var n int
		err := env.Pool.QueryRow(ctx, `SELECT count(*) FROM cachewarm.river_job WHERE kind = 'cachewarm.warm_phase' AND state = 'completed'`).Scan(&n)
		return n >= 3*tenants/5, err
	})
	out := ws[0].Terminate(30 * time.Second)
	require.Contains(t, out, `msg=stopped`, "worker1 stopped gracefully")
	env.WaitWorkflows(t, 2*time.Minute)

	// Every workflow completed; one job per tenant x phase, completed on its first attempt.
	var notCompleted int
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT count(*) FROM cachewarm.workflow_runs WHERE state <> 'completed'`).Scan(&notCompleted))
	require.Zero(t, notCompleted)
	rows, err := env.Pool.Query(ctx, `
SELECT args->>'tenant_id', args->>'phase', count(*), count(*) FILTER (WHERE state = 'completed'),
       max(attempt), coalesce(max(cardinality(errors)), 0)
FROM cachewarm.river_job WHERE kind = 'cachewarm.warm_phase'
GROUP BY 1, 2`)
	require.NoError(t, err)
	type tenantPhase struct {
		Tenant, Phase               string
		Jobs, Completed, MaxAttempt int
		Errors                      int
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[tenantPhase])
	require.NoError(t, err)
	require.Len(t, got, tenants*len(catalog.Phases), "every tenant x phase has a job")
	for _, tp := range got {
		require.Equal(t, 1, tp.Jobs, "%s/%s: one job", tp.Tenant, tp.Phase)
		require.Equal(t, 1, tp.Completed, "%s/%s: completed", tp.Tenant, tp.Phase)
		require.Equal(t, 1, tp.MaxAttempt, "%s/%s: run once", tp.Tenant, tp.Phase)
		require.Zero(t, tp.Errors, "%s/%s: no error", tp.Tenant, tp.Phase)
	}

	requireNoConcurrentPhases(t, env)

	// Work was shared: the jobs name the processes that ran them.
	rows, err = env.Pool.Query(ctx, `
SELECT attempted_by[1], count(*) FROM cachewarm.river_job
WHERE kind = 'cachewarm.warm_phase' GROUP BY 1`)
	require.NoError(t, err)
	byWorker, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct {
		ID   string
		Jobs int
	}])
	require.NoError(t, err)
	t.Logf("phase jobs per worker: %v", byWorker)
	require.GreaterOrEqual(t, len(byWorker), 2, "more than one worker took work")
	ids := map[string]bool{}
	for _, w := range ws {
		ids[w.ID] = true
	}
	for _, b := range byWorker {
		require.True(t, ids[b.ID], "job run by %s, which is one of the three workers", b.ID)
	}

	// Nothing written twice and nothing lost: the keys recorded per workflow add up to
	// exactly the keys the queries yield, and Redis holds every one of them.
	var recorded int
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT sum(keys_written)::int FROM cachewarm.workflow_runs`).Scan(&recorded))
	cat, err := catalog.Default()
	require.NoError(t, err)
	rdb := testenv.NewClusterClient(t, cl)
	total := 0
	for k := 1; k <= tenants; k++ {
		want, _ := env.Expect(t, cat, cache.Keys{}, demodata.TenantID(k))
		fixture.RequireKeys(t, rdb, cache.FormatJSON, want)
		total += len(want)
	}
	require.Equal(t, total, recorded, "each phase's keys were recorded once")

	// The survivors report on the cluster.
	code, body := ws[1].Get(t, "/health")
	require.Equal(t, 200, code, body)
	require.Contains(t, body, `"status":"ok"`)
	code, body = ws[2].Get(t, "/metrics")
	require.Equal(t, 200, code)
	for _, m := range []string{"cachewarm_keys_written_total", "cachewarm_phase_duration_seconds", "cachewarm_jobs"} {
		require.Contains(t, body, m)
	}
	for _, w := range ws[1:] {
		w.Terminate(30 * time.Second)
	}
}

// TestPeriodicRefreshByLeaderOnly runs three workers with a refresh-ahead every 2 s: only the
// elected leader enqueues it, so each period has one refresh job, also across a leader
// change when the leader is stopped.
func TestPeriodicRefreshByLeaderOnly(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, tenants)
	ctx := context.Background()
	const period = 2 * time.Second
	wenv := workerEnv(env, map[string]string{
		"CACHE_WARMING_ENABLED":        "true",
		"CACHE_WARMING_PHASE3_ENABLED": "false",
		"CACHE_REFRESH_CRITICAL":       "@every 2s",
		"CACHE_REFRESH_HIGH":           "@every 1h",
	})
	// One worker warms every tenant at startup; the others only share the jobs.
	quiet := maps.Clone(wenv)
	quiet["CACHEWARM_STARTUP_WARM"] = "false"
	ws := startWorkers(t, wenv, quiet, quiet)
	started := time.Now()

	leader := func() string {
		var id string
		err := env.Pool.QueryRow(ctx, `SELECT leader_id FROM cachewarm.river_leader`).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return ""
		}
		require.NoError(t, err)
		return id
	}
	refreshes := func() []time.Time {
		// scheduled_at is the period the leader enqueued the refresh for (created_at would move
		// with a busy machine's delays).
		rows, err := env.Pool.Query(ctx, `SELECT scheduled_at FROM cachewarm.river_job WHERE kind = 'cachewarm.refresh' ORDER BY scheduled_at`)
		require.NoError(t, err)
		ts, err := pgx.CollectRows(rows, pgx.RowTo[time.Time])
		require.NoError(t, err)
		return ts
	}
	waitFor(t, 30*time.Second, "three refreshes", func() (bool, error) { return len(refreshes()) >= 3, nil })

	// Stop the leader: another worker takes over and the refreshes go on, still one per period.
	old := leader()
	var stopped *testenv.WorkerProc
	for _, w := range ws {
		if w.ID == old {
			stopped = w
		}
	}
	require.NotNil(t, stopped, "the leader %q is one of the workers", old)
	stopped.Terminate(30 * time.Second)
	stoppedAt := time.Now()
	waitFor(t, 30*time.Second, "a new leader", func() (bool, error) { l := leader(); return l != "" && l != old, nil })
	waitFor(t, 30*time.Second, "two refreshes by the new leader", func() (bool, error) {
		n := 0
		for _, c := range refreshes() {
			if c.After(stoppedAt) {
				n++
			}
		}
		return n >= 2, nil
	})
	for _, w := range ws {
		if w != stopped {
			w.Terminate(30 * time.Second)
		}
	}
	elapsed := time.Since(started)

	ts := refreshes()
	t.Logf("%d refreshes in %s", len(ts), elapsed.Round(time.Millisecond))
	require.LessOrEqual(t, len(ts), int(elapsed/period)+2, "at most one refresh per period, not one per worker")
	for i := 1; i < len(ts); i++ {
		require.Greater(t, ts[i].Sub(ts[i-1]), period/2, "refreshes %d and %d are one period apart, not duplicates", i-1, i)
	}
	var failed int
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT count(*) FROM cachewarm.river_job
WHERE kind = 'cachewarm.refresh' AND (state NOT IN ('completed', 'available') OR cardinality(errors) > 0)`).Scan(&failed))
	require.Zero(t, failed, "every refresh completed (or was enqueued just before the last worker stopped)")

	// The startup warm ran once per tenant (CACHEWARM_STARTUP_WARM=false on two workers), and
	// the refreshes never ran a tenant's phases concurrently with it or with each other.
	var startup int
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT count(*) FROM cachewarm.workflow_runs WHERE trigger = 'startup'`).Scan(&startup))
	require.Equal(t, tenants, startup)
	requireNoConcurrentPhases(t, env)
}

// requireNoConcurrentPhases checks that no two phase jobs of one tenant ever ran at the same
// time, whichever workers ran them: a phase job is inserted only by the transaction that
// completes the previous one, and a tenant has one active workflow at a time. The times come
// from different clocks of events (finalized_at is taken just before the completing commit,
// attempted_at at the start of the fetch statement that saw it), which a busy machine can skew
// by a few milliseconds, so overlaps under 100 ms are not counted.
func requireNoConcurrentPhases(t *testing.T, env *fixture.Env) {
	t.Helper()
	rows, err := env.Pool.Query(context.Background(), `
SELECT format('%s: job %s (workflow %s %s, %s, attempt %s by %s, %s .. %s) overlaps job %s (workflow %s %s, %s, attempt %s by %s, %s .. %s)',
       a.args->>'tenant_id', a.id, a.args->>'workflow_id', a.args->>'phase', a.state, a.attempt, a.attempted_by, a.attempted_at, a.finalized_at,
       b.id, b.args->>'workflow_id', b.args->>'phase', b.state, b.attempt, b.attempted_by, b.attempted_at, b.finalized_at)
FROM cachewarm.river_job a JOIN cachewarm.river_job b
  ON a.args->>'tenant_id' = b.args->>'tenant_id' AND a.id < b.id
WHERE a.kind = 'cachewarm.warm_phase' AND b.kind = 'cachewarm.warm_phase'
  AND a.attempted_at IS NOT NULL AND b.attempted_at IS NOT NULL -- (never started: no interval)
  AND least(coalesce(a.finalized_at, now()), coalesce(b.finalized_at, now()))
      - greatest(a.attempted_at, b.attempted_at) > interval '100 ms'`)
	require.NoError(t, err)
	overlaps, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Empty(t, overlaps, "a tenant's phases never run concurrently")
}

// TestSIGTERMLetsRunningJobsFinish stops a worker with SIGTERM while a phase job is running:
// the job finishes on that worker (within CACHEWARM_SHUTDOWN_TIMEOUT) instead of being
// cancelled and redone elsewhere.
func TestSIGTERMLetsRunningJobsFinish(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, tenants)
	ctx := context.Background()
	wenv := workerEnv(env, nil)
	w := startWorkers(t, wenv)[0]

	// Holding a lock on vendors keeps t001's high phase waiting inside its query.
	tx, err := env.Pool.Begin(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	_, err = tx.Exec(ctx, `LOCK TABLE vendors IN ACCESS EXCLUSIVE MODE`)
	require.NoError(t, err)
	run(t, wenv, "warm", "--tenant", "t001", "--phase", "high")
	waitFor(t, 30*time.Second, "the high phase running", func() (bool, error) {
		var n int
		err := env.Pool.QueryRow(ctx, `SELECT count(*) FROM cachewarm.river_job WHERE kind = 'cachewarm.warm_phase' AND state = 'running'`).Scan(&n)
		return n == 1, err
	})

	require.NoError(t, w.Cmd.Process.Signal(syscall.SIGTERM))
	time.Sleep(500 * time.Millisecond)
	require.False(t, w.Done(), "the worker waits for its running job")
	require.NoError(t, tx.Rollback(ctx)) // the query goes on
	out, err := w.Wait(30 * time.Second)
	require.NoError(t, err, "clean exit")
	require.Contains(t, out, "msg=stopped")

	var state string
	var attempt int
	var by []string
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT state::text, attempt, attempted_by FROM cachewarm.river_job WHERE kind = 'cachewarm.warm_phase'`).Scan(&state, &attempt, &by))
	require.Equal(t, "completed", state, "the running job finished before the worker exited")
	require.Equal(t, []string{w.ID}, by)
	require.Equal(t, 1, attempt)
}
