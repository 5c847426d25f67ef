// Package cold_test empties the Redis that a running worker keeps warm (a restart without
// persistence, FLUSHALL, a cluster master restarted empty) and checks that every key comes
// back by itself, that /health says the cache is cold meanwhile, and that a restart that
// reloads its data is not taken for a cold start.
package cold_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/cli"
	"github.com/cachewarm/cachewarm/internal/demodata"
	"github.com/cachewarm/cachewarm/internal/fixture"
	"github.com/cachewarm/cachewarm/internal/testenv"
	"github.com/cachewarm/cachewarm/workflows"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// tenants is how many seeded tenants each test warms.
const tenants = 4

// bundle is a seeded database and a worker (HTTP included) keeping a Redis of the test's own
// warm, with cold start checks every 200 ms.
type bundle struct {
	env  *fixture.Env
	w    *fixture.Worker
	base string // the worker's HTTP base URL
	rdb  redis.UniversalClient
	cat  *catalog.Catalog
	// want is every key the dataset queries yield, read once: the tests lock tables that
	// the queries read.
	want map[string]fixture.Expected
	// cliEnv is the environment of a cachewarm command on the same database and Redis.
	cliEnv map[string]string
}

func setup(t *testing.T, redisEnv map[string]string) *bundle {
	t.Helper()
	env := fixture.New(t, tenants)
	o := map[string]string{"CACHE_WARMING_ENABLED": "true", "CACHEWARM_COLD_CHECK": "200ms", "CACHEWARM_WORKERS": "8"}
	for k, v := range redisEnv {
		o[k] = v
	}
	cfg := env.Config(t, o)
	w, base := env.StartWorkerHTTP(t, cfg, nil)
	cat, err := catalog.Default()
	require.NoError(t, err)
	b := &bundle{env: env, w: w, base: base, rdb: w.Redis, cat: cat, cliEnv: map[string]string{"DATABASE_URL": env.DBURL}}
	maps.Copy(b.cliEnv, redisEnv)
	b.want = map[string]fixture.Expected{}
	for k := 1; k <= tenants; k++ {
		want, _ := env.Expect(t, cat, cache.Keys{}, demodata.TenantID(k))
		maps.Copy(b.want, want)
	}
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	b.waitKeys(t, "the startup warm", nil)
	env.WaitWorkflows(t, time.Minute)
	require.Zero(t, b.coldStarts(t), "the startup warm of a new install is no cold start")
	return b
}

// expected returns every key the datasets of phases (all: nil) yield for every tenant.
func (b *bundle) expected(t *testing.T, phases ...catalog.Phase) map[string]fixture.Expected {
	t.Helper()
	all := map[string]fixture.Expected{}
	for key, e := range b.want {
		d, err := b.cat.Lookup(e.Dataset)
		require.NoError(t, err)
		if phases == nil || slices.Contains(phases, d.Phase) {
			all[key] = e
		}
	}
	require.NotEmpty(t, all)
	return all
}

// verify requires every key of phases (nil: all) to hold what the dataset queries say.
func (b *bundle) verify(t *testing.T, phases []catalog.Phase) {
	t.Helper()
	fixture.RequireKeys(t, b.rdb, cache.FormatJSON, b.expected(t, phases...))
}

// waitKeys waits until every key of phases (nil: all) exists.
func (b *bundle) waitKeys(t *testing.T, what string, phases []catalog.Phase) {
	t.Helper()
	want := b.expected(t, phases...)
	ctx := context.Background()
	testenv.WaitFor(t, time.Minute, what, func() (bool, error) {
		pipe := b.rdb.Pipeline()
		cmds := make([]*redis.IntCmd, 0, len(want))
		for k := range want {
			cmds = append(cmds, pipe.Exists(ctx, k))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return false, nil // Redis may be restarting
		}
		for _, c := range cmds {
			if c.Val() == 0 {
				return false, nil
			}
		}
		return true, nil
	})
	b.verify(t, phases)
}

// status runs `cachewarm status` in the test's process and returns its output.
func (b *bundle) status(t *testing.T) string {
	t.Helper()
	var out, errOut strings.Builder
	err := cli.Run(context.Background(), []string{"status"}, func(k string) (string, bool) { v, ok := b.cliEnv[k]; return v, ok }, &out, &errOut)
	require.NoError(t, err, errOut.String())
	return out.String()
}

func (b *bundle) coldStarts(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, b.env.Pool.QueryRow(context.Background(), `SELECT count(*) FROM cachewarm.cold_starts`).Scan(&n))
	return n
}

type healthBody struct {
	Status string `json:"status"`
	Reason string `json:"reason"`
}

func (b *bundle) health(t *testing.T) (int, healthBody) {
	t.Helper()
	resp, err := http.Get(b.base + "/health")
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var h healthBody
	require.NoError(t, json.Unmarshal(raw, &h), string(raw))
	return resp.StatusCode, h
}

// metric returns the value of the sample named exactly series (labels included) on /metrics.
func (b *bundle) metric(t *testing.T, series string) float64 {
	t.Helper()
	resp, err := http.Get(b.base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	for line := range strings.SplitSeq(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			require.NoError(t, err)
			return f
		}
	}
	return 0
}

// lockTables holds an exclusive lock on tables until release: the phases that read them
// wait, so that the re-warm stays visibly under way.
func lockTables(t *testing.T, pool *pgxpool.Pool, tables ...string) (release func()) {
	t.Helper()
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	for _, tbl := range tables {
		_, err = tx.Exec(ctx, "LOCK TABLE "+pgx.Identifier{tbl}.Sanitize()+" IN ACCESS EXCLUSIVE MODE")
		require.NoError(t, err)
	}
	done := false
	release = func() {
		if !done {
			done = true
			_ = tx.Rollback(ctx)
		}
	}
	t.Cleanup(release)
	return release
}

// coldStartRewarms empties Redis with empty, then requires: a cold start recorded, /health
// degraded with a reason while the re-warm runs (held up by a lock on vendors), every
// tenant's critical keys back before that lock goes, then every key back, /health ok again,
// and the metrics counting it.
func (b *bundle) coldStartRewarms(t *testing.T, how string, empty func()) {
	t.Helper()
	ctx := context.Background()
	before := b.coldStarts(t)
	release := lockTables(t, b.env.Pool, "vendors")
	empty()
	testenv.WaitFor(t, 30*time.Second, how+": /health says the cache is cold", func() (bool, error) {
		code, h := b.health(t)
		return code == http.StatusOK && h.Status == "degraded" && strings.Contains(h.Reason, "cache cold: Redis came back empty"), nil
	})
	_, h := b.health(t)
	t.Logf("%s: /health: %+v", how, h)
	require.Contains(t, h.Reason, fmt.Sprintf("re-warming %d tenants", tenants))
	require.Equal(t, before+1, b.coldStarts(t))
	require.Equal(t, 1.0, b.metric(t, "cachewarm_cache_cold"))
	require.Contains(t, b.status(t), "re-warm running")
	b.waitKeys(t, how+": every tenant's critical keys back while the high phase waits", []catalog.Phase{catalog.PhaseCritical})

	release()
	b.waitKeys(t, how+": every key back", nil)
	testenv.WaitFor(t, time.Minute, how+": /health ok again", func() (bool, error) {
		code, h := b.health(t)
		return code == http.StatusOK && h.Status == "ok" && h.Reason == "", nil
	})
	require.Equal(t, 0.0, b.metric(t, "cachewarm_cache_cold"))
	require.Equal(t, float64(before+1), b.metric(t, "cachewarm_cold_starts_total"))
	var (
		node          string
		runs          int
		finished      bool
		triggerCounts int
	)
	testenv.WaitFor(t, 10*time.Second, how+": the leader closes the cold start", func() (bool, error) {
		err := b.env.Pool.QueryRow(ctx, `SELECT node, tenants, finished_at IS NOT NULL FROM cachewarm.cold_starts ORDER BY id DESC LIMIT 1`).Scan(&node, &runs, &finished)
		return finished, err
	})
	require.Equal(t, tenants, runs)
	st := b.status(t)
	t.Logf("%s: cachewarm status: %s", how, strings.SplitN(st, "\n", 3)[1])
	require.Regexp(t, `last cold start: .*, Redis 127\.0\.0\.1:\d+ came back empty \(\d+ keys before\), 4 tenants re-warmed; re-warm done in `, st)
	require.NoError(t, b.env.Pool.QueryRow(ctx, `SELECT count(*) FROM cachewarm.workflow_runs WHERE trigger = 'cold-start'`).Scan(&triggerCounts))
	require.Equal(t, tenants*(before+1), triggerCounts, "one cold-start workflow per tenant and cold start")
}

// TestRedisEmptiedIsRewarmed: a Redis restarted without persistence, then FLUSHALL, are
// each noticed and re-warmed by the worker alone; a restart that reloads its RDB file is not
// a cold start.
func TestRedisEmptiedIsRewarmed(t *testing.T) {
	t.Parallel()
	rs := testenv.NewRedisServer(t)
	b := setup(t, map[string]string{"REDIS_URL": rs.URL("")})
	ctx := context.Background()
	admin := rs.Client("")

	b.coldStartRewarms(t, "restart without persistence", rs.Restart)
	b.coldStartRewarms(t, "FLUSHALL", func() { require.NoError(t, admin.FlushAll(ctx).Err()) })

	// SAVE, then a restart: Redis loads dump.rdb, sentinel included: no cold start.
	require.NoError(t, admin.Save(ctx).Err())
	keys, err := admin.DBSize(ctx).Result()
	require.NoError(t, err)
	cold, ok := b.coldStarts(t), `cachewarm_cold_checks_total{result="ok"}`
	rs.Restart()
	checks := b.metric(t, ok)
	testenv.WaitFor(t, 30*time.Second, "two good checks after the restart", func() (bool, error) {
		return b.metric(t, ok) >= checks+2, nil
	})
	require.Equal(t, cold, b.coldStarts(t), "a restart that reloaded its data is no cold start")
	after, err := admin.DBSize(ctx).Result()
	require.NoError(t, err)
	require.Equal(t, keys, after)
	_, h := b.health(t)
	require.Equal(t, "ok", h.Status)
	b.verify(t, nil)
}

// TestClusterNodeRestartedEmpty: one master of a Redis Cluster restarted without persistence
// (same node id and slots, no data): its keys come back by themselves.
func TestClusterNodeRestartedEmpty(t *testing.T) {
	t.Parallel()
	cl := testenv.NewCluster(t)
	b := setup(t, map[string]string{"REDIS_CLUSTER_ADDRS": cl.AddrList(), "REDIS_URL": ""})
	ctx := context.Background()
	require.NoError(t, b.rdb.(*redis.ClusterClient).ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		n, err := c.DBSize(ctx).Result()
		if err == nil && n < 2 {
			err = fmt.Errorf("master %s holds %d keys before the restart", c.Options().Addr, n)
		}
		return err
	}))

	require.NoError(t, cl.RestartNode(ctx, 1))
	testenv.WaitFor(t, time.Minute, "a cold start recorded", func() (bool, error) { return b.coldStarts(t) == 1, nil })
	var node string
	require.NoError(t, b.env.Pool.QueryRow(ctx, `SELECT node FROM cachewarm.cold_starts`).Scan(&node))
	require.Equal(t, cl.Addrs[1], node, "only the restarted master was cold")
	b.waitKeys(t, "every key back on the cluster", nil)
	testenv.WaitFor(t, time.Minute, "/health ok again", func() (bool, error) {
		_, h := b.health(t)
		return h.Status == "ok", nil
	})
}

// TestBusyTenantsRewarmed: Redis is flushed while every tenant's workflow is mid-way (its
// critical phase written, its high phase held up by locks on every table it reads, so that it
// writes nothing after the flush: keys landing meanwhile could make the flushed Redis look
// merely short of a sentinel). The tenants keep their
// workflows (one per tenant), and the phases those already wrote come back through dataset
// re-warms: every critical key is back while the high phase still waits.
func TestBusyTenantsRewarmed(t *testing.T) {
	t.Parallel()
	rs := testenv.NewRedisServer(t)
	b := setup(t, map[string]string{"REDIS_URL": rs.URL("")})
	ctx := context.Background()

	var high, critical []string // the tables only the high phase reads
	for _, d := range b.cat.Phase(catalog.PhaseCritical) {
		critical = append(critical, d.Tables...)
	}
	for _, d := range b.cat.Phase(catalog.PhaseHigh) {
		for _, tbl := range d.Tables {
			if !slices.Contains(critical, tbl) && !slices.Contains(high, tbl) {
				high = append(high, tbl)
			}
		}
	}
	release := lockTables(t, b.env.Pool, high...)
	runs, err := b.w.Workflows().Start(ctx, b.w.Client(), workflows.Request{All: true, Phases: catalog.Phases, Trigger: "test"})
	require.NoError(t, err)
	require.Len(t, runs, tenants)
	testenv.WaitFor(t, 30*time.Second, "every workflow's critical phase written, its high phase waiting", func() (bool, error) {
		var n int
		err := b.env.Pool.QueryRow(ctx, `SELECT count(*) FROM cachewarm.workflow_phases p JOIN cachewarm.workflow_runs r ON r.id = p.workflow_id
			WHERE r.trigger = 'test' AND p.phase = 'critical'`).Scan(&n)
		return n == tenants, err
	})

	require.NoError(t, rs.Client("").FlushAll(ctx).Err())
	testenv.WaitFor(t, 30*time.Second, "a cold start recorded", func() (bool, error) { return b.coldStarts(t) == 1, nil })
	var jobs, started int
	require.NoError(t, b.env.Pool.QueryRow(ctx, `SELECT cardinality(job_ids) FROM cachewarm.cold_starts`).Scan(&jobs))
	require.Equal(t, 2*tenants, jobs, "each busy tenant gets its critical (written) and high (running) datasets re-warmed")
	require.NoError(t, b.env.Pool.QueryRow(ctx, `SELECT count(*) FROM cachewarm.workflow_runs WHERE trigger = 'cold-start'`).Scan(&started))
	require.Zero(t, started, "no second workflow for a busy tenant")
	b.waitKeys(t, "every critical key back while the high phases wait", []catalog.Phase{catalog.PhaseCritical})
	_, h := b.health(t)
	require.Equal(t, "degraded", h.Status, "the re-warm is still running")

	release()
	b.waitKeys(t, "every key back", nil)
	testenv.WaitFor(t, time.Minute, "/health ok again", func() (bool, error) {
		_, h := b.health(t)
		return h.Status == "ok", nil
	})
}
