package faults_test

import (
	"context"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/fixture"
	"github.com/stretchr/testify/require"
)

// TestWorkerKilledMidWarm kills a worker with SIGKILL while 32 tenants' workflows are in
// flight (its high phases stuck mid-query), then starts a second worker: the dead worker's
// running jobs are rescued and every workflow completes exactly once, with every key.
//
// The rescue waits for leadership to pass (River's leader row outlives a killed leader by up
// to 15 s), then for CACHEWARM_RESCUE_AFTER (5 s here, 75 s by default) and the job timeout
// (4 s here, 60 s by default); see package worker.
func TestWorkerKilledMidWarm(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, tenants)
	ctx := context.Background()
	wenv := workerEnv(env, map[string]string{
		"CACHEWARM_WORKERS":      "8",
		"CACHEWARM_JOB_TIMEOUT":  "4s",
		"CACHEWARM_RESCUE_AFTER": "5s",
	})

	// Holding vendors makes every high phase wait mid-warm, inside its query.
	release := lockTables(t, env.Pool, "vendors")
	w1 := startWorker(t, "worker-1", wenv)
	run(t, wenv, "warm", "--all", "--phase", "critical,high")
	waitFor(t, 20*time.Second, "8 high phases running", func() (bool, error) {
		var n int
		err := env.Pool.QueryRow(ctx, `SELECT count(*) FROM cachewarm.river_job
			WHERE kind = 'cachewarm.warm_phase' AND state = 'running' AND args->>'phase' = 'high'`).Scan(&n)
		return n == 8, err
	})
	w1.Kill()
	killedAt := time.Now()
	release()

	running := jobCount(t, env.Pool, "warm_phase", "running")
	states := workflowStates(t, env.Pool)
	t.Logf("worker-1 killed: %d phase jobs left running, workflows %v", running, states)
	require.Equal(t, 8, running, "the killed worker's jobs stay running until rescued")
	require.Equal(t, tenants, states["running"]+states["queued"]+states["completed"])

	startWorker(t, "worker-2", wenv)
	recovered := waitWorkflowsDone(t, env.Pool, 90*time.Second)
	t.Logf("every workflow finished %s after the kill (%s after worker-2 started)", time.Since(killedAt).Round(100*time.Millisecond), recovered.Round(100*time.Millisecond))

	requireAllCompleted(t, env.Pool, tenants)
	var phaseJobs, completedJobs, rescued int
	require.NoError(t, env.Pool.QueryRow(ctx, `
SELECT count(*), count(*) FILTER (WHERE state = 'completed'),
       count(*) FILTER (WHERE errors::text LIKE '%Stuck job rescued%')
FROM cachewarm.river_job WHERE kind = 'cachewarm.warm_phase'`).Scan(&phaseJobs, &completedJobs, &rescued))
	require.Equal(t, 2*tenants, phaseJobs, "one job per tenant x phase: none lost, none duplicated")
	require.Equal(t, 2*tenants, completedJobs)
	require.Equal(t, 8, rescued, "the 8 jobs the dead worker held were rescued")
	n := verifyDatasets(t, env.Pool, env.Redis, tenantIDs(1, tenants), datasetNames(catalog.PhaseCritical, catalog.PhaseHigh))
	t.Logf("%d keys of %d tenants match the database", n, tenants)
}
