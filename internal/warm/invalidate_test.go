package warm_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/fixture"
	"github.com/cachewarm/cachewarm/internal/rediswrite"
	"github.com/cachewarm/cachewarm/internal/warm"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// keyState is a key's value and TTL.
type keyState struct {
	Value string
	TTL   time.Duration
}

// keysByTenant reads every key of the test's own Redis DB, grouped by the tenant it belongs
// to: the third segment of a data key, the hash tag of cachewarm's own keys.
func keysByTenant(t *testing.T, rdb *redis.Client) map[string]map[string]keyState {
	t.Helper()
	ctx := context.Background()
	out := map[string]map[string]keyState{}
	iter := rdb.Scan(ctx, 0, "", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		var tenant string
		if i := strings.IndexByte(k, '{'); strings.HasPrefix(k, "cachewarm:") && i >= 0 {
			tenant = k[i+1 : i+strings.IndexByte(k[i:], '}')]
		} else if parts := strings.SplitN(k, ":", 4); len(parts) >= 3 {
			tenant = parts[2]
		}
		if out[tenant] == nil {
			out[tenant] = map[string]keyState{}
		}
		var v string
		if rdb.Type(ctx, k).Val() == "string" {
			v = rdb.Get(ctx, k).Val()
		}
		out[tenant][k] = keyState{Value: v, TTL: rdb.PTTL(ctx, k).Val().Round(time.Hour)}
	}
	require.NoError(t, iter.Err())
	return out
}

func dataKeys(keys map[string]keyState) int {
	n := 0
	for k := range keys {
		if !strings.HasPrefix(k, "cachewarm:") {
			n++
		}
	}
	return n
}

func TestInvalidateIsTenantExact(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, 1)
	ctx := context.Background()
	for _, id := range []string{"t1", "t10", "t1x"} {
		env.CloneTenant(t, "t001", id)
	}
	// The copies queued change re-warms; no worker runs here: drop them.
	_, err := env.Pool.Exec(ctx, `DELETE FROM cachewarm.river_job`)
	require.NoError(t, err)
	cat := mustDefault(t)
	w := warm.New(env.Pool, rediswrite.New(env.Redis, cache.FormatJSON, cache.Keys{}, cache.DefaultInvalidationChannel), cache.Keys{}, cat, fixture.Logger(t))
	for _, id := range []string{"t1", "t10", "t1x"} {
		res, err := w.Datasets(ctx, cache.MustTenant(id), cat.Names())
		require.NoError(t, err)
		require.Empty(t, warm.Failed(res))
	}
	before := keysByTenant(t, env.Redis)
	require.Len(t, before, 3)
	n := dataKeys(before["t1"])
	require.Greater(t, n, 2000)
	require.Equal(t, n, dataKeys(before["t10"]))

	res, err := w.Invalidate(ctx, cache.MustTenant("t1"), nil, false, "test")
	require.NoError(t, err)
	require.Equal(t, n, res.Deleted, "every key of t1")
	require.Zero(t, res.Rewarm)
	require.Equal(t, cat.Names(), res.Datasets)
	after := keysByTenant(t, env.Redis)
	require.Zero(t, dataKeys(after["t1"]), "t1 has no data key left")
	require.Equal(t, before["t10"], after["t10"], "t10 is untouched: same keys, values and TTLs")
	require.Equal(t, before["t1x"], after["t1x"], "t1x is untouched")

	// Some datasets of one tenant.
	res, err = w.Invalidate(ctx, cache.MustTenant("t10"), []string{"vendors", "chart_of_accounts"}, false, "test")
	require.NoError(t, err)
	require.Equal(t, 506, res.Deleted, "5 pages, 500 vendors and the chart")
	again := keysByTenant(t, env.Redis)
	require.Zero(t, env.Redis.Exists(ctx, "finance:coa:t10", "sales:vendor:t10:vendorId:1").Val())
	require.EqualValues(t, 1, env.Redis.Exists(ctx, "sales:customer:t10:customerId:1").Val())
	require.Equal(t, n-506, dataKeys(again["t10"]))
	require.Equal(t, before["t1x"], again["t1x"])

	// Names are checked before anything is removed.
	_, err = w.Invalidate(ctx, cache.MustTenant("t1x"), []string{"vendors", "coa"}, true, "test")
	require.ErrorContains(t, err, `unknown dataset "coa"`)
	require.Equal(t, before["t1x"], keysByTenant(t, env.Redis)["t1x"])

	// With re-warm: the removed datasets are queued (and only those).
	res, err = w.Invalidate(ctx, cache.MustTenant("t1x"), []string{"vendors"}, true, "test")
	require.NoError(t, err)
	require.Equal(t, 1, res.Rewarm)
	var queued int
	require.NoError(t, env.Pool.QueryRow(ctx, `
SELECT count(*) FROM cachewarm.river_job WHERE args @> '{"tenant_id": "t1x", "datasets": ["vendors"], "reason": "test"}'`).Scan(&queued))
	require.Equal(t, 1, queued)
}
