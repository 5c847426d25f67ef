package warm_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/capture"
	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/fixture"
	"github.com/cachewarm/cachewarm/internal/rediswrite"
	"github.com/cachewarm/cachewarm/internal/testenv"
	"github.com/cachewarm/cachewarm/internal/warm"
	"github.com/cachewarm/cachewarm/migrations"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// probeKey is the key of the probe dataset for t001: the name of account 1, read after
// sleeping as long as probe_delay says (the injected delay; real PostgreSQL, no mocks).
const probeKey = "test:probe:t001"

var t001 = cache.MustTenant("t001")

// probeVersionKey holds the version of the probe values in Redis (one per tenant x dataset
// outside a cluster with plain keys).
var probeVersionKey = rediswrite.DatasetVersionKey(t001, "probe")

type probeBundle struct {
	env    *fixture.Env
	cat    *catalog.Catalog
	warmer *warm.Warmer
}

// setupProbe gives the test a seeded database migrated with the default catalog plus the probe
// dataset (fed by chart_of_accounts, so its change trigger bumps the probe's version), a
// probe_gate table (initially open), and a warmer writing to the test's Redis DB.
//
// A probe query that reads the gate closed waits, its snapshot taken, for the advisory lock
// probeGateLock that the test holds (see holdGate): the test decides when it ends, instead of a
// sleep that a slow machine could outlast.
func setupProbe(t *testing.T) probeBundle {
	t.Helper()
	env := fixture.New(t, 1)
	ctx := context.Background()
	cat := fixture.CatalogWith(t, map[string]string{"probe": `-- phase: critical
-- ttl: 1h
-- tables: chart_of_accounts
-- key: test:probe:{tenant}
-- value: json
SELECT to_json(a.name)::text AS value
FROM probe_gate g LEFT JOIN LATERAL (SELECT pg_advisory_xact_lock_shared(` + probeGateLock + `) WHERE g.closed) s ON true
JOIN chart_of_accounts a ON a.tenant_id = $1::text AND a.id = 1`})
	_, err := env.Pool.Exec(ctx, `CREATE TABLE probe_gate (closed bool NOT NULL); INSERT INTO probe_gate VALUES (false)`)
	require.NoError(t, err)
	_, err = migrations.Migrate(ctx, env.Pool, cat, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	w := warm.New(env.Pool, rediswrite.New(env.Redis, cache.FormatJSON, cache.Keys{}, cache.DefaultInvalidationChannel), cache.Keys{}, cat, fixture.Logger(t))
	return probeBundle{env: env, cat: cat, warmer: w}
}

// probeGateLock is the advisory lock a probe query that reads the gate closed waits for.
const probeGateLock = "4242018"

// holdGate takes probeGateLock on a connection of its own and returns the function that
// releases it (also called at cleanup): until then, probe queries that read the gate closed
// wait.
func holdGate(t *testing.T, pool *pgxpool.Pool) (release func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `SELECT pg_advisory_lock(`+probeGateLock+`)`)
	require.NoError(t, err)
	var once sync.Once
	release = func() {
		once.Do(func() {
			_, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(`+probeGateLock+`)`)
			require.NoError(t, err)
			conn.Release()
		})
	}
	t.Cleanup(release)
	return release
}

// setName renames account 1 of t001 and closes or opens the probe's gate, in one transaction,
// then collects the change (which bumps the probe's version and queues its re-warm).
func setName(t *testing.T, pool *pgxpool.Pool, name string, gateClosed bool) {
	t.Helper()
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit it is a no-op
	_, err = tx.Exec(ctx, `UPDATE probe_gate SET closed = $1`, gateClosed)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `UPDATE chart_of_accounts SET name = $1 WHERE tenant_id = 't001' AND id = 1`, name)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
	_, err = capture.Collect(ctx, pool) // as a worker's collector does within milliseconds
	require.NoError(t, err)
}

// waitAtGate waits until n probe queries of the test's database wait at the gate: their
// snapshot, data and version, is taken.
func waitAtGate(t *testing.T, pool *pgxpool.Pool, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		var got int
		err := pool.QueryRow(context.Background(), `
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND state = 'active' AND wait_event_type = 'Lock' AND wait_event = 'advisory'
  AND pid <> pg_backend_pid()`).Scan(&got)
		return err == nil && got >= n
	}, 30*time.Second, 5*time.Millisecond, "a probe query waits at the gate")
}

func probeVersion(t *testing.T, pool *pgxpool.Pool) int64 {
	t.Helper()
	var v int64
	require.NoError(t, pool.QueryRow(context.Background(),
		`SELECT version FROM cachewarm.dataset_versions WHERE tenant_id = 't001' AND dataset = 'probe'`).Scan(&v))
	return v
}

// TestSlowStaleWarmIsSkipped is the stale-overwrite race: a warm that read the data before a
// change finishes after a warm that read it after; Redis keeps the newer value.
func TestSlowStaleWarmIsSkipped(t *testing.T) {
	t.Parallel()
	b := setupProbe(t)
	ctx := context.Background()
	rdb, pool := b.env.Redis, b.env.Pool

	release := holdGate(t, pool)
	setName(t, pool, "old", true)
	oldVersion := probeVersion(t, pool)
	slow := make(chan []warm.Result, 1)
	go func() {
		res, err := b.warmer.Datasets(ctx, t001, []string{"probe"})
		if err != nil {
			res = []warm.Result{{Err: err}}
		}
		slow <- res
	}()
	waitAtGate(t, pool, 1)

	setName(t, pool, "new", false)
	newVersion := probeVersion(t, pool)
	require.Greater(t, newVersion, oldVersion)
	fast, err := b.warmer.Datasets(ctx, t001, []string{"probe"})
	require.NoError(t, err)
	require.NoError(t, fast[0].Err)
	require.Equal(t, newVersion, fast[0].Version)
	require.Equal(t, 1, fast[0].Keys)
	require.Equal(t, `"new"`, rdb.Get(ctx, probeKey).Val())

	release() // the slow warm, which read the old data, goes on to write it
	res := <-slow
	require.NoError(t, res[0].Err)
	require.Equal(t, oldVersion, res[0].Version, "the slow warm read the old version with the old data")
	require.Zero(t, res[0].Keys)
	require.Equal(t, 1, res[0].Skipped, "its write was refused by the compare-and-set")
	require.Equal(t, `"new"`, rdb.Get(ctx, probeKey).Val(), "Redis kept the newer value")
	require.Equal(t, strconv.FormatInt(newVersion, 10), rdb.Get(ctx, probeVersionKey).Val())
	ttl := rdb.PTTL(ctx, probeVersionKey).Val()
	require.Greater(t, ttl, 59*time.Minute, "the version key lives as long as its value")
}

// TestChangeWhileRunningIsWarmedAgain is the lost-change race: a change commits while the
// re-warm job of the same tenant x dataset is running (having read the data before it); the
// change gets a job of its own and Redis ends with the newest data.
func TestChangeWhileRunningIsWarmedAgain(t *testing.T) {
	t.Parallel()
	for _, workers := range []string{"1", "4"} {
		t.Run("change workers "+workers, func(t *testing.T) {
			t.Parallel()
			b := setupProbe(t)
			ctx := context.Background()
			rdb, pool := b.env.Redis, b.env.Pool
			b.env.StartWorker(t, b.env.Config(t, map[string]string{"CACHEWARM_CHANGE_WORKERS": workers}), b.cat)

			release := holdGate(t, pool)
			setName(t, pool, "first", true)
			waitAtGate(t, pool, 1) // the first job runs, holding the "first" snapshot
			setName(t, pool, "second", false)
			release()

			require.Eventually(t, func() bool {
				var done, all int
				err := pool.QueryRow(ctx, `
SELECT count(*) FILTER (WHERE state = 'completed'), count(*) FROM cachewarm.river_job
WHERE kind = 'cachewarm.warm_datasets' AND args @> '{"tenant_id": "t001", "datasets": ["probe"]}'`).Scan(&done, &all)
				return err == nil && done == 2 && all == 2
			}, 10*time.Second, 10*time.Millisecond, "the change that came while the first job ran got a second job")
			require.Equal(t, `"second"`, rdb.Get(ctx, probeKey).Val())
			require.Equal(t, strconv.FormatInt(probeVersion(t, pool), 10), rdb.Get(ctx, probeVersionKey).Val())
		})
	}
}

// TestOpenChangeIsCollectedOnceCommitted: a change in a transaction still open is not seen by
// the collector (nor does the collector wait for it); a job already waiting runs with the data
// committed so far, and the change gets its re-warm once it commits.
func TestOpenChangeIsCollectedOnceCommitted(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, 1)
	ctx := context.Background()
	const key = "finance:coa:t001"
	coaJobs := func() int {
		var n int
		require.NoError(t, env.Pool.QueryRow(ctx, `SELECT count(*) FROM cachewarm.river_job WHERE args @> '{"datasets": ["chart_of_accounts"]}'`).Scan(&n))
		return n
	}

	_, err := env.Pool.Exec(ctx, `UPDATE chart_of_accounts SET name = 'first' WHERE tenant_id = 't001' AND id = 1`)
	require.NoError(t, err)
	_, err = capture.Collect(ctx, env.Pool)
	require.NoError(t, err)
	require.Equal(t, 1, coaJobs(), "the committed change is queued")

	tx, err := env.Pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit it is a no-op
	_, err = tx.Exec(ctx, `UPDATE chart_of_accounts SET name = 'second' WHERE tenant_id = 't001' AND id = 1`)
	require.NoError(t, err)
	tenants, err := capture.Collect(ctx, env.Pool)
	require.NoError(t, err, "the collector does not wait for the open transaction")
	require.Empty(t, tenants, "nor sees its change")

	env.StartWorker(t, env.Config(t, nil), nil)
	require.Eventually(t, func() bool {
		return containsName(env.Redis.Get(ctx, key).Val(), "first")
	}, 10*time.Second, 10*time.Millisecond, "the waiting job ran with the committed data")

	require.NoError(t, tx.Commit(ctx))
	require.Eventually(t, func() bool {
		return containsName(env.Redis.Get(ctx, key).Val(), "second")
	}, 10*time.Second, 10*time.Millisecond, "the change was collected after its commit and re-warmed")
	require.Equal(t, 2, coaJobs())
}

// TestLostVersionKeysDoNotWedge: Redis may evict or lose the version keys (or everything); the
// next warm writes.
func TestLostVersionKeysDoNotWedge(t *testing.T) {
	t.Parallel()
	b := setupProbe(t)
	ctx := context.Background()
	rdb, pool := b.env.Redis, b.env.Pool
	warmProbe := func() warm.Result {
		t.Helper()
		res, err := b.warmer.Datasets(ctx, t001, []string{"probe", "chart_of_accounts"})
		require.NoError(t, err)
		for _, r := range res {
			require.NoError(t, r.Err)
		}
		return res[0]
	}

	setName(t, pool, "one", false)
	require.Equal(t, 1, warmProbe().Keys)

	// The version key is evicted; the data changes: the next warm writes.
	require.NoError(t, rdb.Del(ctx, probeVersionKey).Err())
	setName(t, pool, "two", false)
	require.Equal(t, 1, warmProbe().Keys)
	require.Equal(t, `"two"`, rdb.Get(ctx, probeKey).Val())

	// The data key is evicted but its version key stays: a warm at the same version writes.
	require.NoError(t, rdb.Del(ctx, probeKey).Err())
	require.Equal(t, 1, warmProbe().Keys)
	require.Equal(t, `"two"`, rdb.Get(ctx, probeKey).Val())

	// The whole (test's own) DB is flushed, as a cache-manager reset() does.
	require.NoError(t, rdb.FlushDB(ctx).Err())
	setName(t, pool, "three", false)
	require.Equal(t, 1, warmProbe().Keys)
	require.Equal(t, `"three"`, rdb.Get(ctx, probeKey).Val())
	require.True(t, containsName(rdb.Get(ctx, "finance:coa:t001").Val(), "three"))
	members, err := rdb.SMembers(ctx, rediswrite.IndexKey(t001, "probe")).Result()
	require.NoError(t, err)
	require.Equal(t, []string{probeKey}, members, "the index is rebuilt, so invalidation still finds the key")
}

// containsName reports whether v, a JSON list of accounts, has one named name.
func containsName(v, name string) bool {
	var accounts []struct {
		Name string `json:"name"`
	}
	if json.Unmarshal([]byte(v), &accounts) != nil {
		return false
	}
	return slices.ContainsFunc(accounts, func(a struct {
		Name string `json:"name"`
	}) bool {
		return a.Name == name
	})
}

// TestOpenChangeDoesNotBlockWarm: a warm of a tenant's datasets does not wait for a change to
// them that is still open (a long import, say): it warms the committed data, and the change's
// own re-warm follows its commit.
func TestOpenChangeDoesNotBlockWarm(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, 1)
	ctx := context.Background()
	w := warm.New(env.Pool, rediswrite.New(env.Redis, cache.FormatJSON, cache.Keys{}, cache.DefaultInvalidationChannel), cache.Keys{}, mustDefault(t), fixture.Logger(t))
	_, err := w.Datasets(ctx, t001, []string{"chart_of_accounts"}) // the version row exists
	require.NoError(t, err)

	tx, err := env.Pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit it is a no-op
	_, err = tx.Exec(ctx, `UPDATE chart_of_accounts SET name = 'uncommitted' WHERE tenant_id = 't001' AND id = 1`)
	require.NoError(t, err)

	wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	res, err := w.Phase(wctx, t001, catalog.PhaseCritical)
	require.NoError(t, err)
	for _, r := range res {
		require.NoError(t, r.Err, "warm %s while a change to it is open", r.Dataset)
	}
	require.False(t, containsName(env.Redis.Get(ctx, "finance:coa:t001").Val(), "uncommitted"))
	require.NoError(t, tx.Commit(ctx))
}

func mustDefault(t *testing.T) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Default()
	require.NoError(t, err)
	return c
}

// TestDeletedRowsLeaveTheCache: a row deleted (or no longer selected) takes its key with it on
// the change's re-warm, instead of leaving it stale until its TTL.
func TestDeletedRowsLeaveTheCache(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, 1)
	ctx := context.Background()
	w := env.StartWorker(t, env.Config(t, nil), nil)
	res, err := w.Warmer().Datasets(ctx, t001, []string{"vendors", "current_period"})
	require.NoError(t, err)
	require.Empty(t, warm.Failed(res))
	require.EqualValues(t, 2, env.Redis.Exists(ctx, "sales:vendor:t001:vendorId:5", "finance:current_period:t001").Val())
	require.Zero(t, env.Redis.Exists(ctx, "sales:vendor:t001:vendorId:501").Val(), "the first 500 only")

	_, err = env.Pool.Exec(ctx, `DELETE FROM vendors WHERE tenant_id = 't001' AND id = 5`)
	require.NoError(t, err)
	_, err = env.Pool.Exec(ctx, `UPDATE financial_periods SET status = 'closed', closed_at = now()
WHERE tenant_id = 't001' AND status = 'open' AND start_date <= current_date AND end_date >= current_date`)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return env.Redis.Exists(ctx, "sales:vendor:t001:vendorId:5", "finance:current_period:t001").Val() == 0 &&
			env.Redis.Exists(ctx, "sales:vendor:t001:vendorId:501").Val() == 1
	}, 5*time.Second, 10*time.Millisecond, "the deleted vendor's key and the closed period's are gone; vendor 501 moved into the first 500")
	members := env.Redis.SMembers(ctx, rediswrite.IndexKey(t001, "vendors")).Val()
	require.Len(t, members, 505, "5 pages and 500 vendors")
	require.NotContains(t, members, "sales:vendor:t001:vendorId:5")
}

// TestFailedQueryDoesNotFailTheDatasetsAfterIt: the datasets' queries are pipelined, and a
// failing one aborts the rest of the pipeline; the datasets after it are still warmed.
func TestFailedQueryDoesNotFailTheDatasetsAfterIt(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, 1)
	ctx := context.Background()
	cat := fixture.CatalogWith(t, map[string]string{"broken": fixture.BrokenDataset(catalog.PhaseCritical)})
	_, err := migrations.Migrate(ctx, env.Pool, cat, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	w := warm.New(env.Pool, rediswrite.New(env.Redis, cache.FormatJSON, cache.Keys{}, cache.DefaultInvalidationChannel), cache.Keys{}, cat, fixture.Logger(t))

	res, err := w.Datasets(ctx, t001, []string{"current_period", "broken", "pipeline_stages", "vendors"})
	require.NoError(t, err)
	require.Len(t, res, 4)
	require.NoError(t, res[0].Err)
	require.ErrorContains(t, res[1].Err, "division by zero")
	require.NoError(t, res[2].Err, "the dataset after the failed one")
	require.NoError(t, res[3].Err)
	require.EqualValues(t, 3, env.Redis.Exists(ctx, "finance:current_period:t001", "crm:stages:t001", "sales:vendor:t001:vendorId:5").Val())
	require.Positive(t, res[3].Keys)

	// The pool is whole: every connection the warm took is back, and usable.
	require.Eventually(t, func() bool { return env.Pool.Stat().AcquiredConns() == 0 }, 5*time.Second, 10*time.Millisecond)
	res, err = w.Datasets(ctx, t001, []string{"current_period", "pipeline_stages"})
	require.NoError(t, err)
	require.Empty(t, warm.Failed(res))
}
