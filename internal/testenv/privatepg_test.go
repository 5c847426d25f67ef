package testenv

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

func TestPrivatePostgres(t *testing.T) {
	t.Parallel()
	p := NewPrivatePostgres(t, PrivatePostgresOptions{Settings: map[string]string{"max_slot_wal_keep_size": "64MB"}})
	ctx := context.Background()
	dbURL := p.NewDB(t)
	setting := func(name string) string {
		conn, err := pgx.Connect(ctx, dbURL)
		require.NoError(t, err)
		defer conn.Close(ctx)
		var v string
		require.NoError(t, conn.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&v))
		return v
	}
	require.Equal(t, "logical", setting("wal_level"))
	require.Equal(t, "64MB", setting("max_slot_wal_keep_size"))

	conn, err := pgx.Connect(ctx, dbURL)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (7)")
	require.NoError(t, err)
	require.NoError(t, conn.Close(ctx))

	for _, mode := range []StopMode{StopImmediate, StopFast} {
		require.NoError(t, p.Restart(ctx, mode))
		conn, err := pgx.Connect(ctx, dbURL)
		require.NoError(t, err, "the server answers after a restart")
		var v int
		require.NoError(t, conn.QueryRow(ctx, "SELECT v FROM kept").Scan(&v), "committed data survives the restart")
		require.Equal(t, 7, v)
		require.NoError(t, conn.Close(ctx))
	}
	require.NoError(t, p.Stop(StopFast))
	require.Zero(t, p.PID(), "stopped")
	require.Error(t, pingPostgres(ctx, dbURL), "nothing answers while stopped")
	require.NoError(t, p.Start(ctx))
	require.Positive(t, p.PID())
	require.NoError(t, pingPostgres(ctx, dbURL), "it answers after Start")
	require.Contains(t, p.LogTail(), "database system is ready to accept connections")

	require.NoError(t, p.Close())
	require.NoError(t, p.Close(), "Close is idempotent")
	require.NoDirExists(t, p.dir)
}
