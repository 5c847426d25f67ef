package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/demodata"
	"github.com/cachewarm/cachewarm/migrations"
	"github.com/cachewarm/cachewarm/workflows"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

func (p *process) waitHealthy(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + p.addr + "/health")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("worker on %s did not answer /health within %s", p.addr, timeout)
}

// peakRSS is the process's peak resident set size (VmHWM), in bytes.
func (p *process) peakRSS() int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// metricSum adds up the samples of one metric on the worker's /metrics.
func (p *process) metricSum(name string) float64 {
	resp, err := http.Get("http://" + p.addr + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	sum := 0.0
	for line := range strings.SplitSeq(string(body), "\n") {
		if !strings.HasPrefix(line, name) {
			continue
		}
		if i := strings.LastIndexByte(line, ' '); i > 0 {
			v, _ := strconv.ParseFloat(line[i+1:], 64)
			sum += v
		}
	}
	return sum
}

type phaseResult struct {
	Phase string
	Keys  int64
	Bytes int64
	Wall  time.Duration
}

type warmResult struct {
	Phases      []phaseResult
	Keys, Bytes int64
	Wall        time.Duration
	Jobs        int
	// InJobs is the time phase jobs ran (River attempted_at to finalized_at), summed.
	InJobs time.Duration
}

// fullWarm starts a workflow of every phase for every tenant and waits for all of them. Phase
// wall times run from the start to the last finish of the phase (phases of different tenants
// overlap, and River's priorities run critical first).
func fullWarm(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) (warmResult, error) {
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Schema: migrations.Schema, Logger: logger})
	if err != nil {
		return warmResult{}, err
	}
	svc := workflows.New(pool, logger)
	var t0 time.Time
	if err := pool.QueryRow(ctx, `SELECT now()`).Scan(&t0); err != nil {
		return warmResult{}, err
	}
	runs, err := svc.Start(ctx, client, workflows.Request{All: true, Phases: catalog.Phases, Trigger: "bench"})
	if err != nil {
		return warmResult{}, err
	}
	ids := make([]int64, len(runs))
	for i, r := range runs {
		ids[i] = r.ID
	}
	// A warm that never ends (its workflows deleted by another run of the benchmark on the
	// same database, a worker gone) fails instead of polling forever.
	deadline := time.Now().Add(30 * time.Minute)
	for {
		p, err := svc.Progress(ctx, ids)
		if err != nil {
			return warmResult{}, err
		}
		if time.Now().After(deadline) {
			return warmResult{}, fmt.Errorf("warm not finished after 30 minutes: %d of %d workflows done", p.Finished, len(ids))
		}
		if p.Finished == len(ids) {
			if p.Completed != len(ids) {
				return warmResult{}, fmt.Errorf("%d workflow(s) did not complete", len(ids)-p.Completed)
			}
			break
		}
		// The phases' wall times come from the database's timestamps, so polling often
		// buys no precision; it would only take CPU from the warm being measured (each poll
		// reads every workflow).
		time.Sleep(500 * time.Millisecond)
	}
	var r warmResult
	rows, err := pool.Query(ctx, `
SELECT phase, sum(keys_written)::bigint, sum(bytes_written)::bigint,
       (extract(epoch FROM max(finished_at) - $2::timestamptz) * 1e6)::bigint,
       count(*)::int,
       (SELECT (extract(epoch FROM sum(j.finalized_at - j.attempted_at)) * 1e6)::bigint
        FROM cachewarm.river_job j WHERE j.id = ANY(array_agg(p.job_id)))
FROM cachewarm.workflow_phases p WHERE workflow_id = ANY($1)
GROUP BY phase ORDER BY array_position(ARRAY['critical', 'high', 'medium'], phase)`, ids, t0)
	if err != nil {
		return r, err
	}
	defer rows.Close()
	for rows.Next() {
		var p phaseResult
		var wallUS, workUS int64
		var jobs int
		if err := rows.Scan(&p.Phase, &p.Keys, &p.Bytes, &wallUS, &jobs, &workUS); err != nil {
			return r, err
		}
		p.Wall = time.Duration(wallUS) * time.Microsecond
		r.Phases = append(r.Phases, p)
		r.Keys += p.Keys
		r.Bytes += p.Bytes
		r.Wall = max(r.Wall, p.Wall)
		r.Jobs += jobs
		r.InJobs += time.Duration(workUS) * time.Microsecond
	}
	return r, rows.Err()
}

type latencies []time.Duration

func (l latencies) p(q int) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*q/100)]
}

// changeLatencies are the change-to-fresh latencies of a series of changes: until Redis serves
// the new value, until an application reading through cache.Wrap with L1 on sees it, and the
// difference (what the invalidation message adds, to within the 0.1 ms polling).
type changeLatencies struct {
	redis, l1, lag latencies
}

func (c *changeLatencies) add(d changeLatency) {
	c.redis = append(c.redis, d.redis)
	c.l1 = append(c.l1, d.l1)
	c.lag = append(c.lag, max(d.l1-d.redis, 0))
}

type changeLatency struct{ redis, l1 time.Duration }

// changeToFresh renames one account of a tenant n times, one after another, and measures from
// each commit until Redis serves the new name, and until app (a Cache with L1 on) does.
func changeToFresh(ctx context.Context, pool *pgxpool.Pool, rdb *redis.Client, app *cache.Cache, tenants, n int) (changeLatencies, error) {
	var out changeLatencies
	for i := range n {
		t := demodata.TenantID(i%tenants + 1)
		d, err := oneChange(ctx, pool, rdb, app, t, i)
		if err != nil {
			return out, err
		}
		out.add(d)
		time.Sleep(5 * time.Millisecond)
	}
	return out, nil
}

// oneChange renames account 1 of tenant and polls, every 0.1 ms, a GET of its chart of
// accounts and a cache.Wrap of it through app, whose L1 tier holds the old value beforehand:
// the second sees the change only through the worker's invalidation message.
func oneChange(ctx context.Context, pool *pgxpool.Pool, rdb *redis.Client, app *cache.Cache, tenant string, i int) (changeLatency, error) {
	marker := fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), i)
	key := cache.Keys{}.ChartOfAccounts(cache.MustTenant(tenant))
	viaL1 := func() (string, error) {
		v, err := cache.Wrap(ctx, app, key, cache.TTLStatic, func(context.Context) (json.RawMessage, error) {
			return nil, fmt.Errorf("%s is not warm", key)
		})
		return string(v), err
	}
	if _, err := viaL1(); err != nil { // the old value into L1
		return changeLatency{}, err
	}
	var out changeLatency
	start := time.Now()
	_, err := pool.Exec(ctx, `UPDATE chart_of_accounts SET name = $2 WHERE tenant_id = $1 AND id = 1`, tenant, marker)
	if err != nil {
		return out, err
	}
	deadline := start.Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if out.redis == 0 {
			if v, err := rdb.Get(ctx, key).Result(); err == nil && strings.Contains(v, marker) {
				out.redis = time.Since(start)
			}
		}
		if out.l1 == 0 {
			if v, err := viaL1(); err == nil && strings.Contains(v, marker) {
				out.l1 = time.Since(start)
			}
		}
		if out.redis > 0 && out.l1 > 0 {
			return out, nil
		}
		time.Sleep(100 * time.Microsecond)
	}
	if out.redis > 0 {
		return out, fmt.Errorf("change to %s reached Redis in %s but not the L1 reader within 30 s", tenant, out.redis)
	}
	return out, fmt.Errorf("change to %s did not reach Redis within 30 s", tenant)
}

// changeToFreshDuringWarm starts another full warm and measures n changes while it runs.
func changeToFreshDuringWarm(ctx context.Context, pool *pgxpool.Pool, rdb *redis.Client, app *cache.Cache, o Options, n int) (changeLatencies, time.Duration, error) {
	var (
		wg      sync.WaitGroup
		warmErr error
		warm    warmResult
	)
	wg.Go(func() { warm, warmErr = fullWarm(ctx, pool, o.Logger) })
	time.Sleep(200 * time.Millisecond)
	var out changeLatencies
	for i := range n {
		d, err := oneChange(ctx, pool, rdb, app, demodata.TenantID(i%o.Tenants+1), i)
		if err != nil {
			wg.Wait()
			return out, 0, err
		}
		out.add(d)
		time.Sleep(20 * time.Millisecond)
	}
	wg.Wait()
	return out, warm.Wall, warmErr
}

type refResult struct {
	Keys  int
	Bytes int64
	Time  time.Duration
	// RedisCPU is the Redis server's CPU time during the writes (zero if it is not local).
	RedisCPU time.Duration
}

func (r refResult) rate() float64 { return float64(r.Keys) / r.Time.Seconds() }

type kv struct {
	key, value string
	ttl        time.Duration
}

// rawBound reads every data key the warm wrote (with its TTL), then times writing exactly
// those keys, values and TTLs into another DB with pipelined SETs from four goroutines.
func rawBound(ctx context.Context, src *redis.Client, dstURL string) (refResult, error) {
	var all []kv
	iter := src.Scan(ctx, 0, "*", 5000).Iterator()
	var batch []string
	flush := func() error {
		pipe := src.Pipeline()
		gets := make([]*redis.StringCmd, len(batch))
		ttls := make([]*redis.DurationCmd, len(batch))
		for i, k := range batch {
			gets[i], ttls[i] = pipe.Get(ctx, k), pipe.PTTL(ctx, k)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
		for i, k := range batch {
			all = append(all, kv{k, gets[i].Val(), ttls[i].Val()})
		}
		batch = batch[:0]
		return nil
	}
	for iter.Next(ctx) {
		k := iter.Val()
		if strings.HasPrefix(k, "cachewarm:") || strings.HasPrefix(k, "{") {
			continue // version keys and index sets: bookkeeping, not data
		}
		if batch = append(batch, k); len(batch) == 1000 {
			if err := flush(); err != nil {
				return refResult{}, err
			}
		}
	}
	if err := iter.Err(); err != nil {
		return refResult{}, err
	}
	if err := flush(); err != nil {
		return refResult{}, err
	}
	dst, err := newRedis(dstURL)
	if err != nil {
		return refResult{}, err
	}
	defer dst.Close()
	if err := flushAndWait(ctx, dst); err != nil {
		return refResult{}, err
	}
	var bytes int64
	for _, e := range all {
		bytes += int64(len(e.value))
	}
	const writers, per = 4, 1000
	cpu0 := redisCPU(ctx, dst)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := w * per; i < len(all); i += writers * per {
				pipe := dst.Pipeline()
				for _, e := range all[i:min(i+per, len(all))] {
					pipe.Set(ctx, e.key, e.value, e.ttl)
				}
				if _, err := pipe.Exec(ctx); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	redisTime := redisCPU(ctx, dst) - cpu0
	close(errs)
	if err := <-errs; err != nil {
		return refResult{}, err
	}
	_ = dst.FlushDBAsync(ctx).Err()
	return refResult{Keys: len(all), Bytes: bytes, Time: elapsed, RedisCPU: redisTime}, nil
}

// naiveWarm warms tenants the way the original service did: tenant after tenant, one query per
// dataset, then one awaited SET per key.
func naiveWarm(ctx context.Context, pool *pgxpool.Pool, dstURL string, cat *catalog.Catalog, tenants int) (refResult, error) {
	dst, err := newRedis(dstURL)
	if err != nil {
		return refResult{}, err
	}
	defer dst.Close()
	var r refResult
	start := time.Now()
	for k := 1; k <= tenants; k++ {
		t := cache.MustTenant(demodata.TenantID(k))
		for _, d := range cat.All() {
			list, err := d.Entries(ctx, pool, t.String())
			if err != nil {
				return r, err
			}
			for _, e := range list {
				if err := dst.Set(ctx, cache.Keys{}.Join(e.Prefix, t, e.Suffix), e.Value, d.TTL).Err(); err != nil {
					return r, err
				}
				r.Keys++
				r.Bytes += int64(len(e.Value))
			}
		}
	}
	r.Time = time.Since(start)
	_ = dst.FlushDBAsync(ctx).Err()
	return r, nil
}

// flushAndWait empties rdb's DB and waits until Redis has freed what it held: an asynchronous
// FLUSHDB of two million keys keeps Redis's lazyfree thread on a core for seconds, which would
// be taken from whatever is measured next.
func flushAndWait(ctx context.Context, rdb *redis.Client) error {
	if err := rdb.FlushDBAsync(ctx).Err(); err != nil {
		return err
	}
	for {
		info, err := rdb.Info(ctx, "memory").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "lazyfree_pending_objects:") || strings.Contains(info, "lazyfree_pending_objects:0\r\n") {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
