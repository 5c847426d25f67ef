package budget_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/internal/budget"
	"github.com/cachewarm/cachewarm/internal/fixture"
	"github.com/cachewarm/cachewarm/internal/testenv"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// TestWarmsCloseFinished: a recorded warm stays open while any of its workflows is queued or
// running, is closed by CloseFinished once all have ended, with the keys Redis evicted in
// between, and a later End (warm --wait) keeps the leader's close.
func TestWarmsCloseFinished(t *testing.T) {
	ctx := context.Background()
	env := fixture.New(t, 2)
	srv := testenv.NewRedisServer(t, "--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru")
	rdb := srv.Client("")
	warms := budget.NewWarms(env.Pool, rdb)

	var done, running int64
	require.NoError(t, env.Pool.QueryRow(ctx, `INSERT INTO cachewarm.workflow_runs (tenant_id, trigger, phases, state, finished_at)
VALUES ('t001', 'cli', '{critical}', 'completed', now()) RETURNING id`).Scan(&done))
	require.NoError(t, env.Pool.QueryRow(ctx, `INSERT INTO cachewarm.workflow_runs (tenant_id, trigger, phases, state, started_at)
VALUES ('t002', 'cli', '{critical}', 'running', now()) RETURNING id`).Scan(&running))

	begin := func(ids ...int64) int64 {
		m, err := warms.Mark(ctx)
		require.NoError(t, err)
		var id int64
		require.NoError(t, pgx.BeginFunc(ctx, env.Pool, func(tx pgx.Tx) error {
			id, err = warms.Begin(ctx, tx, m, "refresh", ids)
			return err
		}))
		return id
	}
	ended := begin(done)
	open := begin(done, running)
	found, err := warms.Of(ctx, []int64{done, running})
	require.NoError(t, err)
	require.Equal(t, open, found)

	// 8 MiB of values into a 4 MiB Redis: it evicts.
	value := strings.Repeat("x", 64<<10)
	for i := range 128 {
		require.NoError(t, rdb.Set(ctx, "filler:"+string(rune('a'+i%26))+strings.Repeat("!", i/26), value, 0).Err())
	}

	n, err := warms.CloseFinished(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, n, "only the warm whose workflows have all ended is closed")
	var finished *time.Time
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT finished_at FROM cachewarm.warms WHERE id = $1`, open).Scan(&finished))
	require.Nil(t, finished, "a warm with a running workflow stays open")

	var closedAt time.Time
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT finished_at FROM cachewarm.warms WHERE id = $1`, ended).Scan(&closedAt))
	report, err := warms.End(ctx, ended)
	require.NoError(t, err)
	require.Positive(t, report.Evicted, "the evictions between the warm's start and its close")
	require.NotNil(t, report.FinishedAt)
	require.True(t, report.FinishedAt.Equal(closedAt), "End keeps the close's time: %s, not %s", closedAt, report.FinishedAt)

	_, err = env.Pool.Exec(ctx, `UPDATE cachewarm.workflow_runs SET state = 'completed', finished_at = now() WHERE id = $1`, running)
	require.NoError(t, err)
	n, err = warms.CloseFinished(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	n, err = warms.CloseFinished(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "nothing left to close")
}
