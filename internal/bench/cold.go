package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/coldstart"
	"github.com/cachewarm/cachewarm/internal/config"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// coldResult is one warm measured by the cold start benchmark.
type coldResult struct {
	name string
	// cold is set for a cold start, not the startup warm.
	cold bool
	// detected is the time from Redis answering empty to the cold start being recorded. The
	// worker may see a restarted Redis answer before the benchmark does: it is then 0.
	detected time.Duration
	// critical is the time until every tenant's critical keys were in Redis (for the startup
	// warm: the last critical phase's end).
	critical time.Duration
	// full is the time until every workflow (and dataset re-warm) ended.
	full time.Duration
}

// RunCold measures cold starts (make coldbench): against a private redis-server without
// persistence, a worker warms o.Tenants tenants at startup; then Redis is restarted empty,
// and later flushed (FLUSHALL), and each time the benchmark measures how long until the
// worker noticed, until every tenant's critical keys were back, and until the whole re-warm
// was done, next to the startup warm's figures.
func RunCold(ctx context.Context, o Options) error {
	srv, err := startRedisServer(ctx)
	if err != nil {
		return err
	}
	defer srv.stop()
	o.redisURL = "redis://" + srv.addr + "/0"
	return withPrepared(ctx, &o, func(pool *pgxpool.Pool, rdb *redis.Client, cat *catalog.Catalog) error {
		return runCold(ctx, o, srv, pool, rdb, cat)
	})
}

// runCold is RunCold on the prepared database and private Redis.
func runCold(ctx context.Context, o Options, srv *redisServer, pool *pgxpool.Pool, rdb *redis.Client, cat *catalog.Catalog) error {
	if _, err := pool.Exec(ctx, `TRUNCATE cachewarm.cold_starts`); err != nil {
		return fmt.Errorf("clear earlier cold starts: %w", err)
	}

	// The startup warm of a new install: not a cold start. The cold check at its default
	// interval (the other benchmarks turn it off).
	o.WorkerEnv = append([]string{"CACHE_WARMING_ENABLED=true", "CACHEWARM_STARTUP_WARM=true",
		"CACHEWARM_COLD_CHECK=" + config.DefaultColdCheck.String()}, o.WorkerEnv...)
	fmt.Fprintf(o.Out, "startup warm of %d tenants (redis-server on %s, no persistence) ...\n", o.Tenants, srv.addr)
	began := time.Now()
	procs, err := startWorkers(ctx, o)
	if err != nil {
		return err
	}
	defer stopWorkers(procs)
	startup := coldResult{name: "startup warm (worker start)"}
	if startup.full, err = waitIdle(ctx, pool, began, 30*time.Minute); err != nil {
		return err
	}
	var lastCritical time.Time
	if err := pool.QueryRow(ctx, `SELECT max(finished_at) FROM cachewarm.workflow_phases WHERE phase = 'critical'`).Scan(&lastCritical); err != nil {
		return fmt.Errorf("critical phases: %w", err)
	}
	startup.critical = lastCritical.Sub(began)
	critical, err := criticalKeys(ctx, rdb, cat, o.Tenants)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "%d critical keys over %d tenants\n", len(critical), o.Tenants)
	results := []coldResult{startup}

	for i, c := range []struct {
		name  string
		empty func() error
	}{
		{"restart without persistence", srv.restart},
		{"FLUSHALL", func() error { return rdb.FlushAll(ctx).Err() }},
	} {
		if err := waitSentinel(ctx, rdb); err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "%s ...\n", c.name)
		if err := c.empty(); err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		empty := time.Now()
		r := coldResult{name: c.name, cold: true}
		if r.critical, err = waitKeys(ctx, rdb, critical, empty, 10*time.Minute); err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		if r.detected, r.full, err = waitColdStart(ctx, pool, i+1, empty, 30*time.Minute); err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		results = append(results, r)
	}
	tw := tabwriter.NewWriter(o.Out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%d tenants, all phases\tnoticed after\tcritical keys back\tfull warm\t\n", o.Tenants)
	for _, r := range results {
		det := "-"
		if r.cold {
			det = ms(max(r.detected, 0))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", r.name, det, ms(r.critical), ms(r.full))
	}
	return tw.Flush()
}

// criticalKeys lists the critical keys in Redis after a full warm, from the index sets that
// record each tenant x dataset's keys.
func criticalKeys(ctx context.Context, rdb *redis.Client, cat *catalog.Catalog, tenants int) ([]string, error) {
	var prefixes []string
	for _, d := range cat.Phase(catalog.PhaseCritical) {
		prefix, _, _ := strings.Cut(d.Key.Text, "{")
		prefixes = append(prefixes, prefix)
	}
	var keys []string
	iter := rdb.Scan(ctx, 0, "*", 5000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		for _, p := range prefixes {
			if strings.HasPrefix(k, p) {
				keys = append(keys, k)
				break
			}
		}
	}
	if err := iter.Err(); err != nil {
		return nil, fmt.Errorf("scan critical keys: %w", err)
	}
	if len(keys) < tenants {
		return nil, fmt.Errorf("only %d critical keys for %d tenants after the warm", len(keys), tenants)
	}
	return keys, nil
}

// waitKeys polls until every key exists and returns the time since from. It checks the keys
// a batch at a time, in order, and moves on to the next batch only when the whole batch is
// there: a poll costs one pipelined batch of EXISTS (5,000 a second at most) rather than every
// missing key, so that the measuring takes next to no CPU from the re-warm it measures (2 cores
// are shared by the worker, PostgreSQL, Redis and this poller). The keys are in SCAN order, so
// each batch holds random tenants and the first completes only near the end. The time is that
// of the last key's arrival, give or take one poll interval and the check of the batches after
// it, one pipelined round trip each.
func waitKeys(ctx context.Context, rdb *redis.Client, keys []string, from time.Time, timeout time.Duration) (time.Duration, error) {
	const batchSize = 100
	deadline := time.Now().Add(timeout)
	var missing []string // of the batch being checked
	for i := 0; i < len(keys); {
		if missing == nil {
			missing = keys[i:min(i+batchSize, len(keys))]
		}
		pipe := rdb.Pipeline()
		cmds := make([]*redis.IntCmd, len(missing))
		for j, k := range missing {
			cmds[j] = pipe.Exists(ctx, k)
		}
		still := missing // Redis may still be starting
		if _, err := pipe.Exec(ctx); err == nil {
			still = nil
			for j, c := range cmds {
				if c.Val() == 0 {
					still = append(still, missing[j])
				}
			}
		}
		if len(still) == 0 {
			i += batchSize
			missing = nil
			continue
		}
		missing = still
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("critical keys still missing after %s (%d of the batch from key %d)", timeout, len(missing), i)
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return 0, err
		}
	}
	return time.Since(from), nil
}

// waitIdle waits until no workflow is active and no job waits, and returns the time since
// from of the last workflow's end.
func waitIdle(ctx context.Context, pool *pgxpool.Pool, from time.Time, timeout time.Duration) (time.Duration, error) {
	deadline := time.Now().Add(timeout)
	for {
		var (
			busy bool
			last *time.Time
		)
		err := pool.QueryRow(ctx, `SELECT
			EXISTS (SELECT 1 FROM cachewarm.workflow_runs WHERE state IN ('queued', 'running'))
			OR EXISTS (SELECT 1 FROM cachewarm.river_job WHERE finalized_at IS NULL AND kind LIKE 'cachewarm.warm%'),
			(SELECT max(finished_at) FROM cachewarm.workflow_runs)`).Scan(&busy, &last)
		if err != nil {
			return 0, err
		}
		if !busy && last != nil {
			return last.Sub(from), nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("workflows still running after %s", timeout)
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return 0, err
		}
	}
}

// waitColdStart waits for cold start number n to be recorded and done; it returns the times
// from from to its detection and to its re-warm's end.
func waitColdStart(ctx context.Context, pool *pgxpool.Pool, n int, from time.Time, timeout time.Duration) (detected, full time.Duration, err error) {
	deadline := time.Now().Add(timeout)
	for {
		var count int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM cachewarm.cold_starts`).Scan(&count); err != nil {
			return 0, 0, err
		}
		if count == n {
			s, err := coldstart.Latest(ctx, pool)
			if err != nil {
				return 0, 0, err
			}
			if s.FinishedAt != nil {
				return s.DetectedAt.Sub(from), s.FinishedAt.Sub(from), nil
			}
		}
		if count > n {
			return 0, 0, fmt.Errorf("%d cold starts recorded, want %d", count, n)
		}
		if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("cold start %d not done after %s", n, timeout)
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return 0, 0, err
		}
	}
}

// waitSentinel waits until the worker has put its sentinel in Redis.
func waitSentinel(ctx context.Context, rdb *redis.Client) error {
	for range 300 {
		if n, err := rdb.Exists(ctx, coldstart.SentinelKey).Result(); err == nil && n == 1 {
			return nil
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	return errors.New("the worker set no cold start sentinel within 30 s")
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// redisServer is a private redis-server without persistence.
type redisServer struct {
	addr string
	args []string
	cmd  *exec.Cmd
	dir  string
}

func startRedisServer(ctx context.Context) (*redisServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	dir, err := os.MkdirTemp("", "coldbench-redis-")
	if err != nil {
		return nil, err
	}
	s := &redisServer{addr: "127.0.0.1:" + strconv.Itoa(port), dir: dir,
		args: []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir}}
	return s, s.start(ctx)
}

func (s *redisServer) start(ctx context.Context) error {
	s.cmd = exec.Command("redis-server", s.args...)
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server (apt-get install redis-server): %w", err)
	}
	c := redis.NewClient(&redis.Options{Addr: s.addr})
	defer c.Close()
	for range 200 {
		if c.Ping(ctx).Err() == nil {
			return nil
		}
		if err := sleepCtx(ctx, 25*time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("redis-server on %s does not answer", s.addr)
}

// restart kills the server and starts it again, empty; it returns once it answers.
func (s *redisServer) restart() error {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	return s.start(context.Background())
}

func (s *redisServer) stop() {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	_ = os.RemoveAll(s.dir)
}
