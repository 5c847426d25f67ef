package workflows

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/testenv"
	"github.com/cachewarm/cachewarm/migrations"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// Marking a workflow running must find its row by key, however few active workflows the
// statistics count. Taken before a warm of every tenant, they count none; during it, all of
// them are active, and a plan through the partial index of active workflows read them all for
// each call.
func TestMarkRunningLooksUpTheRowByKey(t *testing.T) {
	t.Parallel()
	pool := testenv.NewPool(t)
	ctx := context.Background()
	cat, err := catalog.Default()
	require.NoError(t, err)
	_, err = migrations.Migrate(ctx, pool, cat, slog.New(slog.DiscardHandler))
	require.NoError(t, err)

	_, err = pool.Exec(ctx, `
INSERT INTO cachewarm.workflow_runs (tenant_id, trigger, phases, state, finished_at)
SELECT 't' || g, 'test', ARRAY['critical'], 'completed', now() FROM generate_series(1, 2000) g`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `ANALYZE cachewarm.workflow_runs`)
	require.NoError(t, err)
	var id int64
	require.NoError(t, pool.QueryRow(ctx, `
INSERT INTO cachewarm.workflow_runs (tenant_id, trigger, phases)
SELECT 't' || g, 'test', ARRAY['critical'] FROM generate_series(1, 1000) g
RETURNING id`).Scan(&id))

	var plan string
	require.NoError(t, pool.QueryRow(ctx, `EXPLAIN (FORMAT JSON) `+markRunningSQL, id, time.Now()).Scan(&plan))
	require.Contains(t, plan, `"Index Name": "workflow_runs_pkey"`)
	require.NotContains(t, plan, "workflow_runs_one_active")
}
