package faults_test

import (
	"context"
	"encoding/json"
	"syscall"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/fixture"
	"github.com/cachewarm/cachewarm/internal/testenv"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// TestGracefulShutdownReturnsJobs sends SIGTERM to a worker whose phase jobs cannot finish
// (their query waits on a lock): it exits within CACHEWARM_SHUTDOWN_TIMEOUT, and the jobs are
// back in the queue without having used an attempt; a second worker completes them.
func TestGracefulShutdownReturnsJobs(t *testing.T) {
	t.Parallel()
	const timeout = 3 * time.Second
	env := fixture.New(t, tenants)
	ctx := context.Background()
	wenv := workerEnv(env, map[string]string{"CACHEWARM_SHUTDOWN_TIMEOUT": timeout.String(), "CACHEWARM_WORKERS": "4"})

	release := lockTables(t, env.Pool, "chart_of_accounts")
	w := startWorker(t, "worker-1", wenv)
	run(t, wenv, "warm", "--all", "--phase", "critical,high")
	type job struct {
		ID       int64
		Attempt  int
		State    string
		Metadata []byte
	}
	jobsIn := func(sql string, args ...any) []job {
		rows, err := env.Pool.Query(ctx, `SELECT id, attempt, state::text, metadata::text::bytea FROM cachewarm.river_job WHERE `+sql+` ORDER BY id`, args...)
		require.NoError(t, err)
		out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[job])
		require.NoError(t, err)
		return out
	}
	var running []job
	waitFor(t, 20*time.Second, "4 phase jobs running", func() (bool, error) {
		running = jobsIn(`kind = 'cachewarm.warm_phase' AND state = 'running'`)
		return len(running) == 4, nil
	})
	ids := make([]int64, len(running))
	for i, j := range running {
		require.Equal(t, 1, j.Attempt)
		ids[i] = j.ID
	}

	require.NoError(t, w.Cmd.Process.Signal(syscall.SIGTERM))
	sent := time.Now()
	out, err := w.Wait(timeout + 30*time.Second)
	took := w.ExitedAt().Sub(sent)
	require.NoError(t, err, "exit status after SIGTERM")
	t.Logf("SIGTERM with 4 jobs stuck: the worker exited %s later (CACHEWARM_SHUTDOWN_TIMEOUT=%s)", took.Round(10*time.Millisecond), timeout)
	require.LessOrEqual(t, took, timeout+500*time.Millisecond, "exits within the configured timeout:\n%s", testenv.Tail(out, 20))
	require.GreaterOrEqual(t, took, timeout-time.Second, "the jobs were given the time to finish")

	for _, j := range jobsIn(`id = ANY($1)`, ids) {
		var meta struct {
			Snoozes int `json:"snoozes"`
		}
		require.NoError(t, json.Unmarshal(j.Metadata, &meta))
		require.Equal(t, "available", j.State, "job %d is back in the queue", j.ID)
		require.Equal(t, 0, j.Attempt, "job %d used no attempt", j.ID)
		require.Equal(t, 1, meta.Snoozes, "job %d was returned (snoozed) once", j.ID)
	}
	require.Empty(t, jobsIn(`state = 'running'`), "no job left running")

	release()
	startWorker(t, "worker-2", wenv)
	done := waitWorkflowsDone(t, env.Pool, time.Minute)
	t.Logf("a second worker completed every workflow %s after it started", done.Round(100*time.Millisecond))
	requireAllCompleted(t, env.Pool, tenants)
	for _, j := range jobsIn(`id = ANY($1)`, ids) {
		require.Equal(t, "completed", j.State)
		require.Equal(t, 1, j.Attempt, "job %d completed on its first counted attempt", j.ID)
	}
	verifyDatasets(t, env.Pool, env.Redis, tenantIDs(1, tenants), datasetNames(catalog.PhaseCritical, catalog.PhaseHigh))
}
