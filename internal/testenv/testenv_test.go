package testenv

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { Main(m) }

func TestNewDBIsolated(t *testing.T) {
	t.Parallel()
	tpl := NewTemplate("selftest", func(ctx context.Context, dbURL string) error {
		return execAdmin(ctx, dbURL, "CREATE TABLE marker (v int); INSERT INTO marker VALUES (42)")
	})
	a, b := NewPool(t, FromTemplate(tpl)), NewPool(t, FromTemplate(tpl))
	ctx := context.Background()
	_, err := a.Exec(ctx, "UPDATE marker SET v = 1")
	require.NoError(t, err)
	var v int
	require.NoError(t, b.QueryRow(ctx, "SELECT v FROM marker").Scan(&v))
	require.Equal(t, 42, v, "a clone must not see another clone's writes")
}

func TestNewRedisIsolated(t *testing.T) {
	t.Parallel()
	r1, _ := NewRedis(t)
	r2, _ := NewRedis(t)
	ctx := context.Background()
	require.NoError(t, r1.Set(ctx, "k", "one", 0).Err())
	n, err := r2.Exists(ctx, "k").Result()
	require.NoError(t, err)
	require.Zero(t, n, "two tests must not share a Redis DB")
}
