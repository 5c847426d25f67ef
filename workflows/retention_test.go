package workflows

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/testenv"
	"github.com/cachewarm/cachewarm/migrations"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

func migrated(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool := testenv.NewPool(t)
	cat, err := catalog.Default()
	require.NoError(t, err)
	_, err = migrations.Migrate(context.Background(), pool, cat, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	return pool
}

// TestPrune: finished workflows older than the retention go, with their phases, in batches;
// recent ones and unfinished ones stay, however old.
func TestPrune(t *testing.T) {
	t.Parallel()
	pool := migrated(t)
	ctx := context.Background()
	_, err := pool.Exec(ctx, `
INSERT INTO cachewarm.workflow_runs (tenant_id, trigger, phases, state, created_at, finished_at)
SELECT 'old' || g, 'test', ARRAY['critical'], (ARRAY['completed', 'partial', 'failed', 'cancelled'])[1 + g % 4],
       now() - interval '9 days', now() - interval '8 days' - g * interval '1 second'
FROM generate_series(1, 12000) g;
INSERT INTO cachewarm.workflow_runs (tenant_id, trigger, phases, state, created_at, finished_at) VALUES
    ('recent', 'test', ARRAY['critical'], 'failed', now() - interval '6 days', now() - interval '6 days'),
    ('stuck', 'test', ARRAY['critical'], 'running', now() - interval '30 days', NULL),
    ('waiting', 'test', ARRAY['critical'], 'queued', now() - interval '30 days', NULL);
INSERT INTO cachewarm.workflow_phases (workflow_id, phase, state, job_id, attempts, queued_at, started_at, finished_at)
SELECT id, 'critical', 'completed', id, 1, created_at, created_at, coalesce(finished_at, now()) FROM cachewarm.workflow_runs;`)
	require.NoError(t, err)

	s := New(pool, slog.New(slog.DiscardHandler))
	n, err := s.Prune(ctx, 7*24*time.Hour)
	require.NoError(t, err)
	require.EqualValues(t, 12000, n, "every old finished run, in several batches")
	var left []string
	rows, err := pool.Query(ctx, `SELECT tenant_id FROM cachewarm.workflow_runs ORDER BY tenant_id`)
	require.NoError(t, err)
	for rows.Next() {
		var id string
		require.NoError(t, rows.Scan(&id))
		left = append(left, id)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"recent", "stuck", "waiting"}, left)
	var phases int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM cachewarm.workflow_phases`).Scan(&phases))
	require.Equal(t, 3, phases, "the deleted runs' phases went with them")

	n, err = s.Prune(ctx, 5*24*time.Hour)
	require.NoError(t, err)
	require.EqualValues(t, 1, n, "a shorter retention takes the recent failure too")
}

// TestListFailedUsesIndex: over many completed workflows and few failed ones, what
// `status --failed` and ?failed=true ask is read through the partial indexes of unsuccessful
// workflows, not by walking every workflow newest first.
func TestListFailedUsesIndex(t *testing.T) {
	t.Parallel()
	pool := migrated(t)
	ctx := context.Background()
	_, err := pool.Exec(ctx, `
INSERT INTO cachewarm.workflow_runs (tenant_id, trigger, phases, state, created_at, finished_at)
SELECT 't' || (g % 3), 'test', ARRAY['critical'], CASE WHEN g % 5000 = 0 THEN 'failed' ELSE 'completed' END,
       now() - g * interval '1 second', now() - g * interval '1 second'
FROM generate_series(1, 60000) g;
ANALYZE cachewarm.workflow_runs;`)
	require.NoError(t, err)

	var plan string
	require.NoError(t, pool.QueryRow(ctx, `EXPLAIN (FORMAT JSON) `+ListSQL(false, true), 20).Scan(&plan))
	require.Contains(t, plan, `"Index Name": "workflow_runs_unsuccessful"`)
	require.NoError(t, pool.QueryRow(ctx, `EXPLAIN (FORMAT JSON) `+ListSQL(true, true), 20, "t1").Scan(&plan))
	require.Contains(t, plan, `"Index Name": "workflow_runs_tenant_unsuccessful"`)

	s := New(pool, slog.New(slog.DiscardHandler))
	all, err := s.List(ctx, Filter{Failed: true, Limit: 100})
	require.NoError(t, err)
	require.Len(t, all, 12)
	for i, w := range all {
		require.Equal(t, StateFailed, w.State)
		if i > 0 {
			require.False(t, w.CreatedAt.After(all[i-1].CreatedAt), "newest first")
		}
	}
	one, err := s.List(ctx, Filter{Tenant: "t1", Failed: true, Limit: 100})
	require.NoError(t, err)
	require.NotEmpty(t, one)
	for _, w := range one {
		require.Equal(t, "t1", w.Tenant)
		require.Equal(t, StateFailed, w.State)
	}
	recent, err := s.List(ctx, Filter{Tenant: "t2"})
	require.NoError(t, err)
	require.Len(t, recent, 20)
}
