// Package metrics holds the worker's Prometheus metrics and the figures /health reports.
// Everything is registered on a registry passed in; nothing is global.
package metrics

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/cachewarm/cachewarm/internal/capture"
	"github.com/cachewarm/cachewarm/internal/redisinfo"
	"github.com/cachewarm/cachewarm/internal/warm"
	"github.com/cachewarm/cachewarm/jobs"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Metrics records what the worker does. Its methods are safe for concurrent use.
type Metrics struct {
	keys          *prometheus.CounterVec
	bytes         *prometheus.CounterVec
	skipped       *prometheus.CounterVec
	failures      *prometheus.CounterVec
	datasetTime   *prometheus.HistogramVec
	phaseTime     *prometheus.HistogramVec
	workflowTime  prometheus.Histogram
	changeToFresh prometheus.Histogram
	captureDelay  prometheus.Histogram
	collected     *prometheus.CounterVec

	warmsOK, warmsFailed atomic.Uint64
	recent               rateWindow
}

// New creates the metrics and registers them, with collectors of the job table (through
// pool) and of Redis keyspace statistics (through rdb), on reg.
func New(reg prometheus.Registerer, pool *pgxpool.Pool, rdb redis.UniversalClient) *Metrics {
	m := &Metrics{
		keys: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cachewarm_keys_written_total", Help: "Keys written to Redis, by dataset.",
		}, []string{"dataset"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cachewarm_bytes_written_total", Help: "Value bytes written to Redis, by dataset.",
		}, []string{"dataset"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cachewarm_stale_writes_skipped_total", Help: "Writes skipped because Redis held a value from newer data.",
		}, []string{"dataset"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cachewarm_dataset_failures_total", Help: "Dataset warms that failed (each attempt), by dataset.",
		}, []string{"dataset"}),
		datasetTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "cachewarm_dataset_duration_seconds", Help: "Time to warm one dataset of one tenant.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"dataset"}),
		phaseTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "cachewarm_phase_duration_seconds", Help: "Time from a phase job's start to its completion.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, []string{"phase"}),
		workflowTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cachewarm_workflow_duration_seconds", Help: "Time from a workflow's first phase insert to its last phase's completion.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 16),
		}),
		changeToFresh: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cachewarm_change_to_fresh_seconds", Help: "Time from a source change's transaction to its dataset re-warmed in Redis.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		captureDelay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cachewarm_change_capture_delay_seconds", Help: "Time from a changing statement to the collector queueing its re-warm (its oldest change, per tenant and collection).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		collected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cachewarm_changes_collected_total", Help: "Tenants whose changes the collector turned into re-warms (valid) or skipped for an invalid tenant id.",
		}, []string{"outcome"}),
	}
	reg.MustRegister(m.keys, m.bytes, m.skipped, m.failures, m.datasetTime, m.phaseTime, m.workflowTime, m.changeToFresh, m.captureDelay, m.collected)
	if pool != nil {
		reg.MustRegister(&jobCollector{pool: pool})
	}
	if rdb != nil {
		reg.MustRegister(&redisCollector{rdb: rdb})
	}
	return m
}

// ObservePhase records a finished phase, or only its dataset results for an attempt that
// failed and will be retried.
func (m *Metrics) ObservePhase(o jobs.PhaseOutcome) {
	m.observeResults(o.Results)
	if o.Retrying {
		return
	}
	m.phaseTime.WithLabelValues(string(o.Args.Phase)).Observe(time.Since(o.Started).Seconds())
	if len(o.Args.Next) == 0 {
		m.workflowTime.Observe(time.Since(o.QueuedAt).Seconds())
	}
}

// ObserveDatasets records a finished dataset re-warm; for a change, its change-to-fresh time.
func (m *Metrics) ObserveDatasets(o jobs.DatasetsOutcome) {
	m.observeResults(o.Results)
	if o.Args.Reason == "change" && len(warm.Failed(o.Results)) == 0 {
		m.changeToFresh.Observe(time.Since(o.Inserted).Seconds())
	}
}

// ObserveCollected records one collection of changes.
func (m *Metrics) ObserveCollected(tenants []capture.Tenant) {
	for _, t := range tenants {
		if !t.Valid {
			m.collected.WithLabelValues("skipped").Inc()
			continue
		}
		m.collected.WithLabelValues("queued").Inc()
		m.captureDelay.Observe(time.Since(t.ChangedAt).Seconds())
	}
}

func (m *Metrics) observeResults(results []warm.Result) {
	for _, r := range results {
		m.datasetTime.WithLabelValues(r.Dataset).Observe(r.Duration.Seconds())
		if r.Err != nil {
			m.failures.WithLabelValues(r.Dataset).Inc()
			m.warmsFailed.Add(1)
			m.recent.add(0, 1)
			continue
		}
		m.warmsOK.Add(1)
		m.recent.add(1, 0)
		m.keys.WithLabelValues(r.Dataset).Add(float64(r.Keys))
		m.bytes.WithLabelValues(r.Dataset).Add(float64(r.Bytes))
		m.skipped.WithLabelValues(r.Dataset).Add(float64(r.Skipped))
	}
}

// ErrorRate is the percentage of dataset warms (every attempt) that failed in the last
// minute ([ErrorWindow]); 0 when there were none. A window, not the whole life of the process,
// so that health recovers by itself once an outage is over.
func (m *Metrics) ErrorRate() float64 { return m.recent.rate() }

// KeyspaceStats are Redis's own counters of reads: what the applications see.
type KeyspaceStats struct {
	Hits, Misses uint64
}

// HitRate is the percentage of reads that hit; 100 when there were none.
func (s KeyspaceStats) HitRate() float64 {
	if s.Hits+s.Misses == 0 {
		return 100
	}
	return 100 * float64(s.Hits) / float64(s.Hits+s.Misses)
}

// ReadKeyspaceStats reads keyspace_hits and keyspace_misses from INFO (summed over the
// masters of a cluster; package redisinfo).
func ReadKeyspaceStats(ctx context.Context, rdb redis.UniversalClient) (KeyspaceStats, error) {
	m, err := redisinfo.Read(ctx, rdb)
	if err != nil {
		return KeyspaceStats{}, err
	}
	return KeyspaceStats{Hits: uint64(m.KeyspaceHits), Misses: uint64(m.KeyspaceMisses)}, nil
}

// Sets is the number of dataset warms that succeeded since the process started.
func (m *Metrics) Sets() uint64 { return m.warmsOK.Load() }

// Errors is the number of dataset warms that failed since the process started.
func (m *Metrics) Errors() uint64 { return m.warmsFailed.Load() }
