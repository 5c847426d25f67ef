package faults_test

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/fixture"
	"github.com/cachewarm/cachewarm/internal/testenv"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// TestRedisOutageMidWarm stops Redis (SIGKILL of the server, as a crash) while 32 tenants'
// high phases are mid-warm and restarts it on the same port 20 s later
// (CACHEWARM_FAULTS_REDIS_OUTAGE overrides the length). Meanwhile the phases fail and retry
// with backoff, /health answers 503 unhealthy, and the worker stays up; once Redis is back,
// /health recovers by itself and every workflow completes.
func TestRedisOutageMidWarm(t *testing.T) {
	t.Parallel()
	outage := 20 * time.Second
	if v := os.Getenv("CACHEWARM_FAULTS_REDIS_OUTAGE"); v != "" {
		var err error
		outage, err = time.ParseDuration(v)
		require.NoError(t, err, "CACHEWARM_FAULTS_REDIS_OUTAGE")
	}
	env := fixture.New(t, tenants)
	ctx := context.Background()
	rs := testenv.NewRedisServer(t)
	rdb := rs.Client("")
	wenv := workerEnv(env, map[string]string{"REDIS_URL": rs.URL(""), "CACHEWARM_WORKERS": "4"})

	release := lockTables(t, env.Pool, "vendors")
	w := startWorker(t, "worker", wenv)
	h, err := health(t, w)
	require.NoError(t, err)
	require.Equal(t, 200, h.Code, h.Raw)
	run(t, wenv, "warm", "--all", "--phase", "critical,high")
	waitFor(t, 20*time.Second, "critical phases done, high phases running", func() (bool, error) {
		var critical, high int
		err := env.Pool.QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE args->>'phase' = 'critical' AND state = 'completed'),
			count(*) FILTER (WHERE args->>'phase' = 'high' AND state = 'running')
			FROM cachewarm.river_job WHERE kind = 'cachewarm.warm_phase'`).Scan(&critical, &high)
		return critical == tenants && high == 4, err
	})

	rs.Stop()
	down := time.Now()
	release()
	t.Logf("redis stopped with %d high phases mid-warm", 4)

	// During the outage: /health says 503 unhealthy, phases fail and are retried with
	// backoff, the worker stays up.
	var healthDownAfter time.Duration
	backoffChecked := 0
	for time.Since(down) < outage {
		if time.Since(down) > outage/2 {
			backoffChecked += requireBackoff(t, env.Pool)
		}
		h, err := health(t, w)
		require.NoError(t, err, "the HTTP server answers while Redis is down")
		if h.Code == 503 && healthDownAfter == 0 {
			healthDownAfter = time.Since(down)
			require.Equal(t, "error", h.Body.Status, h.Raw)
			require.Equal(t, "unhealthy", h.Body.Info.Cache.Status, h.Raw)
			require.Contains(t, h.Body.Info.Cache.Error, "redis unreachable", h.Raw)
		}
		if healthDownAfter > 0 {
			require.Equal(t, 503, h.Code, "/health stays 503 while Redis is down: %s", h.Raw)
		}
		require.False(t, w.Done(), "the worker must not exit while Redis is down")
		time.Sleep(500 * time.Millisecond)
	}
	require.NotZero(t, healthDownAfter, "/health never answered 503 while Redis was down")
	require.NotZero(t, backoffChecked, "no retry was waiting for its backoff")
	retrying := jobCount(t, env.Pool, "warm_phase", "retryable", "available", "running")
	require.Equal(t, 0, workflowStates(t, env.Pool)["completed"], "no workflow can complete without Redis")
	t.Logf("after %s without Redis: /health 503 unhealthy (from %s after the stop), %d high phases retrying",
		outage, healthDownAfter.Round(100*time.Millisecond), retrying)

	rs.Start()
	up := time.Now()
	healthUp := waitFor(t, 30*time.Second, "/health to recover", func() (bool, error) {
		h, err := health(t, w)
		return err == nil && h.Code == 200 && h.Body.Status == "ok", err
	})
	done := waitWorkflowsDone(t, env.Pool, 2*time.Minute)
	t.Logf("redis restarted: /health 200 after %s, every workflow finished %s after the restart",
		healthUp.Round(100*time.Millisecond), done.Round(100*time.Millisecond))
	require.False(t, w.Done(), "the worker is still running")
	requireAllCompleted(t, env.Pool, tenants)

	var errs []byte
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT to_jsonb(errors)::text FROM cachewarm.river_job
		WHERE kind = 'cachewarm.warm_phase' ORDER BY cardinality(errors) DESC NULLS LAST, id LIMIT 1`).Scan(&errs))
	var attempts []struct {
		At      time.Time `json:"at"`
		Attempt int       `json:"attempt"`
	}
	require.NoError(t, json.Unmarshal(errs, &attempts))
	require.GreaterOrEqual(t, len(attempts), 3, "a phase failed several times during the outage")
	t.Logf("one phase failed %d times, attempts ended %v apart (each attempt's own time included)", len(attempts), gaps(attempts))

	// Redis came back empty (no persistence): the high phases, warmed after the restart, are
	// all there; the critical keys are restored by the next refresh or warm (see
	// TestFlushedRedisIsRestored).
	n := verifyDatasets(t, env.Pool, rdb, tenantIDs(1, tenants), datasetNames(catalog.PhaseHigh))
	t.Logf("%d keys of the high phase match the database", n)

	h, err = health(t, w)
	require.NoError(t, err)
	require.Equal(t, 200, h.Code)
	require.Greater(t, h.Body.Info.Cache.ErrorRate, 10.0, "the outage's failed attempts count in the error rate of the last minute")
	t.Logf("health %s after the restart: %s (the error rate covers the last minute)", time.Since(up).Round(time.Second), h.Raw)
}

// requireBackoff checks every phase job waiting for a retry: its retry is scheduled at least
// its backoff (1 s doubling per attempt to 30 s, plus up to 20% jitter) after its last
// attempt began (River records when an attempt began, so the attempt's own time, a few
// seconds while every Redis dial fails, adds to the wait). It returns how many it checked.
func requireBackoff(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	type waiting struct {
		ID      int64
		Attempt int
		Wait    float64
	}
	rows, err := pool.Query(context.Background(), `
SELECT id, attempt, extract(epoch FROM scheduled_at - (errors[cardinality(errors)]->>'at')::timestamptz)::float8
FROM cachewarm.river_job
WHERE kind = 'cachewarm.warm_phase' AND state IN ('retryable', 'available') AND cardinality(errors) > 0 AND scheduled_at > now()`)
	require.NoError(t, err)
	jobs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[waiting])
	require.NoError(t, err)
	for _, j := range jobs {
		floor := min(time.Second<<(j.Attempt-1), 30*time.Second).Seconds()
		require.True(t, j.Wait >= floor-0.05 && j.Wait <= floor*1.2+15,
			"job %d after attempt %d waits %.2fs for its retry, want %.0fs (+20%% and the attempt's time)", j.ID, j.Attempt, j.Wait, floor)
	}
	return len(jobs)
}

func gaps(attempts []struct {
	At      time.Time `json:"at"`
	Attempt int       `json:"attempt"`
}) []time.Duration {
	var out []time.Duration
	for i := 1; i < len(attempts); i++ {
		out = append(out, attempts[i].At.Sub(attempts[i-1].At).Round(100*time.Millisecond))
	}
	return out
}
