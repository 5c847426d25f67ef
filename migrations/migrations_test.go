package migrations_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/testenv"
	"github.com/cachewarm/cachewarm/migrations"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestMigrateIdempotent(t *testing.T) {
	t.Parallel()
	pool := testenv.NewPool(t)
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	cat, err := catalog.Default()
	require.NoError(t, err)

	first, err := migrations.Migrate(ctx, pool, cat, logger)
	require.NoError(t, err)
	require.NotEmpty(t, first.River)
	require.NotEmpty(t, first.Own)

	second, err := migrations.Migrate(ctx, pool, cat, logger)
	require.NoError(t, err)
	require.Empty(t, second.River, "a second migrate applies nothing")
	require.Empty(t, second.Own)

	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'cachewarm' AND tablename IN ('river_job', 'workflow_runs', 'dataset_versions')`).Scan(&n))
	require.Equal(t, 3, n)
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&n))
	require.Zero(t, n, "migrate creates nothing outside schema cachewarm")
}
