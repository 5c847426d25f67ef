package faults_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/fixture"
	"github.com/cachewarm/cachewarm/internal/testenv"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// Tenant counts of the two database templates the suite uses (each built once per run).
const (
	tenants     = 32 // "30+ tenants in flight"
	loadTenants = 56 // 3 shared by 200 requests + 50 with one request each, and spare
)

// start runs the cachewarm binary with args and exactly env (testenv.StartProc).
func start(t testing.TB, name string, env map[string]string, args ...string) *testenv.Proc {
	t.Helper()
	return testenv.StartProc(t, name, binary, env, args...)
}

// run runs a one-shot cachewarm command and returns its output; it fails the test if the
// command fails.
func run(t testing.TB, env map[string]string, args ...string) string {
	t.Helper()
	return testenv.RunProc(t, binary, env, 3*time.Minute, args...)
}

// startWorker starts `cachewarm worker` with env and waits until it serves HTTP.
func startWorker(t testing.TB, name string, env map[string]string) *testenv.WorkerProc {
	t.Helper()
	t.Cleanup(httpClient.CloseIdleConnections) // no keep-alive goroutine outlives the test
	return testenv.StartWorkerProcs(t, name, binary, env)[0]
}

// healthResponse is GET /health's status code and body.
type healthResponse struct {
	Code int
	Body struct {
		Status string `json:"status"`
		Info   struct {
			Cache struct {
				Status    string  `json:"status"`
				HitRate   float64 `json:"hitRate"`
				ErrorRate float64 `json:"errorRate"`
				Error     string  `json:"error"`
			} `json:"cache"`
		} `json:"info"`
	}
	Raw string
}

// health reads w's GET /health.
func health(t testing.TB, w *testenv.WorkerProc) (healthResponse, error) {
	t.Helper()
	var h healthResponse
	resp, err := httpClient.Get(w.Base + "/health")
	if err != nil {
		return h, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return h, err
	}
	h.Code, h.Raw = resp.StatusCode, string(b)
	if err := json.Unmarshal(b, &h.Body); err != nil {
		return h, fmt.Errorf("health body %q: %w", b, err)
	}
	return h, nil
}

var httpClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 300}}

// workerEnv is the environment of a child worker on env's database and Redis DB, warming
// nothing by itself, with overrides applied.
func workerEnv(env *fixture.Env, overrides map[string]string) map[string]string {
	m := map[string]string{
		"DATABASE_URL":               env.DBURL,
		"REDIS_URL":                  env.RedisURL,
		"CACHE_WARMING_ENABLED":      "false",
		"HTTP_ADDR":                  "127.0.0.1:0",
		"CACHEWARM_WORKERS":          "4",
		"CACHEWARM_CHANGE_WORKERS":   "2",
		"CACHEWARM_SHUTDOWN_TIMEOUT": "5s",
		"CACHEWARM_LOG_LEVEL":        "info",
	}
	maps.Copy(m, overrides)
	return m
}

// waitFor is testenv.WaitFor.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, error)) time.Duration {
	t.Helper()
	return testenv.WaitFor(t, timeout, what, cond)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// withQuery returns u with query parameter k set to v.
func withQuery(t testing.TB, u, k, v string) string {
	t.Helper()
	parsed, err := url.Parse(u)
	require.NoError(t, err)
	q := parsed.Query()
	q.Set(k, v)
	parsed.RawQuery = q.Encode()
	return parsed.String()
}

// lockTables takes ACCESS EXCLUSIVE locks on tables in an open transaction, so every warm
// reading them waits (a real, slow warm); release (also run at cleanup) rolls it back.
func lockTables(t testing.TB, pool *pgxpool.Pool, tables ...string) (release func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	for _, tbl := range tables {
		_, err := tx.Exec(ctx, "LOCK TABLE "+pgx.Identifier{tbl}.Sanitize()+" IN ACCESS EXCLUSIVE MODE")
		require.NoError(t, err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			_ = tx.Rollback(ctx)
			conn.Release()
		})
	}
	t.Cleanup(release)
	return release
}

// workflowStates counts workflow runs by state.
func workflowStates(t testing.TB, pool *pgxpool.Pool) map[string]int {
	t.Helper()
	type count struct {
		State string
		N     int
	}
	rows, err := pool.Query(context.Background(), `SELECT state, count(*)::int FROM cachewarm.workflow_runs GROUP BY state`)
	require.NoError(t, err)
	counts, err := pgx.CollectRows(rows, pgx.RowToStructByPos[count])
	require.NoError(t, err)
	out := map[string]int{}
	for _, c := range counts {
		out[c.State] = c.N
	}
	return out
}

// jobCount counts River jobs of kind (short name, e.g. warm_phase) in the given states.
func jobCount(t testing.TB, pool *pgxpool.Pool, kind string, states ...string) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(),
		`SELECT count(*) FROM cachewarm.river_job WHERE kind = 'cachewarm.' || $1 AND state::text = ANY($2)`, kind, states).Scan(&n))
	return n
}

// waitWorkflowsDone waits until every workflow run has finished and returns how long it took.
func waitWorkflowsDone(t testing.TB, pool *pgxpool.Pool, timeout time.Duration) time.Duration {
	t.Helper()
	return waitFor(t, timeout, "every workflow to finish", func() (bool, error) {
		s := workflowStates(t, pool)
		return s["queued"]+s["running"] == 0, nil
	})
}

// waitChangesDone waits until every change is collected and no dataset re-warm job is
// waiting, running or retrying.
func waitChangesDone(t testing.TB, pool *pgxpool.Pool, timeout time.Duration) time.Duration {
	t.Helper()
	return waitFor(t, timeout, "every change collected and re-warmed", func() (bool, error) {
		var uncollected int
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM cachewarm.changes`).Scan(&uncollected); err != nil {
			return false, err
		}
		return uncollected == 0 && jobCount(t, pool, "warm_datasets", "available", "scheduled", "running", "retryable", "pending") == 0, nil
	})
}

// requireAllCompleted asserts that want workflows exist, every one completed (none partial,
// failed, queued or running), each with every phase recorded once.
func requireAllCompleted(t testing.TB, pool *pgxpool.Pool, want int) {
	t.Helper()
	s := workflowStates(t, pool)
	require.Equal(t, map[string]int{"completed": want}, s, "workflow runs by state")
	var missing int
	require.NoError(t, pool.QueryRow(context.Background(), `
SELECT count(*) FROM cachewarm.workflow_runs r CROSS JOIN LATERAL unnest(r.phases) AS ph
WHERE NOT EXISTS (SELECT 1 FROM cachewarm.workflow_phases p WHERE p.workflow_id = r.id AND p.phase = ph AND p.state = 'completed')`).Scan(&missing))
	require.Zero(t, missing, "phases of workflows not recorded as completed")
}

var defaultCatalog = sync.OnceValue(func() *catalog.Catalog {
	c, err := catalog.Default()
	if err != nil {
		panic(err)
	}
	return c
})

// datasetNames returns the names of the datasets of phases.
func datasetNames(phases ...catalog.Phase) []string {
	var out []string
	for _, p := range phases {
		for _, d := range defaultCatalog().Phase(p) {
			out = append(out, d.Name)
		}
	}
	return out
}

// verifyDatasets is fixture.VerifyDatasets with the demo datasets.
func verifyDatasets(t testing.TB, pool *pgxpool.Pool, rdb redis.UniversalClient, tenantIDs, datasets []string) int {
	t.Helper()
	return fixture.VerifyDatasets(t, defaultCatalog(), pool, rdb, tenantIDs, datasets)
}

// compareDatasets is fixture.CompareDatasets with the demo datasets.
func compareDatasets(t testing.TB, pool *pgxpool.Pool, rdb redis.UniversalClient, tenantIDs, datasets []string) (int, []string) {
	t.Helper()
	return fixture.CompareDatasets(t, defaultCatalog(), pool, rdb, tenantIDs, datasets)
}

// tenantIDs returns t001..t<n>.
func tenantIDs(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("t%03d", i))
	}
	return out
}

// requireNoSecret fails if any secret occurs in text.
func requireNoSecret(t testing.TB, where, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			i := strings.Index(text, s)
			t.Fatalf("a password appears in %s: ...%s...", where, text[max(0, i-120):min(len(text), i+len(s)+40)])
		}
	}
}
