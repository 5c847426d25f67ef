// Package bench is cachewarm's end-to-end benchmark: it seeds N tenants, runs a full warm (all
// three phases) in real worker processes, and prints one table: keys, bytes, wall time per
// phase and in total, keys/s, the workers' peak RSS, job overhead, and change-to-fresh latency
// over single-row updates (idle, and while a full warm runs), until Redis serves the new value
// and until an application reading through cache.Wrap with L1 on does. In the same run it
// measures two references on exactly the same keys and bytes: the raw bound (the same
// key/value/TTL set written with go-redis pipelines and no database work) and the naive warmer
// (one query per dataset and one SET round trip per key, tenant after tenant, like the original
// service's sequential await loop).
package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/config"
	"github.com/cachewarm/cachewarm/internal/demodata"
	"github.com/cachewarm/cachewarm/migrations"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// Options configure a benchmark run.
type Options struct {
	Tenants      int
	Seed         int64
	Database     string
	RedisDB      int
	RawRedisDB   int
	Workers      int
	Bin          string
	Changes      int
	NaiveTenants int
	SkipRaw      bool
	WorkerEnv    []string
	Out          io.Writer
	Logger       *slog.Logger
	serverURL    string
	capture      string // the change capture mode (CACHEWARM_CHANGE_CAPTURE), for migrate and the workers
	redis        config.Redis
	databaseURL  string
	redisURL     string
	rawRedisURL  string
}

// Main parses args and runs the benchmark.
func Main(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("cachewarm-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o Options
	fs.IntVar(&o.Tenants, "tenants", 1000, "tenants to seed and warm")
	fs.Int64Var(&o.Seed, "seed", 1, "demo data seed")
	fs.StringVar(&o.Database, "database", "cachewarm_bench", "the benchmark's own database (created if missing; re-seeded when its tenant count differs)")
	fs.IntVar(&o.RedisDB, "redis-db", 14, "the benchmark's own Redis DB (emptied first)")
	fs.IntVar(&o.RawRedisDB, "raw-redis-db", 14, "the Redis DB the raw-bound and naive writes go to (emptied first; may be --redis-db, which is read before)")
	fs.IntVar(&o.Workers, "workers", 1, "worker processes")
	fs.StringVar(&o.Bin, "bin", "bin/cachewarm", "the cachewarm binary")
	fs.IntVar(&o.Changes, "changes", 200, "single-row updates for the change-to-fresh latency (0 skips it, and the second warm it makes)")
	fs.IntVar(&o.NaiveTenants, "naive-tenants", 10, "tenants the naive warmer writes (its rate is applied to all keys)")
	fs.BoolVar(&o.SkipRaw, "skip-raw", false, "skip the raw-bound and naive references")
	cold := fs.Bool("cold", false, "measure cold starts instead (make coldbench): a private redis-server restarted empty, then flushed, while a worker keeps it warm")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(lookup)
	if err != nil {
		fmt.Fprintln(stderr, "cachewarm-bench:", err)
		return err
	}
	o.serverURL, o.redis, o.capture = cfg.DatabaseURL, cfg.Redis, cfg.ChangeCapture
	o.Out = stdout
	o.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	run := Run
	if *cold {
		run = RunCold
	}
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(stderr, "cachewarm-bench:", err)
		return err
	}
	return nil
}

// Run runs the benchmark.
func Run(ctx context.Context, o Options) error {
	if o.Tenants < 1 || o.Workers < 1 {
		return errors.New("need at least one tenant and one worker")
	}
	o.redisURL, o.rawRedisURL = redisURL(o.redis, o.RedisDB), redisURL(o.redis, o.RawRedisDB)
	var r report
	err := withPrepared(ctx, &o, func(pool *pgxpool.Pool, rdb *redis.Client, cat *catalog.Catalog) error {
		var err error
		r, err = measure(ctx, o, pool, rdb, cat)
		return err
	})
	if err != nil {
		return err
	}
	return r.print(o)
}

// withPrepared makes sure of the benchmark's database (o.databaseURL is set to it), locks it
// for this run, connects to it and to o.redisURL, prepares both for the demo datasets
// (prepare) and calls fn with them; it closes everything when fn returns.
func withPrepared(ctx context.Context, o *Options, fn func(*pgxpool.Pool, *redis.Client, *catalog.Catalog) error) error {
	var err error
	if o.databaseURL, err = ensureDatabase(ctx, o.serverURL, o.Database); err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, o.databaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	unlock, err := lockDatabase(ctx, pool, o.Database)
	if err != nil {
		return err
	}
	defer unlock()
	rdb, err := newRedis(o.redisURL)
	if err != nil {
		return err
	}
	defer rdb.Close()
	cat, err := catalog.Default()
	if err != nil {
		return err
	}
	if err := prepare(ctx, *o, pool, rdb, cat); err != nil {
		return err
	}
	return fn(pool, rdb, cat)
}

// lockDatabase makes this the only run on the database: a run clears the job and workflow
// tables, which would leave another run waiting forever and its worker taking this run's
// jobs. The returned func unlocks.
func lockDatabase(ctx context.Context, pool *pgxpool.Pool, name string) (unlock func(), err error) {
	lock, err := pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	var locked bool
	if err := lock.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtext('cachewarm-bench'))`).Scan(&locked); err != nil {
		lock.Release()
		return nil, err
	}
	if !locked {
		lock.Release()
		return nil, fmt.Errorf("another cachewarm-bench is running on database %s", name)
	}
	return func() {
		_, _ = lock.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtext('cachewarm-bench'))`)
		lock.Release()
	}, nil
}

// prepare seeds the tenants (unless the database has them), migrates, and starts the warm
// from a clean slate: no jobs or workflows, an empty Redis DB, a checkpoint behind it.
func prepare(ctx context.Context, o Options, pool *pgxpool.Pool, rdb *redis.Client, cat *catalog.Catalog) error {
	var have int
	_ = pool.QueryRow(ctx, `SELECT count(*) FROM tenants`).Scan(&have)
	if have != o.Tenants {
		fmt.Fprintf(o.Out, "seeding %d tenants into %s ...\n", o.Tenants, o.Database)
		res, err := demodata.Seed(ctx, pool, demodata.Options{Tenants: o.Tenants, Seed: o.Seed})
		if err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "seeded %d rows in %s\n", res.TotalRows(), res.Duration.Round(time.Millisecond))
	}
	if _, err := migrations.MigrateCapture(ctx, pool, cat, o.capture, o.Logger); err != nil {
		return err
	}
	// VACUUM dirties pages across the whole database; without the CHECKPOINT, writing them
	// out (and the full-page images that follow a checkpoint) lands in the measured warm.
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE`); err != nil {
		return fmt.Errorf("vacuum: %w", err)
	}
	// Cleared after the ANALYZE, the job and workflow tables start the warm as on a new
	// install, never analyzed. Analyzed empty, they would tell the planner they stay empty:
	// with autovacuum off (as on CI machines) every plan made during the warm would then
	// count on tables of a few rows that grow to thousands.
	if _, err := pool.Exec(ctx, `TRUNCATE cachewarm.river_job, cachewarm.workflow_runs CASCADE`); err != nil {
		return fmt.Errorf("clear earlier runs: %w", err)
	}
	if _, err := pool.Exec(ctx, `CHECKPOINT`); err != nil { // needs superuser or pg_checkpoint
		fmt.Fprintf(o.Out, "warning: no CHECKPOINT before the warm, so the VACUUM's writes may slow it: %v\n", err)
	}
	if err := flushAndWait(ctx, rdb); err != nil {
		return fmt.Errorf("empty the benchmark's redis db %d: %w", o.RedisDB, err)
	}
	return nil
}

// report is what measure found.
type report struct {
	warm        warmResult
	cpu         cpuSample
	peakRSS     int64
	datasetWork float64 // seconds of dataset work the workers reported
	idle, busy  changeLatencies
	busyWarm    time.Duration
	raw, naive  refResult
}

// measure runs the full warm in worker processes, then the change-to-fresh measurements and
// the references, as o asks.
func measure(ctx context.Context, o Options, pool *pgxpool.Pool, rdb *redis.Client, cat *catalog.Catalog) (report, error) {
	var r report
	procs, err := startWorkers(ctx, o)
	if err != nil {
		return r, err
	}
	defer stopWorkers(procs)

	fmt.Fprintf(o.Out, "warming %d tenants with %d worker process(es) ...\n", o.Tenants, o.Workers)
	cpu0 := sampleCPU(ctx, rdb, procs)
	if r.warm, err = fullWarm(ctx, pool, o.Logger); err != nil {
		return r, err
	}
	r.cpu = sampleCPU(ctx, rdb, procs).sub(cpu0)
	for _, p := range procs {
		r.peakRSS = max(r.peakRSS, p.peakRSS())
		r.datasetWork += p.metricSum("cachewarm_dataset_duration_seconds_sum")
	}

	if o.Changes > 0 { // zero skips both change-to-fresh measurements (and the second warm)
		fmt.Fprintf(o.Out, "change-to-fresh over %d single-row updates ...\n", o.Changes)
		// An application's Cache with L1 on: it sees a change only through the worker's
		// invalidation message (its L1 TTL is longer than the run).
		app := cache.New(rdb, cache.WithL1(cache.L1Options{TTL: time.Hour}))
		defer app.Close()
		if r.idle, err = changeToFresh(ctx, pool, rdb, app, o.Tenants, o.Changes); err != nil {
			return r, err
		}
		if r.busy, r.busyWarm, err = changeToFreshDuringWarm(ctx, pool, rdb, app, o, max(o.Changes/4, 20)); err != nil {
			return r, err
		}
	}

	if !o.SkipRaw {
		fmt.Fprintln(o.Out, "raw bound: the same keys, values and TTLs with go-redis pipelines ...")
		if r.raw, err = rawBound(ctx, rdb, o.rawRedisURL); err != nil {
			return r, err
		}
		fmt.Fprintf(o.Out, "naive warmer on %d tenants ...\n", min(o.NaiveTenants, o.Tenants))
		if r.naive, err = naiveWarm(ctx, pool, o.rawRedisURL, cat, min(o.NaiveTenants, o.Tenants)); err != nil {
			return r, err
		}
	}
	return r, nil
}

// print writes the report's tables to o.Out.
func (r report) print(o Options) error {
	out, wr, cpu := o.Out, r.warm, r.cpu
	fmt.Fprintf(out, "\ncachewarm-bench: %d tenants, %d worker process(es) x %s jobs, %s\n\n", o.Tenants, o.Workers, workerSlots(o), time.Now().UTC().Format(time.DateTime))
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tkeys\tbytes\twall\tkeys/s\t")
	for _, p := range wr.Phases {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%.0f\t\n", p.Phase, p.Keys, human(p.Bytes), p.Wall.Round(time.Millisecond), float64(p.Keys)/p.Wall.Seconds())
	}
	fmt.Fprintf(tw, "total\t%d\t%s\t%s\t%.0f\t\n", wr.Keys, human(wr.Bytes), wr.Wall.Round(time.Millisecond), float64(wr.Keys)/wr.Wall.Seconds())
	_ = tw.Flush()
	fmt.Fprintln(out)
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "worker peak RSS\t%.0f MB (max over processes)\n", float64(r.peakRSS)/(1<<20))
	fmt.Fprintf(tw, "job overhead\t%d phase jobs ran %.1f s in all, %.1f s of it dataset work: %.2f ms per job in River and bookkeeping (queue wait excluded)\n",
		wr.Jobs, wr.InJobs.Seconds(), r.datasetWork, (wr.InJobs.Seconds()-r.datasetWork)/float64(max(wr.Jobs, 1))*1000)
	fmt.Fprintf(tw, "CPU during the warm\tpostgres %.1f s, redis %.1f s, workers %.1f s (%.0f%% of %d cores x wall)\n",
		cpu.Postgres.Seconds(), cpu.Redis.Seconds(), cpu.Workers.Seconds(),
		100*(cpu.Postgres+cpu.Redis+cpu.Workers).Seconds()/(wr.Wall.Seconds()*float64(runtime.NumCPU())), runtime.NumCPU())
	fmt.Fprintf(tw, "CPU stolen by the hypervisor\t%.0f%% of the machine's CPU time during the warm (other guests on the host; times vary with it)\n",
		100*cpu.stealShare())
	if o.Changes > 0 {
		idle, busy := r.idle, r.busy
		fmt.Fprintf(tw, "change capture\t%s (CACHEWARM_CHANGE_CAPTURE)\n", o.capture)
		fmt.Fprintf(tw, "change-to-fresh, idle\tp50 %s  p95 %s  p99 %s  (n=%d)\n", ms(idle.redis.p(50)), ms(idle.redis.p(95)), ms(idle.redis.p(99)), len(idle.redis))
		fmt.Fprintf(tw, "change-to-fresh, idle, L1 reader sees it\tp50 %s  p95 %s  p99 %s  (n=%d; cache.Wrap with L1 on, target p95 < 50 ms; after Redis: p50 %s, p95 %s)\n",
			ms(idle.l1.p(50)), ms(idle.l1.p(95)), ms(idle.l1.p(99)), len(idle.l1), ms(idle.lag.p(50)), ms(idle.lag.p(95)))
		fmt.Fprintf(tw, "change-to-fresh, during a full warm\tp50 %s  p95 %s  p99 %s  (n=%d, warm took %s)\n", ms(busy.redis.p(50)), ms(busy.redis.p(95)), ms(busy.redis.p(99)), len(busy.redis), r.busyWarm.Round(time.Millisecond))
		fmt.Fprintf(tw, "change-to-fresh, during a full warm, L1 reader sees it\tp50 %s  p95 %s  p99 %s  (n=%d; after Redis: p50 %s, p95 %s)\n",
			ms(busy.l1.p(50)), ms(busy.l1.p(95)), ms(busy.l1.p(99)), len(busy.l1), ms(busy.lag.p(50)), ms(busy.lag.p(95)))
	}
	if !o.SkipRaw {
		raw, naive := r.raw, r.naive
		fmt.Fprintf(tw, "raw bound\t%d keys, %s in %s (%.0f keys/s, redis CPU %.1f s): warm / raw = %.2fx\n", raw.Keys, human(raw.Bytes), raw.Time.Round(time.Millisecond), raw.rate(), raw.RedisCPU.Seconds(), wr.Wall.Seconds()/raw.Time.Seconds())
		naiveAll := time.Duration(float64(wr.Keys) / naive.rate() * float64(time.Second))
		fmt.Fprintf(tw, "naive warmer\t%d keys in %s (%.0f keys/s), so %s for all keys: naive / warm = %.1fx\n", naive.Keys, naive.Time.Round(time.Millisecond), naive.rate(), naiveAll.Round(time.Second), naiveAll.Seconds()/wr.Wall.Seconds())
	}
	return tw.Flush()
}

func workerSlots(o Options) string {
	for _, kv := range o.WorkerEnv {
		if v, ok := strings.CutPrefix(kv, "CACHEWARM_WORKERS="); ok {
			return v
		}
	}
	if v := os.Getenv("CACHEWARM_WORKERS"); v != "" {
		return v
	}
	return "8"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
}

func ensureDatabase(ctx context.Context, serverURL, name string) (string, error) {
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return "", fmt.Errorf("postgres at %s: %w", config.RedactDSN(serverURL), err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return "", err
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			return "", err
		}
	}
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

func redisURL(r config.Redis, db int) string {
	if r.URL != "" {
		u, err := url.Parse(r.URL)
		if err == nil {
			u.Path = "/" + strconv.Itoa(db)
			return u.String()
		}
	}
	auth := ""
	if r.Password != "" {
		auth = ":" + url.QueryEscape(r.Password) + "@"
	}
	return fmt.Sprintf("redis://%s%s/%d", auth, r.Addr, db)
}

func newRedis(u string) (*redis.Client, error) {
	opts, err := redis.ParseURL(u)
	if err != nil {
		return nil, err
	}
	// Emptying or filling a DB of millions of keys takes longer than go-redis's default
	// 3 s read timeout.
	opts.ReadTimeout, opts.WriteTimeout = time.Minute, time.Minute
	return redis.NewClient(opts), nil
}

// process is one worker child process.
type process struct {
	cmd  *exec.Cmd
	addr string
}

func startWorkers(ctx context.Context, o Options) ([]*process, error) {
	bin, err := filepath.Abs(o.Bin)
	if err != nil {
		return nil, err
	}
	var procs []*process
	for i := range o.Workers {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		addr := ln.Addr().String()
		_ = ln.Close()
		cmd := exec.CommandContext(ctx, bin, "worker")
		cmd.Env = append(os.Environ(),
			"DATABASE_URL="+o.databaseURL, "REDIS_URL="+o.redisURL, "REDIS_CLUSTER_ADDRS=",
			"HTTP_ADDR="+addr, "CACHE_WARMING_ENABLED=false", "CACHE_WARMING_PHASE3_ENABLED=true",
			"CACHEWARM_LOG_LEVEL=warn",
			// The benchmark empties its Redis DB between measurements: no cold start re-warm.
			"CACHEWARM_COLD_CHECK=off")
		cmd.Env = append(cmd.Env, o.WorkerEnv...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			stopWorkers(procs)
			return nil, fmt.Errorf("start worker %d: %w", i, err)
		}
		p := &process{cmd: cmd, addr: addr}
		procs = append(procs, p)
		if err := p.waitHealthy(30 * time.Second); err != nil {
			stopWorkers(procs)
			return nil, err
		}
	}
	return procs, nil
}

func stopWorkers(procs []*process) {
	for _, p := range procs {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range procs {
		_ = p.cmd.Wait()
	}
}
