package worker_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/fixture"
	"github.com/cachewarm/cachewarm/internal/testenv"
	"github.com/cachewarm/cachewarm/workflows"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestMain(m *testing.M) { testenv.Main(m) }

// startAll starts a workflow of every phase for every tenant and waits for them.
func startAll(t *testing.T, env *fixture.Env, w *fixture.Worker) []workflows.Run {
	t.Helper()
	runs, err := w.Workflows().Start(context.Background(), w.Client(), workflows.Request{All: true, Phases: catalog.Phases, Trigger: "test"})
	require.NoError(t, err)
	env.WaitWorkflows(t, 2*time.Minute)
	return runs
}

func TestWarmWritesEverySpecKey(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, 2)
	w := env.StartWorker(t, env.Config(t, nil), nil)
	startAll(t, env, w)
	ctx := context.Background()

	want := expectedKeys(t, env, "t001")
	got := map[string]bool{}
	iter := env.Redis.Scan(ctx, 0, "*t001*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		if strings.HasPrefix(k, "{") || strings.HasPrefix(k, "cachewarm:") {
			continue // version keys and index sets
		}
		got[k] = true
	}
	require.NoError(t, iter.Err())
	require.Equal(t, slices.Sorted(mapKeys(want)), slices.Sorted(mapKeys(got)), "the keys written for t001 are exactly the datasets'")

	cat, err := catalog.Default()
	require.NoError(t, err)
	for key, dataset := range want {
		d, err := cat.Lookup(dataset)
		require.NoError(t, err)
		ttl, err := env.Redis.PTTL(ctx, key).Result()
		require.NoError(t, err)
		require.Greater(t, ttl, d.TTL-time.Minute, "%s has the TTL class of %s", key, dataset)
		require.LessOrEqual(t, ttl, d.TTL)

		val, err := env.Redis.Get(ctx, key).Bytes()
		require.NoError(t, err)
		require.True(t, json.Valid(val), key)
		require.NotContains(t, string(val), "\n", "%s: no newline", key)
		require.NotEqual(t, "null", string(val), key)
	}
	// Shapes and counts.
	requireList(t, env, "finance:coa:t001", 300, -1)
	requireList(t, env, "sales:vendors:t001:page:1:limit:100", 100, 100)
	requireList(t, env, "sales:materials:t001:page:10:limit:100", 100, 100)
	requireObject(t, env, "finance:current_period:t001")
	requireObject(t, env, "sales:vendor:t001:vendorId:1")
}

func requireList(t *testing.T, env *fixture.Env, key string, atLeast, atMost int) {
	t.Helper()
	var list []map[string]any
	require.NoError(t, json.Unmarshal([]byte(env.Redis.Get(context.Background(), key).Val()), &list), key)
	require.GreaterOrEqual(t, len(list), atLeast, key)
	if atMost >= 0 {
		require.LessOrEqual(t, len(list), atMost, key)
	}
}

func requireObject(t *testing.T, env *fixture.Env, key string) {
	t.Helper()
	var obj map[string]any
	require.NoError(t, json.Unmarshal([]byte(env.Redis.Get(context.Background(), key).Val()), &obj), key)
	require.NotEmpty(t, obj, key)
}

// expectedKeys derives every key of tenant from the source tables, independently of
// the dataset queries, mapped to its dataset.
func expectedKeys(t *testing.T, env *fixture.Env, tenant string) map[string]string {
	t.Helper()
	ctx := context.Background()
	keys := map[string]string{}
	add := func(dataset string, ks ...string) {
		for _, k := range ks {
			keys[k] = dataset
		}
	}
	list := func(sql string) []string {
		rows, err := env.Pool.Query(ctx, sql, tenant)
		require.NoError(t, err)
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return out
	}
	tk := func(format string, args ...any) string { return fmt.Sprintf(format, args...) }
	add("chart_of_accounts", tk("finance:coa:%s", tenant))
	add("financial_periods", tk("finance:periods:%s:window:current", tenant))
	add("current_period", tk("finance:current_period:%s", tenant))
	add("pipeline_stages", tk("crm:stages:%s", tenant))
	add("kit_definitions", tk("sales:kits:%s", tenant))
	add("pricing_rules", tk("sales:pricing:%s:effective:current", tenant))
	for _, f := range list(`SELECT id::text FROM facilities WHERE tenant_id = $1`) {
		add("work_centers", tk("ops:workcenters:%s:facilityId:%s", tenant, f))
		add("inventory_locations", tk("wms:locations:%s:facilityId:%s", tenant, f))
		add("bin_utilization", tk("wms:bin_utilization:%s:facilityId:%s", tenant, f))
		add("equipment_health", tk("ops:equipment_health:%s:facilityId:%s:status:active", tenant, f))
	}
	for _, p := range list(`SELECT DISTINCT from_currency || ':to:' || to_currency FROM exchange_rates WHERE tenant_id = $1 AND rate_date <= current_date`) {
		add("exchange_rates", tk("finance:xrate:%s:from:%s:date:latest", tenant, p))
	}
	for _, e := range []struct {
		dataset, list, item, idName, table string
		pages                              int
	}{
		{"vendors", "sales:vendors", "sales:vendor", "vendorId", "vendors", 5},
		{"customers", "sales:customers", "sales:customer", "customerId", "customers", 5},
		{"materials", "sales:materials", "sales:material", "materialId", "materials", 10},
	} {
		for n := 1; n <= e.pages; n++ {
			add(e.dataset, tk("%s:%s:page:%d:limit:100", e.list, tenant, n))
		}
		for _, id := range list(tk(`SELECT x.id::text FROM %s x WHERE x.tenant_id = $1 ORDER BY x.id LIMIT %d`, e.table, e.pages*100)) {
			add(e.dataset, tk("%s:%s:%s:%s", e.item, tenant, e.idName, id))
		}
	}
	periods := list(`SELECT 'year:' || fiscal_year || ':month:' || period_number FROM financial_periods
		WHERE tenant_id = $1 AND start_date <= current_date ORDER BY start_date DESC LIMIT 2`)
	require.Len(t, periods, 2)
	base := list(`SELECT base_currency FROM tenants WHERE id = $1`)[0]
	for _, p := range periods {
		add("trial_balance", tk("finance:trial_balance:%s:%s:currency:%s", tenant, p, base))
	}
	add("gl_balances", tk("finance:gl_balances:%s:%s", tenant, periods[0]))
	return keys
}

func TestGoldenValues(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, 1)
	w := env.StartWorker(t, env.Config(t, nil), nil)
	startAll(t, env, w)
	for _, key := range []string{"finance:coa:t001", "crm:stages:t001", "sales:vendor:t001:vendorId:1", "ops:workcenters:t001:facilityId:1"} {
		got, err := env.Redis.Get(context.Background(), key).Bytes()
		require.NoError(t, err, key)
		path := filepath.Join("testdata", "golden", strings.ReplaceAll(key, ":", "_")+".json")
		if *update {
			require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
			require.NoError(t, os.WriteFile(path, got, 0o644))
		}
		want, err := os.ReadFile(path)
		require.NoError(t, err, "run go test ./worker -run TestGoldenValues -update to create %s", path)
		require.Equal(t, string(want), string(got), "value bytes of %s", key)
	}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

var _ = cache.FormatJSON
