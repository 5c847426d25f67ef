package faults_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/fixture"
	"github.com/stretchr/testify/require"
)

// TestFlushedRedisIsRestored empties the worker's Redis DB (FLUSHDB, what a cache-manager
// reset() or an operator does; an allkeys-lru eviction loses keys the same way) after a full
// warm: `cachewarm warm --all --wait` restores every key, and so does the refresh-ahead
// schedule by itself (with cold start detection off: the first worker warms nothing by
// itself, so it does not run the detector, and the second is told not to). Then the version
// keys of the stale-overwrite guard alone are evicted: changes and warms still write (a
// missing version counts as older).
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
	began := time.Now()
	out := run(t, wenv, "warm", "--all", "--wait")
	t.Logf("after FLUSHDB of %d keys, cachewarm warm --all --wait restored them in %s: %s", keys, time.Since(began).Round(time.Millisecond), lastLine(out))
	after, err := env.Redis.DBSize(ctx).Result()
	require.NoError(t, err)
	require.Equal(t, keys, after, "the same number of keys (data, version keys, index sets) as before the flush")
	verifyDatasets(t, env.Pool, env.Redis, all, datasets)

	// 2. FLUSHDB, and nothing but the refresh-ahead schedule (critical and high every 2 s) to
	// restore the keys, while every tenant has a medium workflow queued for later: what a
	// refresh of another phase leaves behind (its workflows are spread over up to a minute),
	// and what schedules such as @every 6h and @every 3h make happen at every common tick.
	w.Stop(t)
	run(t, wenv, "warm", "--all", "--phase", "medium")
	_, err = env.Pool.Exec(ctx, `UPDATE cachewarm.river_job SET state = 'scheduled', scheduled_at = now() + interval '1 hour' WHERE state = 'available'`)
	require.NoError(t, err)
	require.NoError(t, env.Redis.FlushDB(ctx).Err())
	flushed := time.Now()
	// Cold start detection off: with warming on, the worker would see the flushed DB (no
	// sentinel, no keys, phases warmed before) as a cold start and re-warm every tenant
	// itself. This part is about what the refresh-ahead schedule restores without it;
	// test/cold covers the detector.
	rw := startWorker(t, "worker-refresh", workerEnv(env, map[string]string{
		"CACHE_WARMING_ENABLED": "true", "CACHEWARM_STARTUP_WARM": "false", "CACHE_WARMING_PHASE3_ENABLED": "true", "CACHEWARM_COLD_CHECK": "off",
		"CACHEWARM_WORKERS": "4", "CACHE_REFRESH_CRITICAL": "@every 2s", "CACHE_REFRESH_HIGH": "@every 2s", "CACHE_REFRESH_MEDIUM": "@every 1h",
	}))
	critHigh := datasetNames(catalog.PhaseCritical, catalog.PhaseHigh)
	var sample []string // a key of every critical and high dataset that has a fixed one
	for _, id := range all {
		for _, f := range []string{"finance:coa:%s", "finance:periods:%s:window:current", "crm:stages:%s", "sales:kits:%s",
			"sales:pricing:%s:effective:current", "sales:vendors:%s:page:5:limit:100", "sales:customers:%s:page:5:limit:100",
			"sales:materials:%s:page:10:limit:100"} {
			sample = append(sample, fmt.Sprintf(f, id))
		}
	}
	waitFor(t, time.Minute, "the refresh-ahead to restore every critical and high key", func() (bool, error) {
		n, err := env.Redis.Exists(ctx, sample...).Result()
		return int(n) == len(sample), err
	})
	verifyDatasets(t, env.Pool, env.Redis, all, critHigh)
	var refreshed int
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT count(*) FROM cachewarm.river_job WHERE kind = 'cachewarm.warm_datasets' AND args->>'reason' = 'refresh'`).Scan(&refreshed))
	t.Logf("after another FLUSHDB, with every tenant busy with a queued medium workflow, the refresh-ahead schedule (@every 2s) restored every critical and high key %s after the flush (%d dataset re-warms)",
		time.Since(flushed).Round(100*time.Millisecond), refreshed)
	require.NotZero(t, refreshed)
	// Drain without the schedule, which would keep starting workflows every 2 s.
	rw.Stop(t)
	_, err = env.Pool.Exec(ctx, `UPDATE cachewarm.river_job SET state = 'available', scheduled_at = now() WHERE state = 'scheduled' AND kind = 'cachewarm.warm_phase'`)
	require.NoError(t, err)
	startWorker(t, "worker-3", wenv)
	waitWorkflowsDone(t, env.Pool, time.Minute)
	verifyDatasets(t, env.Pool, env.Redis, all, datasets)

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
