package faults_test

import (
	"context"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/fixture"
	"github.com/stretchr/testify/require"
)

// TestFlushedRedisIsRestored empties the worker's Redis DB (FLUSHDB, what a cache-manager
// reset() or an operator does; an allkeys-lru eviction loses keys the same way) after a full
// warm: `cachewarm warm --all --wait` restores every key, and so does the refresh-ahead
// schedule by itself. Then the version keys of the stale-overwrite guard alone are evicted:
// changes and warms still write (a missing version counts as older).
func TestFlushedRedisIsRestored(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, tenants)
	ctx := context.Background()
	wenv := workerEnv(env, map[string]string{"CACHE_WARMING_PHASE3_ENABLED": "true", "CACHEWARM_WORKERS": "4"})
	all := tenantIDs(1, tenants)
	datasets := datasetNames(catalog.Phases...)

	w := startWorker(t, "worker", wenv)
	run(t, wenv, "warm", "--all", "--wait")
	keys, err := env.Redis.DBSize(ctx).Result()
	require.NoError(t, err)
	verifyDatasets(t, env.Pool, env.Redis, all, datasets)

	// 1. FLUSHDB, then a warm from the command line.
	require.NoError(t, env.Redis.FlushDB(ctx).Err())
	start := time.Now()
	out := run(t, wenv, "warm", "--all", "--wait")
	t.Logf("after FLUSHDB of %d keys, cachewarm warm --all --wait restored them in %s: %s", keys, time.Since(start).Round(time.Millisecond), lastLine(out))
	after, err := env.Redis.DBSize(ctx).Result()
	require.NoError(t, err)
	require.Equal(t, keys, after, "the same number of keys (data, version keys, index sets) as before the flush")
	verifyDatasets(t, env.Pool, env.Redis, all, datasets)

	// 2. FLUSHDB under a worker whose refresh-ahead schedule runs every 3 s: nothing else
	// restores the keys.
	w.stop(t)
	rw := startWorker(t, "worker-refresh", workerEnv(env, map[string]string{
		"CACHE_WARMING_ENABLED": "true", "CACHE_WARMING_PHASE3_ENABLED": "true", "CACHEWARM_WORKERS": "4",
		"CACHE_REFRESH_CRITICAL": "@every 3s", "CACHE_REFRESH_HIGH": "@every 3s", "CACHE_REFRESH_MEDIUM": "@every 3s",
	}))
	waitWorkflowsDone(t, env.Pool, time.Minute) // the startup warm
	require.NoError(t, env.Redis.FlushDB(ctx).Err())
	flushed := time.Now()
	waitFor(t, time.Minute, "the refresh-ahead to restore every key", func() (bool, error) {
		n, err := env.Redis.DBSize(ctx).Result()
		return n == keys, err
	})
	t.Logf("after another FLUSHDB, the refresh-ahead schedule (@every 3s) restored every key %s after the flush", time.Since(flushed).Round(100*time.Millisecond))
	rw.stop(t)
	verifyDatasets(t, env.Pool, env.Redis, all, datasets)
	startWorker(t, "worker-3", wenv)

	// 3. Only the version keys evicted: a change and a warm still write.
	var deleted int
	for _, pattern := range []string{"cachewarm:ver:*", "{*}:ver"} { // per dataset, per key
		iter := env.Redis.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			require.NoError(t, env.Redis.Del(ctx, iter.Val()).Err())
			deleted++
		}
		require.NoError(t, iter.Err())
	}
	require.NotZero(t, deleted)
	_, err = env.Pool.Exec(ctx, `UPDATE vendors SET name = 'after the version keys went' WHERE tenant_id = 't003' AND id = (SELECT min(id) FROM vendors WHERE tenant_id = 't003')`)
	require.NoError(t, err)
	waitChangesDone(t, env.Pool, 30*time.Second)
	page, err := env.Redis.Get(ctx, "sales:vendors:t003:page:1:limit:100").Result()
	require.NoError(t, err)
	require.Contains(t, page, "after the version keys went")
	require.NoError(t, env.Redis.Del(ctx, "finance:coa:t004").Err()) // a data key evicted, its version kept
	run(t, wenv, "warm", "--tenant", "t004", "--wait")
	verifyDatasets(t, env.Pool, env.Redis, all, datasets)
	t.Logf("%d version keys deleted: the change re-warm and the next warm wrote as usual", deleted)
}

func lastLine(s string) string {
	for len(s) > 0 && s[len(s)-1] == '\n' {
		s = s[:len(s)-1]
	}
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '\n' {
			return s[i+1:]
		}
	}
	return s
}
