// Package worker assembles a cachewarm worker from explicit dependencies: the River client
// with its queues, workers and refresh-ahead periodic jobs, the startup warm, and the HTTP
// server.
package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/budget"
	"github.com/cachewarm/cachewarm/internal/cachehealth"
	"github.com/cachewarm/cachewarm/internal/capture"
	"github.com/cachewarm/cachewarm/internal/capture/logical"
	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/coldstart"
	"github.com/cachewarm/cachewarm/internal/config"
	"github.com/cachewarm/cachewarm/internal/demand"
	"github.com/cachewarm/cachewarm/internal/httpapi"
	"github.com/cachewarm/cachewarm/internal/jobcontract"
	"github.com/cachewarm/cachewarm/internal/metrics"
	"github.com/cachewarm/cachewarm/internal/rediswrite"
	"github.com/cachewarm/cachewarm/internal/warm"
	"github.com/cachewarm/cachewarm/jobs"
	"github.com/cachewarm/cachewarm/migrations"
	"github.com/cachewarm/cachewarm/workflows"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"riverqueue.com/riverui"
)

// River fetch settings. A 5 ms cooldown lets a queue drain at thousands of jobs a second and
// starts a notified job within a few milliseconds; the poll only matters for a missed
// notification.
const (
	fetchCooldown     = 5 * time.Millisecond
	fetchPollInterval = 250 * time.Millisecond
)

// Deps are the worker's dependencies, built by the caller.
type Deps struct {
	Config  config.Config
	Pool    *pgxpool.Pool
	Redis   redis.UniversalClient
	Catalog *catalog.Catalog
	Logger  *slog.Logger
	// Registry receives the worker's metrics; nil makes a new one.
	Registry *prometheus.Registry
}

// Worker is a running cachewarm worker.
type Worker struct {
	cfg       config.Config
	pool      *pgxpool.Pool
	rdb       redis.UniversalClient
	logger    *slog.Logger
	client    *river.Client[pgx.Tx]
	workflows *workflows.Service
	warmer    *warm.Warmer
	metrics   *metrics.Metrics
	cold      *metrics.Cold
	registry  *prometheus.Registry
	budget    *budget.Reporter
	warms     *budget.Warms
	// demand samples the tenants' predicted demand on the leader (nil: CACHEWARM_DEMAND_SAMPLE=off).
	demand *demand.Sampler
}

// New builds a worker; nothing runs until Run.
func New(d Deps) (*Worker, error) {
	cfg := d.Config
	if cfg.JobTimeout <= 0 || cfg.RescueAfter < cfg.JobTimeout {
		return nil, fmt.Errorf("worker: job timeout %s, rescue after %s: make the Config with config.Load", cfg.JobTimeout, cfg.RescueAfter)
	}
	reg := d.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	w := &Worker{cfg: cfg, pool: d.Pool, rdb: d.Redis, logger: d.Logger, registry: reg}
	w.metrics = metrics.New(reg, d.Pool, d.Redis)
	if cfg.ChangeCapture == migrations.CaptureLogical {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cachewarm_replication_slot_lag_bytes",
			Help: "WAL the logical mode's replication slot holds that cachewarm has not confirmed (-1: unknown, or no slot).",
		}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			lag, err := logical.Lag(ctx, d.Pool)
			if err != nil {
				return -1
			}
			return float64(lag)
		}))
	}
	w.cold = metrics.NewCold(reg, func() bool { return w.coldReason(context.Background()) != "" })
	w.warms = budget.NewWarms(d.Pool, d.Redis)
	w.workflows = workflows.New(d.Pool, d.Logger, workflows.RecordWarms(w.warms))
	writer := rediswrite.New(d.Redis, cfg.ValueFormat, cache.Keys{HashTag: cfg.HashTags}, cfg.L1Channel)
	w.warmer = warm.New(d.Pool, writer, cache.Keys{HashTag: cfg.HashTags}, d.Catalog, d.Logger)
	// The memory budget and predicted demand (docs/memory.md).
	w.budget = budget.NewReporter(d.Pool, d.Redis, cfg.MemoryBudget)
	gate := budget.NewGate(d.Pool, d.Redis, cfg.MemoryBudget, d.Catalog, writer, budget.NewMetrics(reg, w.budget), d.Logger)
	if cfg.DemandSample > 0 {
		w.demand = demand.New(d.Pool, d.Redis, cache.Keys{HashTag: cfg.HashTags}, d.Catalog, cfg.DemandSample, d.Logger)
	}

	workers := river.NewWorkers()
	river.AddWorker(workers, jobs.NewWarmPhaseWorker(d.Pool, w.warmer, w.workflows, gate, cfg.JobTimeout, w.metrics.ObservePhase, d.Logger))
	river.AddWorker(workers, jobs.NewWarmDatasetsWorker(w.warmer, cfg.DatasetJobTimeout(), w.metrics.ObserveDatasets, d.Logger))
	river.AddWorker(workers, jobs.NewRefreshWorker(func(ctx context.Context, client *river.Client[pgx.Tx], p catalog.Phase, spread time.Duration) (int, error) {
		w.sampleDemand(ctx)
		return w.workflows.StartRefresh(ctx, client, p, spread)
	}, cfg.JobTimeout, d.Logger))
	retention := cmp.Or(cfg.WorkflowRetention, config.DefaultWorkflowRetention)
	river.AddWorker(workers, jobs.NewReapWorker(w.workflows.Reap, func(ctx context.Context) (int64, error) {
		return w.workflows.Prune(ctx, retention)
	}, d.Logger))

	periodic, err := refreshJobs(cfg)
	if err != nil {
		return nil, err
	}
	periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(jobs.ReapInterval),
		func() (river.JobArgs, *river.InsertOpts) { return jobs.ReapArgs{}, nil },
		&river.PeriodicJobOpts{ID: "reap_workflows", RunOnStart: true}))
	client, err := river.NewClient(riverpgxv5.New(d.Pool), &river.Config{
		Schema:               migrations.Schema,
		Logger:               d.Logger,
		Workers:              workers,
		Queues:               map[string]river.QueueConfig{jobcontract.QueueWarm: {MaxWorkers: cfg.Workers}, jobcontract.QueueChange: {MaxWorkers: cfg.ChangeWorkers}},
		FetchCooldown:        fetchCooldown,
		FetchPollInterval:    fetchPollInterval,
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.RescueAfter, // see config.Config.RescueAfter
		PeriodicJobs:         periodic,
	})
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	w.client = client
	return w, nil
}

// refreshJobs are the refresh-ahead periodic jobs, one per enabled phase. River runs them on
// the elected leader only.
func refreshJobs(cfg config.Config) ([]*river.PeriodicJob, error) {
	if !cfg.WarmingEnabled {
		return nil, nil
	}
	specs := []struct {
		phase catalog.Phase
		spec  string
	}{{catalog.PhaseCritical, cfg.RefreshCritical}, {catalog.PhaseHigh, cfg.RefreshHigh}}
	if cfg.Phase3Enabled {
		specs = append(specs, struct {
			phase catalog.Phase
			spec  string
		}{catalog.PhaseMedium, cfg.RefreshMedium})
	}
	var out []*river.PeriodicJob
	for _, s := range specs {
		sched, err := config.ParseSchedule(s.spec)
		if err != nil {
			return nil, fmt.Errorf("refresh %s: %w", s.phase, err)
		}
		args := jobs.RefreshArgs{Phase: s.phase, Spread: jobs.RefreshSpread(sched.Next)}
		out = append(out, river.NewPeriodicJob(sched, func() (river.JobArgs, *river.InsertOpts) { return args, nil },
			&river.PeriodicJobOpts{ID: "refresh_" + string(s.phase)}))
	}
	return out, nil
}

// Client returns the River client (for inserting jobs in-process).
func (w *Worker) Client() *river.Client[pgx.Tx] { return w.client }

// Workflows returns the workflow service.
func (w *Worker) Workflows() *workflows.Service { return w.workflows }

// Warmer returns the dataset warmer.
func (w *Worker) Warmer() *warm.Warmer { return w.warmer }

// Metrics returns the worker's metrics.
func (w *Worker) Metrics() *metrics.Metrics { return w.metrics }

// Options tune Run.
type Options struct {
	// HTTP, if set, is the listener to serve HTTP on; otherwise Run listens on
	// Config.HTTPAddr. Set NoHTTP to serve nothing.
	HTTP   net.Listener
	NoHTTP bool
}

// Run starts River, serves HTTP, enqueues the startup warm, logs the cache statistics every
// five minutes, and on ctx's cancellation stops gracefully: running jobs get until
// Config.ShutdownTimeout to finish, then are cancelled and go back to the queue.
func (w *Worker) Run(ctx context.Context, opts Options) error {
	if w.cfg.ChangeCapture == migrations.CaptureLogical {
		if err := logical.CheckWALLevel(ctx, w.pool); err != nil {
			return fmt.Errorf("change capture: %w", err)
		}
	}
	var srv *http.Server
	if !opts.NoHTTP {
		handler, err := w.httpHandler(ctx)
		if err != nil {
			return err
		}
		srv = httpapi.NewHTTPServer(w.cfg.HTTPAddr, handler)
		ln := opts.HTTP
		if ln == nil {
			if ln, err = net.Listen("tcp", w.cfg.HTTPAddr); err != nil {
				return fmt.Errorf("http listen %s: %w", w.cfg.HTTPAddr, err)
			}
		}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				w.logger.ErrorContext(ctx, "http server stopped", "err", err)
			}
		}()
		w.logger.InfoContext(ctx, "http listening", "addr", ln.Addr().String())
	}

	// Not ctx itself: cancelling Start's context cancels every running job at once, and the
	// graceful stop (w.stop) would never get its chance.
	if err := w.client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start river: %w", err)
	}
	w.logger.InfoContext(ctx, "worker started", "river_client", w.client.ID(), "config", w.cfg)

	if w.cfg.WarmingEnabled && w.cfg.StartupWarm {
		w.sampleDemand(ctx)
		runs, err := w.workflows.Start(ctx, w.client, workflows.Request{All: true, Phases: w.cfg.DefaultPhases(), Trigger: workflows.TriggerStartup})
		if err != nil {
			w.logger.ErrorContext(ctx, "startup warm not enqueued", "err", err)
		} else {
			w.logger.InfoContext(ctx, "startup warm enqueued", "tenants", len(runs))
		}
	}

	collector := capture.NewCollector(w.pool, cmp.Or(w.cfg.ChangePoll, config.DefaultChangePoll), w.logger)
	collector.Observe = w.metrics.ObserveCollected
	// The leader closes the recorded warms whose workflows have ended (their evictions).
	leading := []func(context.Context){func(ctx context.Context) { w.warms.RunCloser(ctx, warmCloseInterval, w.logger) }}
	if w.cfg.ChangeCapture == migrations.CaptureLogical {
		leading = append(leading, func(ctx context.Context) { w.streamChanges(ctx, collector) })
	}
	if w.demand != nil {
		leading = append(leading, w.demand.Run)
	}
	if w.cfg.WarmingEnabled && w.cfg.ColdCheck > 0 {
		leading = append(leading, coldstart.New(coldstart.Deps{
			Redis: w.rdb, Pool: w.pool, Workflows: w.workflows, Client: w.client, Phases: w.cfg.DefaultPhases(),
			Interval: w.cfg.ColdCheck, Logger: w.logger, Observe: w.cold.ObserveCheck,
		}).Run)
	}
	collector.Leading = func(ctx context.Context) { runAll(ctx, leading) }
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		_ = collector.Run(ctx)
	}()
	go w.logStats(ctx, 5*time.Minute)
	<-ctx.Done()
	return w.stop(srv, collected)
}

// warmCloseInterval is how often the leader looks for recorded warms whose workflows have all
// ended, to close them: one query of the (small) open warms when there is none to close.
const warmCloseInterval = time.Second

// runAll runs every fn with ctx at once and returns when all have returned.
func runAll(ctx context.Context, fns []func(context.Context)) {
	var wg sync.WaitGroup
	for _, fn := range fns {
		wg.Go(func() { fn(ctx) })
	}
	wg.Wait()
}

// sampleDemand ranks the tenants afresh before a warm of every tenant (refresh-ahead, startup
// warm), which starts them in demand order. A failed sample leaves the previous ranking.
func (w *Worker) sampleDemand(ctx context.Context) {
	if w.demand == nil {
		return
	}
	if _, err := w.demand.Sample(ctx); err != nil {
		w.logger.WarnContext(ctx, "demand sample before the warm", "err", err)
	}
}

// coldReason is why the cache is cold (the latest cold start's re-warm runs), or "".
func (w *Worker) coldReason(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return coldstart.Reason(ctx, w.pool)
}

// streamChanges streams the logical mode's replication slot into the change log while this
// process is the collector (ctx ends when it stops being it), reconnecting after errors.
func (w *Worker) streamChanges(ctx context.Context, collector *capture.Collector) {
	for ctx.Err() == nil {
		err := w.stream(ctx, collector)
		if ctx.Err() != nil {
			return
		}
		w.logger.ErrorContext(ctx, "change stream stopped: restarting", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (w *Worker) stream(ctx context.Context, collector *capture.Collector) error {
	tables, err := migrations.CapturedTables(ctx, w.pool)
	if err != nil {
		return err
	}
	s, err := logical.NewStreamer(logical.Config{
		ConnString: w.cfg.DatabaseURL,
		Tables:     tables,
		Sink:       collector.Record,
		OnSlotLost: func(ctx context.Context) error {
			w.logger.WarnContext(ctx, "replication slot lost (dropped, or invalidated by max_slot_wal_keep_size): changes may be missing, re-warming every tenant")
			runs, err := w.workflows.Start(ctx, w.client, workflows.Request{All: true, Phases: w.cfg.DefaultPhases(), Trigger: workflows.TriggerSlotLost})
			if err == nil {
				w.logger.InfoContext(ctx, "full re-warm enqueued after the slot loss", "tenants", len(runs))
			}
			return err
		},
		Logger: w.logger,
	})
	if err != nil {
		return err
	}
	w.logger.InfoContext(ctx, "change stream: streaming the replication slot", "tables", len(tables))
	return s.Run(ctx)
}

// stop stops within Config.ShutdownTimeout, all included. The HTTP server closes at once (in
// flight requests may finish). Running jobs get until a fifth of the timeout (at most 5 s) is
// left to finish; then their contexts are cancelled and they return river.JobSnooze(0): back
// in the queue for another worker, without using an attempt. The clock starts at once: the
// change collector and the leader's tasks (collected closes when they have ended) stop
// meanwhile, not before.
func (w *Worker) stop(srv *http.Server, collected <-chan struct{}) error {
	timeout := w.cfg.ShutdownTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	deadline := time.Now().Add(timeout)
	w.logger.Info("stopping: letting running jobs finish", "timeout", timeout)
	httpDone := make(chan struct{})
	go func() {
		defer close(httpDone)
		if srv != nil {
			ctx, cancel := context.WithDeadline(context.Background(), deadline)
			defer cancel()
			_ = srv.Shutdown(ctx)
		}
	}()
	softCtx, cancel := context.WithDeadline(context.Background(), deadline.Add(-min(timeout/5, 5*time.Second)))
	defer cancel()
	err := w.client.Stop(softCtx)
	if err != nil {
		w.logger.Warn("jobs still running: cancelling them (they go back to the queue)", "err", err)
		hardCtx, cancel := context.WithDeadline(context.Background(), deadline)
		defer cancel()
		err = w.client.StopAndCancel(hardCtx)
	}
	<-httpDone
	<-collected // the collector and the leader's tasks end with Run's context, meanwhile
	if err != nil {
		return fmt.Errorf("stop river: %w", err)
	}
	w.logger.Info("stopped")
	return nil
}

func (w *Worker) httpHandler(ctx context.Context) (http.Handler, error) {
	ui, err := riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(w.client, nil),
		Logger:    w.logger,
		Prefix:    "/riverui",
	})
	if err != nil {
		return nil, fmt.Errorf("river ui: %w", err)
	}
	if err := ui.Start(ctx); err != nil {
		return nil, fmt.Errorf("river ui: %w", err)
	}
	return httpapi.New(httpapi.Deps{
		Pool: w.pool, Redis: w.rdb, Metrics: w.metrics, Gatherer: w.registry,
		API:     &httpapi.API{Workflows: w.workflows, Client: w.client, Warmer: w.warmer, DefaultPhases: w.cfg.DefaultPhases()},
		RiverUI: ui, Token: w.cfg.APIToken, Logger: w.logger, Budget: w.budget, ColdReason: w.coldReason,
	}), nil
}

// logStats logs the statistics line (docs/operations.md) every interval until ctx ends.
func (w *Worker) logStats(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.logger.InfoContext(ctx, w.StatsLine(ctx))
		}
	}
}

// StatsLine is the statistics line (docs/operations.md), from Redis's keyspace counters.
func (w *Worker) StatsLine(ctx context.Context) string {
	ks, err := metrics.ReadKeyspaceStats(ctx, w.rdb)
	if err != nil {
		return "Cache Stats - unavailable: " + err.Error()
	}
	hr := ks.HitRate()
	return cachehealth.Line(hr, ks.Hits, ks.Misses, w.metrics.Sets(), w.metrics.Errors(), cachehealth.Of(hr, w.metrics.ErrorRate()))
}
