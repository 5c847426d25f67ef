package budget_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/fixture"
	"github.com/cachewarm/cachewarm/internal/redisinfo"
	"github.com/cachewarm/cachewarm/internal/testenv"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// TestMemoryBudgetKeepsDemandedTenantsWhole: 20 tenants with the medium phase (about 34 MiB
// of values) do not fit a Redis of maxmemory 20mb (allkeys-lru). Three tenants are read
// continuously by an application of their own; the others are not. After a first warm (which
// teaches the phase sizes) and the demand sampler's ranking, a warm of every tenant keeps the
// three read tenants whole, every tenant's critical keys, and evicts nothing: what does not
// fit the budget is skipped, and said so by warm --wait, status and /health.
func TestMemoryBudgetKeepsDemandedTenantsWhole(t *testing.T) {
	ctx := context.Background()
	const n = 20
	env := fixture.New(t, n)
	srv := testenv.NewRedisServer(t, "--maxmemory", "20mb", "--maxmemory-policy", "allkeys-lru")
	rdb := srv.Client("")
	wenv := map[string]string{
		"DATABASE_URL":                 env.DBURL,
		"REDIS_URL":                    srv.URL(""),
		"CACHE_WARMING_ENABLED":        "false",
		"CACHE_WARMING_PHASE3_ENABLED": "true",
		"CACHEWARM_DEMAND_SAMPLE":      "1s",
		"HTTP_ADDR":                    "127.0.0.1:0",
		"CACHEWARM_WORKERS":            "4",
		"CACHEWARM_SHUTDOWN_TIMEOUT":   "5s",
		"CACHEWARM_LOG_LEVEL":          "info",
	}
	all := tenantIDs(n)
	read := []string{"t004", "t011", "t017"}
	w := testenv.StartWorkerProcs(t, "worker", binary, wenv)[0]
	t.Cleanup(httpClient.CloseIdleConnections)

	// 1. A first warm: the phase sizes are learned (it may evict: nothing is known yet).
	before, err := redisinfo.Read(ctx, rdb)
	require.NoError(t, err)
	out := run(t, wenv, "warm", "--all", "--wait")
	after, err := redisinfo.Read(ctx, rdb)
	require.NoError(t, err)
	var written int64
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT sum(bytes_written) FROM cachewarm.workflow_runs`).Scan(&written))
	t.Logf("first warm: %s\n  used_memory %d -> %d bytes for %d bytes written (%.2f), %d key(s) evicted",
		lastLines(out, 3), before.UsedMemory, after.UsedMemory, written, float64(after.UsedMemory-before.UsedMemory)/float64(written), after.EvictedKeys-before.EvictedKeys)

	// 2. An application reads three tenants' critical keys, with its own client.
	reader := srv.Client("")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		keys := cache.Keys{}
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			for _, id := range read {
				tn := cache.MustTenant(id)
				_ = reader.Get(ctx, keys.ChartOfAccounts(tn)).Err()
				_ = reader.Get(ctx, keys.PipelineStages(tn)).Err()
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})
	t.Cleanup(func() { close(stop); wg.Wait() })

	// 3. The leader's sampler ranks them above every other tenant.
	testenv.WaitFor(t, time.Minute, "the demand ranking to put the three read tenants first", func() (bool, error) {
		top, err := ranking(ctx, env.Pool)
		if err != nil || len(top) < n {
			return false, err
		}
		return slices.Equal(slices.Sorted(slices.Values(top[:3])), read), nil
	})

	// 4. The warm under the budget.
	before, err = redisinfo.Read(ctx, rdb)
	require.NoError(t, err)
	out = run(t, wenv, "warm", "--all", "--wait")
	after, err = redisinfo.Read(ctx, rdb)
	require.NoError(t, err)
	t.Logf("second warm:\n%s\n  used_memory %d of maxmemory %d (budget 80%%: %d)", lastLines(out, 40), after.UsedMemory, after.MaxMemory, after.MaxMemory*8/10)
	require.Equal(t, before.EvictedKeys, after.EvictedKeys, "no key evicted during the warm within the budget")

	cat, err := catalog.Default()
	require.NoError(t, err)
	fixture.VerifyDatasets(t, cat, env.Pool, rdb, read, names(cat, catalog.Phases...))
	fixture.VerifyDatasets(t, cat, env.Pool, rdb, all, names(cat, catalog.PhaseCritical))

	var skipped int
	require.NoError(t, env.Pool.QueryRow(ctx, `
SELECT count(*) FROM cachewarm.workflow_phases p JOIN cachewarm.workflow_runs r ON r.id = p.workflow_id
JOIN cachewarm.warms w ON w.id = (SELECT max(id) FROM cachewarm.warms)
WHERE p.state = 'skipped' AND (r.id = ANY(w.workflow_ids) OR p.skipped_at BETWEEN w.started_at AND w.finished_at)`).Scan(&skipped))
	require.Positive(t, skipped, "34 MiB do not fit: phases were skipped")
	require.Contains(t, out, fmt.Sprintf("%d tenant x phase(s) skipped by the memory budget", skipped))
	require.Contains(t, out, "0 key(s) evicted during the warm")
	for _, id := range read {
		require.NotContains(t, out, "skipped "+id+" ", "a read tenant is kept whole")
	}

	status := run(t, wenv, "status")
	t.Logf("status:\n%s", strings.Join(strings.Split(status, "\n")[:min(8, strings.Count(status, "\n"))], "\n"))
	require.Contains(t, status, fmt.Sprintf("0 key(s) evicted during it, %d tenant x phase(s) skipped", skipped))
	require.Contains(t, status, "maxmemory 20.0 MiB (policy allkeys-lru)")
	require.Contains(t, status, "predicted demand (most read first): ")

	resp, err := httpClient.Get(w.Base + "/health")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var h struct{ Status, Reason string }
	require.NoError(t, json.Unmarshal(b, &h), string(b))
	t.Logf("/health: %s", b)
	require.Equal(t, "degraded", h.Status)
	require.Contains(t, h.Reason, fmt.Sprintf("the last warm skipped %d tenant x phase(s)", skipped))

	resp, err = httpClient.Get(w.Base + "/api/cache/stats")
	require.NoError(t, err)
	defer resp.Body.Close()
	var stats struct {
		Memory struct {
			BudgetBytes int64  `json:"memoryBudgetBytes"`
			MaxMemory   int64  `json:"maxmemoryBytes"`
			Policy      string `json:"maxmemoryPolicy"`
			LastWarm    struct {
				Evicted int64
				Skipped []struct{ Tenant, Phase, Reason string }
			} `json:"lastWarm"`
			TopDemand []struct{ Tenant string } `json:"topDemand"`
		} `json:"memory"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&stats))
	m := stats.Memory
	require.Equal(t, int64(20<<20), m.MaxMemory)
	require.Equal(t, int64(16<<20), m.BudgetBytes)
	require.Equal(t, "allkeys-lru", m.Policy)
	require.Zero(t, m.LastWarm.Evicted)
	require.Len(t, m.LastWarm.Skipped, skipped)
	require.Len(t, m.TopDemand, 10)
	top := []string{m.TopDemand[0].Tenant, m.TopDemand[1].Tenant, m.TopDemand[2].Tenant}
	require.ElementsMatch(t, read, top, "the read tenants lead the ranking")

	// 5. A warm no one waits for (the API's) is recorded too, and the leader closes it once
	// its workflows have ended: the report is of it.
	resp, err = httpClient.Post(w.Base+"/api/cache/warm", "application/json", strings.NewReader(`{"all":true}`))
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	resp.Body.Close()
	var last struct {
		Trigger    string
		FinishedAt *time.Time
		Evicted    int64
		Skipped    []struct{ Tenant string }
	}
	testenv.WaitFor(t, 2*time.Minute, "the API's warm to be reported as finished", func() (bool, error) {
		resp, err := httpClient.Get(w.Base + "/api/cache/stats")
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		var stats struct {
			Memory struct {
				LastWarm json.RawMessage `json:"lastWarm"`
			} `json:"memory"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&stats); err != nil {
			return false, err
		}
		if err := json.Unmarshal(stats.Memory.LastWarm, &last); err != nil {
			return false, err
		}
		return last.Trigger == "api" && last.FinishedAt != nil, nil
	})
	require.Zero(t, last.Evicted, "the API's warm kept within the budget")
	require.NotEmpty(t, last.Skipped, "and skipped what did not fit")
	for _, s := range last.Skipped {
		require.NotContains(t, read, s.Tenant, "a read tenant is kept whole")
	}
}

var httpClient = &http.Client{Timeout: 30 * time.Second}

// run runs a one-shot cachewarm command and returns its output.
func run(t testing.TB, env map[string]string, args ...string) string {
	t.Helper()
	return testenv.RunProc(t, binary, env, 3*time.Minute, args...)
}

// ranking is the demand ranking, most demanded first.
func ranking(ctx context.Context, pool *pgxpool.Pool) ([]string, error) {
	rows, err := pool.Query(ctx, `SELECT tenant_id FROM cachewarm.tenant_demand ORDER BY score DESC, tenant_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

func tenantIDs(n int) []string {
	var out []string
	for i := 1; i <= n; i++ {
		out = append(out, fmt.Sprintf("t%03d", i))
	}
	return out
}

func names(cat *catalog.Catalog, phases ...catalog.Phase) []string {
	var out []string
	for _, p := range phases {
		for _, d := range cat.Phase(p) {
			out = append(out, d.Name)
		}
	}
	return out
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
