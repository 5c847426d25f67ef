package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/internal/fixture"
	"github.com/cachewarm/cachewarm/internal/httpapi"
	"github.com/cachewarm/cachewarm/internal/metrics"
	"github.com/cachewarm/cachewarm/workflows"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// send is a request to the worker's server with exactly the headers given ("Host" sets the
// Host header); the body goes as is, with no Content-Type of its own.
func (b bundle) send(t *testing.T, method, path string, body io.Reader, header ...string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, b.url+path, body)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, out
}

// parkedJob inserts a job on a queue no worker serves, for River UI's API to act on.
func parkedJob(t *testing.T, env *fixture.Env) int64 {
	t.Helper()
	var id int64
	require.NoError(t, env.Pool.QueryRow(context.Background(), `
		INSERT INTO cachewarm.river_job (args, kind, max_attempts, priority, queue, state, scheduled_at)
		VALUES ('{}', 'cachewarm.test_parked', 1, 1, 'parked', 'scheduled', now() + interval '1 hour')
		RETURNING id`).Scan(&id))
	return id
}

func jobExists(t *testing.T, env *fixture.Env, id int64) bool {
	t.Helper()
	var ok bool
	require.NoError(t, env.Pool.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM cachewarm.river_job WHERE id = $1)`, id).Scan(&ok))
	return ok
}

func queuePaused(t *testing.T, env *fixture.Env, name string) bool {
	t.Helper()
	var paused bool
	require.NoError(t, env.Pool.QueryRow(context.Background(), `SELECT coalesce((SELECT paused_at IS NOT NULL FROM cachewarm.river_queue WHERE name = $1), false)`, name).Scan(&paused))
	return paused
}

// TestCrossSiteWritesRefused sends every mutation, the JSON API's and River UI's, the way a
// page on another site can get a browser to send it: a form post (urlencoded, multipart or
// text/plain), a no-cors fetch of a Blob with no type or of a string (text/plain), and a JSON
// body with a foreign or opaque Origin. Each is refused with JSON, with and without a token,
// and changes nothing; the same calls as application/json (with this server's own Origin, or
// none) go through.
func TestCrossSiteWritesRefused(t *testing.T) {
	t.Parallel()
	for _, token := range []string{"", "s3cret-token"} {
		t.Run(fmt.Sprintf("token=%t", token != ""), func(t *testing.T) {
			t.Parallel()
			b := setup(t, token)
			ctx := context.Background()
			var auth []string
			if token != "" {
				auth = []string{"Authorization", "Bearer " + token}
			}
			code, body := b.send(t, "POST", "/api/cache/warm", strings.NewReader(`{"tenants":["t001"],"phases":["critical"]}`), append(auth, "Content-Type", "application/json")...)
			require.Equal(t, http.StatusAccepted, code, string(body))
			b.env.WaitWorkflows(t, time.Minute)
			require.EqualValues(t, 1, b.env.Redis.Exists(ctx, "finance:coa:t001").Val())
			job := parkedJob(t, b.env)
			own := b.url // http://127.0.0.1:port, as a page of River UI's own sends it

			mutations := []struct{ method, path, body string }{
				{"POST", "/api/cache/invalidate", `{"tenant":"t001","rewarm":false}`},
				{"POST", "/api/cache/warm", `{"tenants":["t002"]}`},
				{"POST", "/riverui/api/jobs/delete", fmt.Sprintf(`{"ids":["%d"]}`, job)},
				{"POST", "/riverui/api/jobs/cancel", fmt.Sprintf(`{"ids":["%d"]}`, job)},
				{"PUT", "/riverui/api/queues/warm/pause", ``},
				{"PATCH", "/riverui/api/queues/warm", `{"concurrency":null}`},
			}
			refused := []struct {
				name   string
				header []string
				code   int
				msg    string
			}{
				{"no-cors Blob without a type", []string{"Origin", "http://evil.example"}, 403, "cross-origin"},
				{"no Content-Type, no Origin", nil, 415, "application/json"},
				{"text/plain (no-cors string, form enctype)", []string{"Content-Type", "text/plain;charset=UTF-8"}, 415, "application/json"},
				{"urlencoded form", []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "application/json"},
				{"multipart form", []string{"Content-Type", "multipart/form-data; boundary=x"}, 415, "application/json"},
				{"a JSON look-alike type", []string{"Content-Type", "application/json-patch+json"}, 415, "application/json"},
				{"JSON from another site", []string{"Content-Type", "application/json", "Origin", "http://evil.example"}, 403, "cross-origin"},
				{"JSON from another port", []string{"Content-Type", "application/json", "Origin", "http://127.0.0.1:1"}, 403, "cross-origin"},
				{"JSON with an opaque Origin", []string{"Content-Type", "application/json", "Origin", "null"}, 403, "cross-origin"},
			}
			before := b.enqueued(t)
			for _, m := range mutations {
				for _, r := range refused {
					code, body := b.send(t, m.method, m.path, strings.NewReader(m.body), append(append([]string{}, auth...), r.header...)...)
					require.Equal(t, r.code, code, "%s %s, %s: %s", m.method, m.path, r.name, body)
					requireError(t, body, r.msg)
				}
			}
			require.EqualValues(t, 1, b.env.Redis.Exists(ctx, "finance:coa:t001").Val(), "no invalidation went through")
			require.Equal(t, before, b.enqueued(t), "no warm went through")
			require.True(t, jobExists(t, b.env, job), "no job deleted")
			require.False(t, queuePaused(t, b.env, "warm"), "no queue paused")

			// The same mutations as JSON, from this server's own page or a non-browser client.
			code, body = b.send(t, "PUT", "/riverui/api/queues/warm/pause", nil, append(auth, "Content-Type", "application/json", "Origin", own)...)
			require.Equal(t, http.StatusOK, code, string(body))
			require.True(t, queuePaused(t, b.env, "warm"))
			code, body = b.send(t, "PUT", "/riverui/api/queues/warm/resume", nil, append(auth, "Content-Type", "application/json; charset=utf-8")...)
			require.Equal(t, http.StatusOK, code, string(body))
			require.False(t, queuePaused(t, b.env, "warm"))
			code, body = b.send(t, "POST", "/riverui/api/jobs/delete", strings.NewReader(fmt.Sprintf(`{"ids":["%d"]}`, job)), append(auth, "Content-Type", "application/json", "Origin", strings.Replace(own, "127.0.0.1", "LOCALHOST", 1))...)
			// Another name for the same address is another origin.
			require.Equal(t, http.StatusForbidden, code, string(body))
			code, body = b.send(t, "POST", "/riverui/api/jobs/delete", strings.NewReader(fmt.Sprintf(`{"ids":["%d"]}`, job)), append(auth, "Content-Type", "application/json", "Origin", own)...)
			require.Equal(t, http.StatusOK, code, string(body))
			require.False(t, jobExists(t, b.env, job))
			code, body = b.send(t, "POST", "/api/cache/invalidate", strings.NewReader(`{"tenant":"t001","rewarm":false}`), append(auth, "Content-Type", "application/json;charset=UTF-8", "Origin", own)...)
			require.Equal(t, http.StatusOK, code, string(body))
			require.Zero(t, b.env.Redis.Exists(ctx, "finance:coa:t001").Val())

			// River UI's page sends its mutations as JSON.
			code, body = b.send(t, "GET", "/riverui/queues", nil, auth...)
			require.Equal(t, http.StatusOK, code)
			require.Contains(t, string(body), `headers.set("Content-Type", "application/json")`)
			require.Less(t, strings.Index(string(body), `headers.set("Content-Type"`), strings.Index(string(body), `type="module"`), "before River UI's own scripts")
		})
	}
}

// TestDNSRebinding sends what a page whose DNS name was rebound to 127.0.0.1 sends: its own
// name in Host. With no token, everything protected refuses it with 403; loopback names and
// addresses pass. With a token, the token decides, whatever the Host.
func TestDNSRebinding(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	port := b.url[strings.LastIndexByte(b.url, ':'):]
	protected := []struct{ method, path, body string }{
		{"GET", "/riverui/", ""},
		{"GET", "/riverui/api/queues", ""},
		{"GET", "/riverui/api/jobs?state=completed", ""},
		{"PUT", "/riverui/api/queues/warm/pause", ""},
		{"GET", "/debug/pprof/heap", ""},
		{"GET", "/debug/pprof/", ""},
		{"POST", "/api/cache/warm", `{"tenants":["t001"]}`},
		{"POST", "/api/cache/invalidate", `{"tenant":"t001"}`},
		{"GET", "/api/cache/workflows?tenant=t001", ""},
		{"GET", "/api/cache/stats", ""},
	}
	before := b.enqueued(t)
	for _, host := range []string{"rebind.attacker.example", "rebind.attacker.example" + port, "localhost.attacker.example" + port, "127.0.0.1.nip.io" + port, "10.0.0.1" + port, "0.0.0.0" + port, "[::ffff:127.0.0.1]" + port, "localhost:x"} {
		for _, r := range protected {
			code, body := b.send(t, r.method, r.path, strings.NewReader(r.body), "Host", host, "Content-Type", "application/json")
			require.Equal(t, http.StatusForbidden, code, "%s %s Host %s: %s", r.method, r.path, host, body)
			requireError(t, body, "address this server as localhost")
		}
		code, _ := b.send(t, "GET", "/health", nil, "Host", host)
		require.Equal(t, http.StatusOK, code, "health stays open")
	}
	require.False(t, queuePaused(t, b.env, "warm"))
	require.Equal(t, before, b.enqueued(t))

	for _, host := range []string{"localhost", "localhost" + port, "LocalHost." + port, "127.0.0.1" + port, "127.1.2.3", "[::1]" + port, "[::1]"} {
		code, body := b.send(t, "GET", "/api/cache/stats", nil, "Host", host)
		require.Equal(t, http.StatusOK, code, "Host %s: %s", host, body)
		code, body = b.send(t, "GET", "/riverui/api/queues", nil, "Host", host)
		require.Equal(t, http.StatusOK, code, "Host %s: %s", host, body)
	}

	// With a token, the Host does not matter and the token does.
	tb := setup(t, "tok")
	code, body := tb.send(t, "GET", "/riverui/api/queues", nil, "Host", "rebind.attacker.example")
	require.Equal(t, http.StatusUnauthorized, code, string(body))
	code, body = tb.send(t, "GET", "/debug/pprof/heap", nil, "Host", "rebind.attacker.example")
	require.Equal(t, http.StatusUnauthorized, code, string(body))
	code, body = tb.send(t, "GET", "/riverui/api/queues", nil, "Host", "cachewarm.internal.example", "Authorization", "Bearer tok")
	require.Equal(t, http.StatusOK, code, string(body))
}

func TestLoopbackHost(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]bool{
		"localhost": true, "localhost:8080": true, "LOCALHOST": true, "localhost.": true, "localhost.:80": true,
		"127.0.0.1": true, "127.0.0.1:8080": true, "127.255.0.9:1": true, "[::1]": true, "[::1]:8080": true,
		"": false, "localhost:": false, "localhost:80x": false, "localhost:123456": false, "foo.localhost": false,
		"localhostx": false, "::1": false, "[::1]x": false, "[::1": false, "128.0.0.1": false, "0.0.0.0": false,
		"[::ffff:127.0.0.1]": false, "127.0.0.1.example": false, "2130706433": false, "[::2]:80": false,
		"example.com": false, "127.0.0.1:8080@evil": false,
	} {
		require.Equal(t, want, httpapi.LoopbackHost(host), "%q", host)
	}
	for _, tt := range []struct {
		origin, host string
		want         bool
	}{
		{"http://localhost:8080", "localhost:8080", true},
		{"http://localhost", "localhost:80", true},
		{"https://localhost", "localhost:443", true},
		{"http://LOCALHOST:8080", "localhost:8080", true},
		{"http://[::1]:8080", "[::1]:8080", true},
		{"http://localhost:8080", "localhost:8081", false},
		{"http://localhost", "localhost:8080", false},
		{"null", "localhost:8080", false},
		{"", "localhost:8080", false},
		{"file://", "localhost", false},
		{"http://evil.example", "localhost", false},
		{"http://u@localhost:8080", "localhost:8080", false},
		{"http://localhost:8080/x", "localhost:8080", false},
	} {
		require.Equal(t, tt.want, httpapi.SameOrigin(tt.origin, tt.host), "%q for Host %q", tt.origin, tt.host)
	}
}

// TestRiverUIBodyCapped posts River UI's API bodies larger than the API's limit, with a
// length and chunked: 413 as JSON, as for the API.
func TestRiverUIBodyCapped(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	job := parkedJob(t, b.env)
	big := `{"ids":["` + strings.Repeat("1", httpapi.MaxBodyBytes) + `"]}`
	code, body := b.send(t, "POST", "/riverui/api/jobs/delete", strings.NewReader(big), "Content-Type", "application/json")
	require.Equal(t, http.StatusRequestEntityTooLarge, code, string(body))
	requireError(t, body, "larger than")
	// No length: the body is cut off as it is read.
	code, body = b.send(t, "POST", "/riverui/api/jobs/delete", io.MultiReader(strings.NewReader(big)), "Content-Type", "application/json")
	require.Equal(t, http.StatusRequestEntityTooLarge, code, string(body))
	requireError(t, body, "larger than")
	require.True(t, jobExists(t, b.env, job))
	code, body = b.send(t, "POST", "/riverui/api/jobs/delete", strings.NewReader(fmt.Sprintf(`{"ids":["%d"]}`, job)), "Content-Type", "application/json")
	require.Equal(t, http.StatusOK, code, string(body))
	require.False(t, jobExists(t, b.env, job))
}

// TestReadsBounded holds every read of the workflows behind a table lock and sends 20 at
// once: they hold no more than the read limit of the pool's connections, /health still
// reaches PostgreSQL, and once the lock goes every read answers.
func TestReadsBounded(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, 1)
	ctx := context.Background()
	const poolSize, readLimit, readers = 4, 2, 20
	pcfg, err := pgxpool.ParseConfig(env.DBURL)
	require.NoError(t, err)
	pcfg.MaxConns = poolSize
	pcfg.ConnConfig.RuntimeParams["application_name"] = "cachewarm-reads-test"
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	reg := prometheus.NewRegistry()
	srv := httptest.NewServer(httpapi.New(httpapi.Deps{
		Pool: pool, Redis: env.Redis, Metrics: metrics.New(reg, pool, env.Redis), Gatherer: reg, Logger: fixture.Logger(t),
		API:       &httpapi.API{Workflows: workflows.New(pool, fixture.Logger(t))},
		ReadLimit: readLimit, ReadTimeout: time.Minute,
	}))
	t.Cleanup(srv.Close)

	lock, err := env.Pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = lock.Rollback(ctx) }()
	_, err = lock.Exec(ctx, `LOCK TABLE cachewarm.workflow_runs IN ACCESS EXCLUSIVE MODE`)
	require.NoError(t, err)

	codes := make([]int, readers)
	var wg sync.WaitGroup
	for i := range readers {
		wg.Go(func() {
			resp, err := http.Get(srv.URL + "/api/cache/workflows?failed=true")
			if err != nil {
				codes[i] = -1
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			codes[i] = resp.StatusCode
		})
	}
	waiting := func() int {
		var n int
		require.NoError(t, env.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE application_name = 'cachewarm-reads-test' AND wait_event_type = 'Lock'`).Scan(&n))
		return n
	}
	require.Eventually(t, func() bool { return waiting() >= readLimit }, 30*time.Second, 10*time.Millisecond, "the reads reach the lock")
	require.LessOrEqual(t, int(pool.Stat().AcquiredConns()), readLimit, "the reads hold at most their share of the pool")
	require.LessOrEqual(t, waiting(), readLimit)

	resp, err := http.Get(srv.URL + "/health")
	require.NoError(t, err)
	hb, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "health answers while reads wait: %s", hb)
	require.Contains(t, string(hb), `"database":{"status":"up"}`)

	require.NoError(t, lock.Rollback(ctx))
	wg.Wait()
	for i, c := range codes {
		require.Equal(t, http.StatusOK, c, "read %d", i)
	}
}

// TestReadTimeout: a read that cannot finish within the read timeout answers 503 and gives
// its slot and connection back.
func TestReadTimeout(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, 1)
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	srv := httptest.NewServer(httpapi.New(httpapi.Deps{
		Pool: env.Pool, Redis: env.Redis, Metrics: metrics.New(reg, env.Pool, env.Redis), Gatherer: reg, Logger: fixture.Logger(t),
		API:       &httpapi.API{Workflows: workflows.New(env.Pool, fixture.Logger(t))},
		ReadLimit: 1, ReadTimeout: 300 * time.Millisecond,
	}))
	t.Cleanup(srv.Close)
	err := pgx.BeginFunc(ctx, env.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE cachewarm.workflow_runs IN ACCESS EXCLUSIVE MODE`); err != nil {
			return err
		}
		for range 2 {
			resp, err := http.Get(srv.URL + "/api/cache/workflows")
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, string(body))
			requireError(t, body, "try again")
		}
		return nil
	})
	require.NoError(t, err)
	resp, err := http.Get(srv.URL + "/api/cache/workflows")
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// TestAnonymousLearnsNothing: with a token set, a caller without it gets the same answer for
// a tenant that exists and one that does not, no workflows or statistics, and a /health that
// says what is down but not why; /metrics stays open, with no tenant label.
func TestAnonymousLearnsNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, "s3cret-token")
	auth := []string{"Authorization", "Bearer s3cret-token"}
	code, body := b.do(t, "POST", "/api/cache/warm", `{"tenants":["t001"],"phases":["critical"]}`, auth...)
	require.Equal(t, http.StatusAccepted, code, string(body))
	b.env.WaitWorkflows(t, time.Minute)
	code, body = b.do(t, "GET", "/api/cache/workflows?tenant=t001", "", auth...)
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, string(body), `"tenant":"t001"`)

	for _, r := range []struct{ method, known, unknown, body string }{
		{"GET", "/api/cache/workflows?tenant=t001", "/api/cache/workflows?tenant=t999", ""},
		{"GET", "/api/cache/workflows?tenant=t001&failed=true", "/api/cache/workflows?tenant=zz", ""},
		{"GET", "/api/cache/stats", "/api/cache/stats?tenant=t999", ""},
		{"POST", "/api/cache/invalidate", "/api/cache/invalidate", `{"tenant":"%s"}`},
		{"POST", "/api/cache/warm", "/api/cache/warm", `{"tenants":["%s"]}`},
	} {
		codeK, bodyK := b.do(t, r.method, r.known, strings.ReplaceAll(r.body, "%s", "t001"))
		codeU, bodyU := b.do(t, r.method, r.unknown, strings.ReplaceAll(r.body, "%s", "t999"))
		require.Equal(t, http.StatusUnauthorized, codeK, "%s %s: %s", r.method, r.known, bodyK)
		require.Equal(t, codeK, codeU)
		require.Equal(t, string(bodyK), string(bodyU), "%s: known and unknown tenants look the same", r.known)
		require.NotContains(t, string(bodyK), "t001")
	}

	code, body = b.do(t, "GET", "/metrics", "")
	require.Equal(t, http.StatusOK, code)
	require.NotContains(t, string(body), "t001")
	require.NotContains(t, string(body), "tenant=")

	// /health with both services down: the error details only with the token.
	pool, err := pgxpool.New(context.Background(), "postgres://secretuser@127.0.0.1:1/secretdb?connect_timeout=1")
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	bad := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = bad.Close() })
	reg := prometheus.NewRegistry()
	h := httpapi.New(httpapi.Deps{Pool: pool, Redis: bad, Metrics: metrics.New(reg, pool, bad), Gatherer: reg, Logger: fixture.Logger(t), Token: "s3cret-token"})
	health := func(header ...string) (int, string) {
		req := httptest.NewRequest("GET", "/health", nil)
		req.RemoteAddr = "127.0.0.1:4000"
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	code, anon := health()
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.JSONEq(t, `{"status":"error","info":{"cache":{"status":"unhealthy","hitRate":0,"errorRate":0,"error":"redis unreachable"},"database":{"status":"down","error":"postgres unreachable"}}}`, anon)
	code, full := health(auth...)
	require.Equal(t, http.StatusServiceUnavailable, code)
	for _, detail := range []string{"secretuser", "secretdb", "127.0.0.1:1"} {
		require.NotContains(t, anon, detail)
		require.Contains(t, full, detail, "the operator is told why")
	}
}

// TestHealthDetailsLoopbackOnly: with no token, a loopback client addressing the server by a
// loopback name sees /health's error details; any other caller sees only what is down.
func TestHealthDetailsLoopbackOnly(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, 1)
	bad := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = bad.Close() })
	reg := prometheus.NewRegistry()
	h := httpapi.New(httpapi.Deps{Pool: env.Pool, Redis: bad, Metrics: metrics.New(reg, env.Pool, bad), Gatherer: reg, Logger: fixture.Logger(t)})
	for _, tt := range []struct {
		remote, host string
		details      bool
	}{
		{"127.0.0.1:4000", "localhost:8080", true},
		{"[::1]:4000", "[::1]:8080", true},
		{"127.0.0.1:4000", "rebind.attacker.example:8080", false},
		{"203.0.113.9:4000", "localhost:8080", false},
	} {
		req := httptest.NewRequest("GET", "/health", nil)
		req.RemoteAddr, req.Host = tt.remote, tt.host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, http.StatusServiceUnavailable, rec.Code)
		require.Equal(t, tt.details, strings.Contains(rec.Body.String(), "127.0.0.1:1"), "%s as %s: %s", tt.remote, tt.host, rec.Body)
	}
}
