package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/internal/fixture"
	"github.com/stretchr/testify/require"
)

// TestWorkerPrunesOldWorkflows: the worker's periodic reap job (run at start) deletes the
// workflows that finished before CACHEWARM_WORKFLOW_RETENTION and keeps the newer ones.
func TestWorkerPrunesOldWorkflows(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, 1)
	ctx := context.Background()
	_, err := env.Pool.Exec(ctx, `
INSERT INTO cachewarm.workflow_runs (tenant_id, trigger, phases, state, created_at, finished_at) VALUES
    ('t001', 'test', ARRAY['critical'], 'completed', now() - interval '3 days', now() - interval '3 days'),
    ('t001', 'test', ARRAY['critical'], 'failed', now() - interval '49 hours', now() - interval '49 hours'),
    ('t001', 'test', ARRAY['critical'], 'completed', now() - interval '1 hour', now() - interval '1 hour')`)
	require.NoError(t, err)
	env.StartWorker(t, env.Config(t, map[string]string{"CACHEWARM_WORKFLOW_RETENTION": "48h"}), nil)
	count := func() int {
		var n int
		require.NoError(t, env.Pool.QueryRow(ctx, `SELECT count(*) FROM cachewarm.workflow_runs`).Scan(&n))
		return n
	}
	require.Eventually(t, func() bool { return count() == 1 }, 30*time.Second, 20*time.Millisecond, "the two runs older than 48h are deleted")
	require.Eventually(t, func() bool {
		var reaped int
		require.NoError(t, env.Pool.QueryRow(ctx, `SELECT count(*) FROM cachewarm.river_job WHERE kind = 'cachewarm.reap' AND state = 'completed'`).Scan(&reaped))
		return reaped > 0
	}, 30*time.Second, 20*time.Millisecond, "by the reap job, which completes")
}
