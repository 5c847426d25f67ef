// Package demo runs the whole cachewarm story on one machine: it seeds a demo ERP in a
// database of its own, migrates, runs a worker in-process, warms every tenant with live
// progress, shows a change trigger re-warm, measures cache hits against database reads,
// verifies every key, and prints a summary.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/bytesize"
	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/config"
	"github.com/cachewarm/cachewarm/internal/demodata"
	"github.com/cachewarm/cachewarm/internal/rediswrite"
	"github.com/cachewarm/cachewarm/migrations"
	"github.com/cachewarm/cachewarm/worker"
	"github.com/cachewarm/cachewarm/workflows"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// Options configure a demo run.
type Options struct {
	// Config is the loaded configuration: its DATABASE_URL names the server (the demo uses
	// a database of its own there) and its Redis the server (the demo uses RedisDB there).
	Config config.Config
	// Tenants and Seed shape the demo data.
	Tenants int
	Seed    int64
	// Database is the demo's own database (created if missing).
	Database string
	// RedisDB is the demo's own Redis DB number.
	RedisDB int
	// Out receives the story; Terminal turns progress bars on.
	Out      io.Writer
	Logger   *slog.Logger
	Progress func(label string, total int) func(done int)
	// Wait shows the progress of workflows; it returns when all have finished.
	Wait func(ctx context.Context, svc *workflows.Service, ids []int64) error
}

// Run runs the demo. It returns an error if any step fails or any key does not verify.
func Run(ctx context.Context, o Options) error {
	start := time.Now()
	out := o.Out
	cfg := o.Config
	if len(cfg.Redis.ClusterAddrs) > 0 {
		return errors.New("demo: runs against a single Redis (unset REDIS_CLUSTER_ADDRS)")
	}
	dbURL, err := ensureDatabase(ctx, cfg.DatabaseURL, o.Database)
	if err != nil {
		return err
	}
	cfg.DatabaseURL = dbURL
	cfg.Redis = demoRedis(cfg.Redis, o.RedisDB)
	cfg.Phase3Enabled = true
	cfg.WarmingEnabled = false // the demo starts its own warm, to show its progress
	fmt.Fprintf(out, "cachewarm demo: database %s, redis %s, %d tenants\n\n", config.RedactDSN(dbURL), cfg.Redis, o.Tenants)

	pool, rdb, err := config.ConnectWorker(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	defer rdb.Close()
	cat, err := catalog.Default()
	if err != nil {
		return err
	}
	keys := cache.Keys{HashTag: cfg.HashTags}

	if err := prepare(ctx, o, pool, rediswrite.New(rdb, cfg.ValueFormat, keys, cfg.L1Channel), cat); err != nil {
		return err
	}

	step(out, 3, "start a worker in this process (River client, queues, HTTP)")
	w, err := worker.New(worker.Deps{Config: cfg, Pool: pool, Redis: rdb, Catalog: cat, Logger: o.Logger})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	runCtx, stopWorker := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx, worker.Options{HTTP: ln}) }()
	defer func() {
		stopWorker()
		<-done
	}()
	fmt.Fprintf(out, "   health http://%s/health, metrics /metrics, River UI /riverui/\n", ln.Addr())

	step(out, 4, fmt.Sprintf("warm every tenant: %d workflows x 3 phases, each phase a River job", o.Tenants))
	warmed, err := warmAll(ctx, o, w, pool)
	if err != nil {
		return err
	}

	step(out, 5, "change a row: the trigger re-warms just that tenant x dataset")
	change, err := showChange(ctx, pool, rdb, keys, cfg.ValueFormat)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   UPDATE chart_of_accounts (t001, one name) -> new value in %s in %s\n", change.key, change.latency.Round(time.Microsecond))

	step(out, 6, "cache miss (PostgreSQL query) vs cache hit (Redis GET)")
	timings, err := hitVsMiss(ctx, pool, rdb, cat)
	if err != nil {
		return err
	}

	step(out, 7, "verify every key of every tenant against its query")
	v, err := verify(ctx, pool, rdb, cat, keys, cfg.ValueFormat, o.Tenants, progressFunc(o, "verifying", o.Tenants))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "   %d keys verified: value equals the query's, TTL set\n", v.Keys)

	fmt.Fprintf(out, "\nSummary: %d tenants warmed in %s (%d workflows, %s in all)\n\n", o.Tenants, warmed.wall.Round(time.Millisecond), warmed.workflows, time.Since(start).Round(time.Millisecond))
	if err := printPhases(out, warmed); err != nil {
		return err
	}
	if err := printTimings(out, timings); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nchange -> fresh in Redis: %s; %s\n", change.latency.Round(time.Microsecond), w.StatsLine(ctx))
	return nil
}

// prepare seeds the demo ERP, migrates, and clears the jobs, workflows and keys of earlier
// runs (steps 1 and 2).
func prepare(ctx context.Context, o Options, pool *pgxpool.Pool, writer *rediswrite.Writer, cat *catalog.Catalog) error {
	step(o.Out, 1, "seed the demo ERP (COPY)")
	res, err := demodata.Seed(ctx, pool, demodata.Options{Tenants: o.Tenants, Seed: o.Seed, Progress: progressFunc(o, "seeding", o.Tenants)})
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "   %d tenants, %d rows in %s\n", res.Tenants, res.TotalRows(), res.Duration.Round(time.Millisecond))

	step(o.Out, 2, "migrate: River's tables, cachewarm's tables and change triggers, in schema cachewarm")
	mres, err := migrations.Migrate(ctx, pool, cat, o.Logger)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "   change triggers on %d tables\n", len(mres.Triggered))
	if _, err := pool.Exec(ctx, `DELETE FROM cachewarm.workflow_runs; DELETE FROM cachewarm.river_job`); err != nil {
		return fmt.Errorf("demo: clear earlier runs: %w", err)
	}
	for k := 1; k <= o.Tenants; k++ {
		if _, err := writer.Invalidate(ctx, cache.MustTenant(demodata.TenantID(k)), cat.Names()); err != nil {
			return fmt.Errorf("demo: clear earlier keys: %w", err)
		}
	}
	return nil
}

// warmResult is what the full warm of step 4 did.
type warmResult struct {
	wall      time.Duration
	workflows int
	phases    []phaseRow
}

// warmAll starts a workflow for every tenant, waits for them with o.Wait and sums their
// phases.
func warmAll(ctx context.Context, o Options, w *worker.Worker, pool *pgxpool.Pool) (warmResult, error) {
	start := time.Now()
	runs, err := w.Workflows().Start(ctx, w.Client(), workflows.Request{All: true, Phases: catalog.Phases, Trigger: workflows.TriggerDemo})
	if err != nil {
		return warmResult{}, err
	}
	ids := make([]int64, len(runs))
	for i, r := range runs {
		ids[i] = r.ID
	}
	if err := o.Wait(ctx, w.Workflows(), ids); err != nil {
		return warmResult{}, err
	}
	res := warmResult{wall: time.Since(start), workflows: len(ids)}
	res.phases, err = phaseSummary(ctx, pool, ids)
	return res, err
}

// printPhases prints the table of the warm's phases.
func printPhases(out io.Writer, warmed warmResult) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tkeys\tbytes\twall time\tjob time (sum)\tretries\t")
	var total phaseRow
	for _, p := range warmed.phases {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d\t\n", p.Phase, p.Keys, bytesize.String(p.Bytes), p.Wall.Round(time.Millisecond), p.Busy.Round(time.Millisecond), p.Retries)
		total.Keys += p.Keys
		total.Bytes += p.Bytes
		total.Retries += p.Retries
		total.Busy += p.Busy
	}
	fmt.Fprintf(tw, "total\t%d\t%s\t%s\t%s\t%d\t\n", total.Keys, bytesize.String(total.Bytes), warmed.wall.Round(time.Millisecond), total.Busy.Round(time.Millisecond), total.Retries)
	return tw.Flush()
}

// printTimings prints the table of cache misses against hits.
func printTimings(out io.Writer, timings []timing) error {
	fmt.Fprintf(out, "\nCache miss vs cache hit (median of %d reads, tenant t001):\n\n", timingRounds)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "dataset\tbytes\tmiss: query\thit: GET\tspeed-up\thit: GET + parse\t")
	for _, t := range timings {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.1fx\t%s\t\n", t.Dataset, bytesize.String(int64(t.Bytes)), t.Miss.Round(time.Microsecond),
			t.Hit.Round(time.Microsecond), float64(t.Miss)/float64(max(t.Hit, 1)), t.Read.Round(time.Microsecond))
	}
	return tw.Flush()
}

func step(out io.Writer, n int, msg string) { fmt.Fprintf(out, "%d. %s\n", n, msg) }

func progressFunc(o Options, label string, total int) func(done, total int) {
	if o.Progress == nil {
		return nil
	}
	p := o.Progress(label, total)
	return func(done, _ int) { p(done) }
}

// ensureDatabase creates the demo database on the server of serverURL if missing and
// returns its URL.
func ensureDatabase(ctx context.Context, serverURL, name string) (string, error) {
	if name == "" {
		return "", errors.New("demo: no database name")
	}
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return "", fmt.Errorf("demo: postgres at %s: %w", config.RedactDSN(serverURL), err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			return "", fmt.Errorf("demo: create database %s: %w", name, err)
		}
	}
	u, err := url.Parse(serverURL)
	if err != nil || u.Scheme == "" {
		return "", fmt.Errorf("demo: DATABASE_URL must be a URL (postgres://...) so the demo can point it at its own database")
	}
	u.Path = "/" + name
	return u.String(), nil
}

func demoRedis(r config.Redis, db int) config.Redis {
	if r.URL != "" {
		if u, err := url.Parse(r.URL); err == nil {
			u.Path = fmt.Sprintf("/%d", db)
			r.URL = u.String()
		}
	}
	r.DB = db
	return r
}

type phaseRow struct {
	Phase      string
	Keys       int64
	Bytes      int64
	Wall, Busy time.Duration
	Retries    int64
}

func phaseSummary(ctx context.Context, pool *pgxpool.Pool, ids []int64) ([]phaseRow, error) {
	rows, err := pool.Query(ctx, `
SELECT phase, sum(keys_written)::bigint, sum(bytes_written)::bigint,
       (extract(epoch FROM max(finished_at) - min(started_at)) * 1e6)::bigint,
       (extract(epoch FROM sum(finished_at - started_at)) * 1e6)::bigint,
       sum(attempts - 1)::bigint
FROM cachewarm.workflow_phases WHERE workflow_id = ANY($1)
GROUP BY phase ORDER BY array_position(ARRAY['critical', 'high', 'medium'], phase)`, ids)
	if err != nil {
		return nil, fmt.Errorf("demo: phase summary: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (phaseRow, error) {
		var p phaseRow
		var wall, busy int64
		err := r.Scan(&p.Phase, &p.Keys, &p.Bytes, &wall, &busy, &p.Retries)
		p.Wall, p.Busy = time.Duration(wall)*time.Microsecond, time.Duration(busy)*time.Microsecond
		return p, err
	})
}

type changeResult struct {
	key     string
	latency time.Duration
}

// showChange renames one account of t001 and waits for the new name to reach Redis.
func showChange(ctx context.Context, pool *pgxpool.Pool, rdb redis.UniversalClient, keys cache.Keys, format cache.Format) (changeResult, error) {
	key := keys.ChartOfAccounts(cache.MustTenant("t001"))
	name := fmt.Sprintf("Cash (renamed by the demo at %s)", time.Now().UTC().Format(time.TimeOnly))
	start := time.Now()
	tag, err := pool.Exec(ctx, `UPDATE chart_of_accounts SET name = $1, updated_at = now()
		WHERE tenant_id = 't001' AND id = (SELECT min(id) FROM chart_of_accounts WHERE tenant_id = 't001' AND is_postable)`, name)
	if err != nil {
		return changeResult{}, fmt.Errorf("demo: change a row: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return changeResult{}, errors.New("demo: no account to rename")
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		raw, err := rdb.Get(ctx, key).Bytes()
		if err == nil {
			if v, derr := rediswrite.Decode(format, raw); derr == nil && containsJSONString(v, name) {
				return changeResult{key: key, latency: time.Since(start)}, nil
			}
		}
		time.Sleep(200 * time.Microsecond)
	}
	return changeResult{}, fmt.Errorf("demo: the change did not reach %s within 10 s", key)
}
