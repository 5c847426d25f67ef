// Package cluster_test warms seeded tenants through a real 3-master Redis Cluster (started
// from the local redis-server by testenv.NewCluster; start.sh here starts one by hand) and
// checks every key through a cluster client against the dataset queries.
package cluster_test

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/demodata"
	"github.com/cachewarm/cachewarm/internal/fixture"
	"github.com/cachewarm/cachewarm/internal/rediswrite"
	"github.com/cachewarm/cachewarm/internal/testenv"
	"github.com/cachewarm/cachewarm/workflows"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// tenants is the number of seeded tenants each test warms.
const tenants = 3

// bundle is what a cluster test needs: a seeded database, a running worker writing to a
// fresh cluster, and a cluster client to check with.
type bundle struct {
	env  *fixture.Env
	w    *fixture.Worker
	rdb  *redis.ClusterClient
	cat  *catalog.Catalog
	keys cache.Keys
}

// setup starts a cluster and a worker on it; overrides, if not nil, gives environment
// overrides for the worker once the cluster's addresses are known.
func setup(t *testing.T, overrides func(*testenv.Cluster) map[string]string) *bundle {
	t.Helper()
	env := fixture.New(t, tenants)
	cl := testenv.NewCluster(t)
	o := map[string]string{"REDIS_CLUSTER_ADDRS": cl.AddrList(), "REDIS_URL": ""}
	if overrides != nil {
		maps.Copy(o, overrides(cl))
	}
	cfg := env.Config(t, o)
	require.Equal(t, cl.Addrs, cfg.Redis.ClusterAddrs)
	w := env.StartWorker(t, cfg, nil)
	_, ok := w.Redis.(*redis.ClusterClient)
	require.True(t, ok, "REDIS_CLUSTER_ADDRS gives the worker a cluster client, got %T", w.Redis)
	cat, err := catalog.Default()
	require.NoError(t, err)
	return &bundle{env: env, w: w, rdb: testenv.NewClusterClient(t, cl), cat: cat, keys: cache.Keys{HashTag: cfg.HashTags}}
}

// warmAll runs a workflow of every phase for every tenant and requires that each completed.
func (b *bundle) warmAll(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	runs, err := b.w.Workflows().Start(ctx, b.w.Client(), workflows.Request{All: true, Phases: catalog.Phases, Trigger: "test"})
	require.NoError(t, err)
	require.Len(t, runs, tenants)
	b.env.WaitWorkflows(t, 2*time.Minute)
	var notDone int
	require.NoError(t, b.env.Pool.QueryRow(ctx, `SELECT count(*) FROM cachewarm.workflow_runs WHERE state <> 'completed'`).Scan(&notDone))
	require.Zero(t, notDone, "every workflow completed")
}

// tenantKeys are the keys a warm leaves for one tenant.
type tenantKeys struct {
	// removable are the data keys and index sets, which invalidation deletes.
	removable []string
	// versions are the stale-overwrite guard's version keys, which invalidation leaves to
	// expire: one per data key for plain keys on a cluster, one per dataset with hash tags.
	versions []string
	// data is the number of data keys.
	data int
}

// all returns every key, sorted.
func (k tenantKeys) all() []string {
	return slices.Sorted(slices.Values(append(slices.Clone(k.removable), k.versions...)))
}

// requireTenantExact checks, through the cluster client, that Redis holds tenant t's keys
// with the dataset queries' values and TTLs and index sets naming exactly them, and returns
// every key the tenant owns.
func (b *bundle) requireTenantExact(t *testing.T, tn cache.Tenant) tenantKeys {
	t.Helper()
	want, indexes := b.env.Expect(t, b.cat, b.keys, tn.String())
	require.NotEmpty(t, want)
	fixture.RequireKeys(t, b.rdb, cache.FormatJSON, want)
	var tk tenantKeys
	tk.data = len(want)
	tk.removable = append(tk.removable, indexes...)
	datasets := map[string]bool{}
	for k, e := range want {
		tk.removable = append(tk.removable, k)
		datasets[e.Dataset] = true
		if !b.keys.HashTag {
			tk.versions = append(tk.versions, rediswrite.VersionKey(k))
		}
	}
	if b.keys.HashTag {
		for d := range datasets {
			tk.versions = append(tk.versions, rediswrite.DatasetVersionKey(tn, d))
		}
	}
	indexed := 0
	for _, idx := range indexes {
		members, err := b.rdb.SMembers(context.Background(), idx).Result()
		require.NoError(t, err)
		for _, m := range members {
			require.Contains(t, want, m, "index %s names only the tenant's keys", idx)
		}
		indexed += len(members)
	}
	require.Equal(t, len(want), indexed, "the index sets name every key of %s", tn)
	ctx := context.Background()
	for _, v := range tk.versions {
		require.EqualValues(t, 1, b.rdb.Exists(ctx, v).Val(), "version key %s", v)
	}
	return tk
}

// requireSameKeys compares two sorted key lists, reporting the first differences only.
func requireSameKeys(t *testing.T, want, got []string, msg string) {
	t.Helper()
	var missing, extra []string
	for _, k := range want {
		if _, ok := slices.BinarySearch(got, k); !ok {
			missing = append(missing, k)
		}
	}
	for _, k := range got {
		if _, ok := slices.BinarySearch(want, k); !ok {
			extra = append(extra, k)
		}
	}
	if len(missing)+len(extra) > 0 {
		t.Fatalf("%s: %d key(s) missing (first %v), %d unexpected (first %v)", msg,
			len(missing), missing[:min(5, len(missing))], len(extra), extra[:min(5, len(extra))])
	}
}

func TestWarmThroughCluster(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.warmAll(t)
	ctx := context.Background()

	// Every key is exactly the query's, and nothing else is in the cluster.
	var want []string
	owned := map[string]tenantKeys{}
	for k := 1; k <= tenants; k++ {
		tn := cache.MustTenant(demodata.TenantID(k))
		owned[tn.String()] = b.requireTenantExact(t, tn)
		want = append(want, owned[tn.String()].all()...)
	}
	slices.Sort(want)
	requireSameKeys(t, want, testenv.ScanCluster(t, b.rdb, "*"), "the cluster holds exactly the tenants' keys, versions and indexes")
	var mu sync.Mutex
	perNode := map[string]int64{}
	require.NoError(t, b.rdb.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		size, err := n.DBSize(ctx).Result()
		mu.Lock()
		perNode[n.Options().Addr] = size
		mu.Unlock()
		return err
	}))
	require.Len(t, perNode, testenv.ClusterMasters)
	for addr, size := range perNode {
		require.Greater(t, size, int64(len(want)/10), "plain keys spread over every master (%s)", addr)
	}

	// Invalidating t002 removes exactly its data keys and indexes, on every node; its
	// version keys stay to expire, so a warm of older data in flight cannot write behind.
	res, err := b.w.Warmer().Invalidate(ctx, cache.MustTenant("t002"), nil, false, "test")
	require.NoError(t, err)
	require.Equal(t, owned["t002"].data, res.Deleted)
	rest := append(owned["t001"].all(), owned["t003"].all()...)
	rest = append(rest, owned["t002"].versions...)
	slices.Sort(rest)
	requireSameKeys(t, rest, testenv.ScanCluster(t, b.rdb, "*"), "only t002's keys are gone")
	b.requireTenantExact(t, cache.MustTenant("t001"))

	// A change re-warm goes through the cluster too.
	_, err = b.env.Pool.Exec(ctx, `UPDATE vendors SET name = name || ' (cluster)' WHERE tenant_id = 't002' AND id = (SELECT min(id) FROM vendors WHERE tenant_id = 't002')`)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		n, err := b.rdb.Exists(ctx, "sales:vendors:t002:page:1:limit:100").Result()
		return err == nil && n == 1
	}, 30*time.Second, 20*time.Millisecond, "the change trigger re-warms t002's vendors")
	page, err := b.rdb.Get(ctx, "sales:vendors:t002:page:1:limit:100").Result()
	require.NoError(t, err)
	require.Contains(t, page, " (cluster)")
}

func TestHashTagsShareOneSlotPerTenant(t *testing.T) {
	t.Parallel()
	b := setup(t, func(cl *testenv.Cluster) map[string]string {
		// The seed nodes as redis:// URLs, the other form REDIS_CLUSTER_ADDRS takes.
		urls := make([]string, len(cl.Addrs))
		for i, a := range cl.Addrs {
			urls[i] = "redis://" + a
		}
		return map[string]string{"CACHEWARM_KEY_HASH_TAGS": "true", "REDIS_CLUSTER_ADDRS": strings.Join(urls, ",")}
	})
	b.warmAll(t)
	ctx := context.Background()

	var want []string
	for k := 1; k <= tenants; k++ {
		tn := cache.MustTenant(demodata.TenantID(k))
		owned := b.requireTenantExact(t, tn).all()
		want = append(want, owned...)
		slot, err := b.rdb.ClusterKeySlot(ctx, tn.String()).Result()
		require.NoError(t, err)
		for _, key := range owned {
			require.Contains(t, key, "{"+tn.String()+"}", "every key of %s carries its hash tag", tn)
			s, err := b.rdb.ClusterKeySlot(ctx, key).Result()
			require.NoError(t, err)
			require.Equal(t, slot, s, "%s is in %s's slot", key, tn)
		}
		require.Contains(t, owned, "finance:coa:{"+tn.String()+"}")
		require.Contains(t, owned, rediswrite.DatasetVersionKey(tn, "chart_of_accounts"))
	}
	slices.Sort(want)
	requireSameKeys(t, want, testenv.ScanCluster(t, b.rdb, "*"), "the cluster holds exactly the tenants' keys")

	res, err := b.w.Warmer().Invalidate(ctx, cache.MustTenant("t001"), nil, false, "test")
	require.NoError(t, err)
	require.Positive(t, res.Deleted)
	for _, k := range testenv.ScanCluster(t, b.rdb, "*{t001}*") {
		require.True(t, strings.HasPrefix(k, "cachewarm:ver:"), "only t001's version keys are left, not %s", k)
	}
	b.requireTenantExact(t, cache.MustTenant("t002"))
}
