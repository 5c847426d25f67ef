package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/internal/cachehealth"
	"github.com/cachewarm/cachewarm/internal/fixture"
	"github.com/cachewarm/cachewarm/internal/httpapi"
	"github.com/cachewarm/cachewarm/internal/metrics"
	"github.com/cachewarm/cachewarm/internal/testenv"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type bundle struct {
	env *fixture.Env
	w   *fixture.Worker
	// url is the worker's own HTTP server (loopback).
	url string
	// handler is the same API built with httpapi.New, for requests from chosen addresses.
	handler http.Handler
}

// setup runs a worker over two seeded tenants with its HTTP server, and builds the API handler
// on the same worker for requests served in-process.
func setup(t *testing.T, token string) bundle {
	t.Helper()
	env := fixture.New(t, 2)
	cfg := env.Config(t, map[string]string{"CACHEWARM_API_TOKEN": token})
	w, url := env.StartWorkerHTTP(t, cfg, nil)
	h := httpapi.New(httpapi.Deps{
		Pool: env.Pool, Redis: env.Redis, Metrics: w.Metrics(), Gatherer: prometheus.NewRegistry(),
		API:     &httpapi.API{Workflows: w.Workflows(), Client: w.Client(), Warmer: w.Warmer(), DefaultPhases: cfg.DefaultPhases()},
		RiverUI: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "river ui") }),
		Token:   token, Logger: fixture.Logger(t),
	})
	return bundle{env: env, w: w, url: url, handler: h}
}

// do sends a request to the worker's server and returns the status and body.
func (b bundle) do(t *testing.T, method, path, body string, header ...string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, b.url+path, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, out
}

// serve sends a request to the in-process handler as if from remote, addressed to
// localhost:8080 unless a "Host" header is given, with a JSON body if any.
func (b bundle) serve(method, path, body, remote string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = remote
	req.Host = "localhost:8080"
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	b.handler.ServeHTTP(rec, req)
	return rec
}

// enqueued counts what a request could have enqueued: warm jobs and workflow runs (not the
// leader's periodic maintenance jobs).
func (b bundle) enqueued(t *testing.T) int {
	t.Helper()
	var n int
	require.NoError(t, b.env.Pool.QueryRow(context.Background(),
		`SELECT (SELECT count(*) FROM cachewarm.river_job WHERE kind IN ('cachewarm.warm_phase', 'cachewarm.warm_datasets'))
		      + (SELECT count(*) FROM cachewarm.workflow_runs)`).Scan(&n))
	return n
}

func requireError(t *testing.T, body []byte, contains string) {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	require.NoError(t, json.Unmarshal(body, &e), string(body))
	require.Contains(t, e.Error, contains)
}

func TestWarm(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	ctx := context.Background()

	code, body := b.do(t, "POST", "/api/cache/warm", `{"tenants":["t001"]}`)
	require.Equal(t, http.StatusAccepted, code, string(body))
	var one struct {
		Workflows []map[string]any `json:"workflows"`
	}
	require.NoError(t, json.Unmarshal(body, &one))
	require.Len(t, one.Workflows, 1)
	require.Equal(t, "t001", one.Workflows[0]["tenant"])
	id, ok := one.Workflows[0]["id"].(float64)
	require.True(t, ok, "id is a number: %s", body)
	require.JSONEq(t, `{"workflows":[{"id":`+strconv.FormatInt(int64(id), 10)+`,"tenant":"t001"}]}`, string(body))

	code, body = b.do(t, "POST", "/api/cache/warm", `{"all":true,"phases":["critical"]}`)
	require.Equal(t, http.StatusAccepted, code, string(body))
	var all struct {
		Workflows []struct {
			ID       int64  `json:"id"`
			Tenant   string `json:"tenant"`
			Existing bool   `json:"existing"`
		} `json:"workflows"`
	}
	require.NoError(t, json.Unmarshal(body, &all))
	require.Len(t, all.Workflows, 2)
	require.Equal(t, "t002", all.Workflows[1].Tenant)

	b.env.WaitWorkflows(t, time.Minute)
	require.EqualValues(t, 2, b.env.Redis.Exists(ctx, "finance:coa:t001", "finance:coa:t002").Val())
	require.EqualValues(t, 1, b.env.Redis.Exists(ctx, "sales:vendors:t001:page:1:limit:100").Val(), "default phases for t001")

	code, body = b.do(t, "GET", "/api/cache/workflows?tenant=t001", "")
	require.Equal(t, http.StatusOK, code)
	var list struct {
		Workflows []struct {
			ID     int64  `json:"id"`
			Tenant string `json:"tenant"`
			State  string `json:"state"`
		} `json:"workflows"`
	}
	require.NoError(t, json.Unmarshal(body, &list))
	require.NotEmpty(t, list.Workflows)
	for _, w := range list.Workflows {
		require.Equal(t, "t001", w.Tenant)
		require.Equal(t, "completed", w.State)
	}
	code, body = b.do(t, "GET", "/api/cache/workflows?tenant=x:*", "")
	require.Equal(t, http.StatusBadRequest, code)
	requireError(t, body, "invalid tenant id")
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	big := `{"tenants":["` + strings.Repeat("a", httpapi.MaxBodyBytes) + `"]}`
	for _, tt := range []struct {
		name, path, body string
		code             int
		msg              string
	}{
		{"malformed JSON", "/api/cache/warm", `{"tenants":["t001"`, 400, "malformed JSON"},
		{"not JSON", "/api/cache/warm", `tenants=t001`, 400, "malformed JSON"},
		{"two values", "/api/cache/warm", `{"all":true}{"all":true}`, 400, "more than one value"},
		{"invalid tenant id", "/api/cache/warm", `{"tenants":["x:*"]}`, 400, `invalid tenant id: "x:*" has character ':'`},
		{"unknown field", "/api/cache/warm", `{"tenants":["t001"],"force":true}`, 400, `unknown field "force"`},
		{"unknown phase", "/api/cache/warm", `{"tenants":["t001"],"phases":["urgent"]}`, 400, `unknown phase "urgent"`},
		{"neither tenants nor all", "/api/cache/warm", `{}`, 400, `give "tenants"`},
		{"unknown tenant", "/api/cache/warm", `{"tenants":["t001","t999"]}`, 404, "unknown tenant: [t999]"},
		{"too large", "/api/cache/warm", big, 413, "larger than"},
		{"invalidate: invalid tenant id", "/api/cache/invalidate", `{"tenant":"x:*"}`, 400, "invalid tenant id"},
		{"invalidate: unknown dataset", "/api/cache/invalidate", `{"tenant":"t001","datasets":["coa"]}`, 400, `unknown dataset "coa"`},
		{"invalidate: unknown event", "/api/cache/invalidate", `{"eventType":"INVOICE_CREATED","tenantId":"t001"}`, 400, "unknown event"},
		{"invalidate: bad event form", "/api/cache/invalidate", `{"eventType":"ACCOUNT_EXPLODED","tenantId":"t001"}`, 400, "unknown event"},
		{"invalidate: event without tenant", "/api/cache/invalidate", `{"eventType":"ACCOUNT_CREATED"}`, 400, "no tenant"},
		{"invalidate: unknown field", "/api/cache/invalidate", `{"tenant":"t001","dataset":"vendors"}`, 400, `unknown field "dataset"`},
		{"invalidate: unknown tenant", "/api/cache/invalidate", `{"tenant":"t999"}`, 404, `unknown tenant "t999"`},
		{"invalidate: event of unknown tenant", "/api/cache/invalidate", `{"eventType":"VENDOR_UPDATED","tenantId":"t999"}`, 404, "unknown tenant"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := b.enqueued(t)
			code, body := b.do(t, "POST", tt.path, tt.body)
			require.Equal(t, tt.code, code, string(body))
			requireError(t, body, tt.msg)
			require.Equal(t, before, b.enqueued(t), "nothing enqueued")
		})
	}
}

func TestAuthWithToken(t *testing.T) {
	t.Parallel()
	b := setup(t, "s3cret-token")
	before := b.enqueued(t)
	for _, header := range [][]string{nil, {"Authorization", "Bearer wrong"}, {"Authorization", "s3cret-token"}, {"Authorization", "Bearer s3cret-token2"}, {"Authorization", "Basic czNjcmV0LXRva2Vu"}} {
		code, body := b.do(t, "POST", "/api/cache/warm", `{"tenants":["t001"]}`, header...)
		require.Equal(t, http.StatusUnauthorized, code, "%v", header)
		requireError(t, body, "missing or wrong bearer token")
		code, _ = b.do(t, "POST", "/api/cache/invalidate", `{"tenant":"t001"}`, header...)
		require.Equal(t, http.StatusUnauthorized, code, "%v", header)
		code, _ = b.do(t, "GET", "/riverui/", "", header...)
		require.Equal(t, http.StatusUnauthorized, code, "%v", header)
	}
	require.Equal(t, before, b.enqueued(t), "nothing enqueued for a refused request")

	// A token opens the door from anywhere, loopback or not.
	code, body := b.do(t, "POST", "/api/cache/warm", `{"tenants":["t001"]}`, "Authorization", "Bearer s3cret-token")
	require.Equal(t, http.StatusAccepted, code, string(body))
	rec := b.serve("POST", "/api/cache/warm", `{"tenants":["t002"]}`, "203.0.113.9:40000", "Authorization", "Bearer s3cret-token")
	require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
	code, body = b.do(t, "POST", "/api/cache/invalidate", `{"tenant":"t001","datasets":["vendors"]}`, "Authorization", "bearer s3cret-token")
	require.Equal(t, http.StatusOK, code, "the scheme is case-insensitive (RFC 9110): %s", body)
	code, body = b.do(t, "GET", "/riverui/", "", "Authorization", "Bearer s3cret-token")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, string(body), "<html")
	b.env.WaitWorkflows(t, time.Minute)
}

func TestAuthWithoutTokenIsLoopbackOnly(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	before := b.enqueued(t)
	for _, remote := range []string{"203.0.113.9:40000", "10.0.0.2:1234", "[2001:db8::1]:443", "garbage"} {
		for _, r := range []struct{ method, path, body string }{
			{"POST", "/api/cache/warm", `{"tenants":["t001"]}`},
			{"POST", "/api/cache/invalidate", `{"tenant":"t001"}`},
			{"GET", "/riverui/", ""},
			{"GET", "/api/cache/stats", ""},
			{"GET", "/api/cache/workflows?tenant=t001", ""},
			{"GET", "/debug/pprof/heap", ""},
		} {
			rec := b.serve(r.method, r.path, r.body, remote)
			require.Equal(t, http.StatusUnauthorized, rec.Code, "%s %s from %s", r.method, r.path, remote)
			requireError(t, rec.Body.Bytes(), "only loopback clients")
		}
		// Health and metrics stay open.
		require.Equal(t, http.StatusOK, b.serve("GET", "/health", "", remote).Code)
		require.Equal(t, http.StatusOK, b.serve("GET", "/metrics", "", remote).Code)
	}
	require.Equal(t, before, b.enqueued(t), "nothing enqueued for a refused request")

	for _, remote := range []string{"127.0.0.1:5000", "[::1]:5000"} {
		rec := b.serve("POST", "/api/cache/warm", `{"tenants":["t001"]}`, remote)
		require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
		require.Equal(t, http.StatusOK, b.serve("GET", "/riverui/", "", remote).Code)
	}
	code, body := b.do(t, "GET", "/riverui/", "")
	require.Equal(t, http.StatusOK, code, "the worker's real River UI, from loopback")
	require.Contains(t, string(body), "<html")
	b.env.WaitWorkflows(t, time.Minute)
}

func TestInvalidateEventRewarms(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	ctx := context.Background()
	rdb := b.env.Redis
	code, body := b.do(t, "POST", "/api/cache/warm", `{"all":true,"phases":["critical","high","medium"]}`)
	require.Equal(t, http.StatusAccepted, code, string(body))
	b.env.WaitWorkflows(t, time.Minute)

	// Age the keys, so a re-warm shows as a renewed TTL.
	keys := []string{"finance:coa:t001", "finance:coa:t002", "sales:vendors:t001:page:1:limit:100"}
	for _, k := range keys {
		require.NoError(t, rdb.PExpire(ctx, k, time.Minute).Err())
	}
	code, body = b.do(t, "POST", "/api/cache/invalidate", `{"eventType":"ACCOUNT_CREATED","tenantId":"t001","entityId":"42"}`)
	require.Equal(t, http.StatusOK, code, string(body))
	var res struct {
		Tenant   string   `json:"tenant"`
		Datasets []string `json:"datasets"`
		Deleted  int      `json:"deleted"`
		Rewarm   int      `json:"rewarmJobs"`
	}
	require.NoError(t, json.Unmarshal(body, &res))
	require.Equal(t, "t001", res.Tenant)
	require.Equal(t, []string{"chart_of_accounts", "trial_balance", "gl_balances"}, res.Datasets)
	require.Equal(t, 4, res.Deleted, "the chart, two trial balances and one GL balance")
	require.Equal(t, 3, res.Rewarm)
	require.Eventually(t, func() bool {
		return rdb.PTTL(ctx, "finance:coa:t001").Val() > 23*time.Hour
	}, 5*time.Second, 10*time.Millisecond, "re-warmed")
	require.Less(t, rdb.PTTL(ctx, "finance:coa:t002").Val(), time.Minute+time.Second, "t002 untouched")
	require.Less(t, rdb.PTTL(ctx, "sales:vendors:t001:page:1:limit:100").Val(), time.Minute+time.Second, "vendors untouched")

	// Without re-warm: the keys stay gone.
	jobsBefore := b.enqueued(t)
	code, body = b.do(t, "POST", "/api/cache/invalidate", `{"tenant":"t001","datasets":["vendors"],"rewarm":false}`)
	require.Equal(t, http.StatusOK, code, string(body))
	require.NoError(t, json.Unmarshal(body, &res))
	require.Equal(t, 505, res.Deleted, "5 pages and 500 vendors")
	require.Zero(t, res.Rewarm)
	require.Equal(t, jobsBefore, b.enqueued(t))
	require.Zero(t, rdb.Exists(ctx, "sales:vendors:t001:page:1:limit:100", "sales:vendor:t001:vendorId:1").Val())
	require.EqualValues(t, 1, rdb.Exists(ctx, "sales:vendors:t002:page:1:limit:100").Val())
}

func TestHealthMetricsStats(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	ctx := context.Background()

	code, body := b.do(t, "GET", "/health", "")
	require.Equal(t, http.StatusOK, code, string(body))
	var h struct {
		Status string `json:"status"`
		Info   struct {
			Cache struct {
				Status    string   `json:"status"`
				HitRate   *float64 `json:"hitRate"`
				ErrorRate *float64 `json:"errorRate"`
			} `json:"cache"`
		} `json:"info"`
	}
	require.NoError(t, json.Unmarshal(body, &h))
	require.Equal(t, "ok", h.Status)
	require.NotNil(t, h.Info.Cache.HitRate)
	require.NotNil(t, h.Info.Cache.ErrorRate)
	require.Zero(t, *h.Info.Cache.ErrorRate)
	require.Contains(t, []string{cachehealth.Healthy, cachehealth.Degraded, cachehealth.Unhealthy}, h.Info.Cache.Status,
		"the hit rate is the shared Redis server's: TestHealthFollowsTheHitRate checks the thresholds on a server of its own")

	code, body = b.do(t, "POST", "/api/cache/warm", `{"tenants":["t002"],"phases":["critical"]}`)
	require.Equal(t, http.StatusAccepted, code, string(body))
	b.env.WaitWorkflows(t, time.Minute)

	// A change re-warmed by its trigger shows in the change-to-fresh histogram.
	_, err := b.env.Pool.Exec(ctx, `UPDATE chart_of_accounts SET name = 'metrics' WHERE tenant_id = 't001' AND id = 1`)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, body := b.do(t, "GET", "/metrics", "")
		return regexp.MustCompile(`(?m)^cachewarm_change_to_fresh_seconds_count [1-9]`).Match(body) &&
			regexp.MustCompile(`(?m)^cachewarm_jobs\{kind="cachewarm.warm_datasets",state="completed"\} 3`).Match(body)
	}, 5*time.Second, 20*time.Millisecond)
	code, body = b.do(t, "GET", "/metrics", "")
	require.Equal(t, http.StatusOK, code)
	for _, re := range []string{
		`(?m)^cachewarm_change_to_fresh_seconds_bucket\{le="0.001"\} `,
		`(?m)^cachewarm_keys_written_total\{dataset="chart_of_accounts"\} [1-9]`,
		`(?m)^cachewarm_dataset_duration_seconds_count\{dataset="chart_of_accounts"\} [1-9]`,
		`(?m)^cachewarm_postgres_up 1`,
		`(?m)^cachewarm_redis_up 1`,
		`(?m)^cachewarm_redis_keyspace_hits_total `,
		`(?m)^cachewarm_phase_duration_seconds_count\{phase="critical"\} 1$`,
		`(?m)^cachewarm_workflow_duration_seconds_count 1$`,
		`(?m)^# TYPE cachewarm_stale_writes_skipped_total counter`,
		`(?m)^go_goroutines `,
	} {
		require.Regexp(t, re, string(body))
	}

	code, body = b.do(t, "GET", "/api/cache/stats", "")
	require.Equal(t, http.StatusOK, code)
	var stats map[string]any
	require.NoError(t, json.Unmarshal(body, &stats))
	for _, k := range []string{"hits", "misses", "hitRate", "sets", "errors", "errorRate", "health"} {
		require.Contains(t, stats, k)
	}
	require.GreaterOrEqual(t, stats["sets"], float64(3), "the three datasets the change re-warmed")
}

// TestHealthFollowsTheHitRate reads known keys and misses on a Redis server of the test's own,
// whose hit and miss counters nothing else moves, and checks the hit rate and the cache status
// /health reports at each step against fixed figures.
func TestHealthFollowsTheHitRate(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, 1)
	rs := testenv.NewRedisServer(t)
	rdb := rs.Client("")
	reg := prometheus.NewRegistry()
	h := httpapi.New(httpapi.Deps{Pool: env.Pool, Redis: rdb, Metrics: metrics.New(reg, env.Pool, rdb), Gatherer: reg, Logger: fixture.Logger(t)})
	ctx := context.Background()
	require.NoError(t, rdb.Set(ctx, "present", "1", 0).Err())
	read := func(hits, misses int) {
		for range hits {
			require.NoError(t, rdb.Get(ctx, "present").Err())
		}
		for range misses {
			require.ErrorIs(t, rdb.Get(ctx, "absent").Err(), redis.Nil)
		}
	}
	for _, step := range []struct {
		hits, misses int
		rate         float64
		status       string
	}{
		{hits: 3, misses: 1, rate: 75, status: cachehealth.Healthy},     // 3 of 4
		{hits: 0, misses: 1, rate: 60, status: cachehealth.Degraded},    // 3 of 5
		{hits: 0, misses: 2, rate: 42.9, status: cachehealth.Unhealthy}, // 3 of 7
		{hits: 7, misses: 0, rate: 71.4, status: cachehealth.Healthy},   // 10 of 14
	} {
		read(step.hits, step.misses)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/health", nil))
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var body struct {
			Info struct {
				Cache struct {
					Status  string  `json:"status"`
					HitRate float64 `json:"hitRate"`
				} `json:"cache"`
			} `json:"info"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
		require.Equal(t, step.rate, body.Info.Cache.HitRate, rec.Body.String())
		require.Equal(t, step.status, body.Info.Cache.Status, rec.Body.String())
	}
}

func TestHealthUnreachable(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, 1)
	bad := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = bad.Close() })
	reg := prometheus.NewRegistry()
	h := httpapi.New(httpapi.Deps{Pool: env.Pool, Redis: bad, Metrics: metrics.New(reg, env.Pool, bad), Gatherer: reg, Logger: fixture.Logger(t)})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/health", nil))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	var body struct {
		Status string `json:"status"`
		Info   struct {
			Cache struct {
				Status string `json:"status"`
				Error  string `json:"error"`
			} `json:"cache"`
		} `json:"info"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	require.Equal(t, "error", body.Status)
	require.Equal(t, cachehealth.Unhealthy, body.Info.Cache.Status)
	require.Contains(t, body.Info.Cache.Error, "redis unreachable")

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), "cachewarm_redis_up 0")
}
