package budget

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/cachewarm/cachewarm/internal/bytesize"
	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/demand"
	"github.com/cachewarm/cachewarm/internal/redisinfo"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Reporter reads the memory report that `cachewarm status`, /api/cache/stats, /health and
// /metrics show.
type Reporter struct {
	pool  *pgxpool.Pool
	rdb   redis.UniversalClient
	limit Limit
}

// NewReporter returns the reporter for limit.
func NewReporter(pool *pgxpool.Pool, rdb redis.UniversalClient, limit Limit) *Reporter {
	return &Reporter{pool: pool, rdb: rdb, limit: limit}
}

// Status is the memory report.
type Status struct {
	// Limit is CACHEWARM_MEMORY_BUDGET; BudgetBytes what it is in bytes (0: no limit, as
	// Redis has no maxmemory).
	Limit       string `json:"memoryBudget"`
	BudgetBytes int64  `json:"memoryBudgetBytes"`
	UsedMemory  int64  `json:"usedMemoryBytes"`
	MaxMemory   int64  `json:"maxmemoryBytes"`
	Policy      string `json:"maxmemoryPolicy"`
	// EvictedKeys is Redis's evicted_keys counter (since it started).
	EvictedKeys int64 `json:"evictedKeys"`
	// LastWarm is the latest warm's evictions and skipped phases (nil: none recorded).
	LastWarm *Warm `json:"lastWarm"`
	// TopDemand is the top of the predicted demand ranking.
	TopDemand []demand.Score `json:"topDemand"`
}

// Status reads the report, with the top n tenants of the demand ranking.
func (r *Reporter) Status(ctx context.Context, n int) (Status, error) {
	mem, err := redisinfo.Read(ctx, r.rdb)
	if err != nil {
		return Status{}, fmt.Errorf("memory status: %w", err)
	}
	st := Status{Limit: r.limit.String(), BudgetBytes: r.limit.Of(mem.MaxMemory), UsedMemory: mem.UsedMemory,
		MaxMemory: mem.MaxMemory, Policy: mem.Policy, EvictedKeys: mem.EvictedKeys}
	if st.LastWarm, err = LastWarm(ctx, r.pool, mem.EvictedKeys); err != nil {
		return st, err
	}
	if st.TopDemand, err = demand.Top(ctx, r.pool, n); err != nil {
		return st, err
	}
	return st, nil
}

// HealthReason says why /health is degraded by memory: the last warm skipped phases, or keys
// were evicted while it ran. It is empty when neither happened, or when it cannot tell (the
// rest of /health reports an unreachable Redis or database).
func (r *Reporter) HealthReason(ctx context.Context) string {
	mem, err := redisinfo.Read(ctx, r.rdb)
	if err != nil {
		return ""
	}
	w, err := LastWarm(ctx, r.pool, mem.EvictedKeys)
	if err != nil || w == nil {
		return ""
	}
	var parts []string
	if len(w.Skipped) > 0 {
		parts = append(parts, fmt.Sprintf("the last warm skipped %d tenant x phase(s) (memory budget %s)", len(w.Skipped), r.limit))
	}
	if w.Evicted > 0 {
		parts = append(parts, fmt.Sprintf("Redis evicted %d key(s) during the last warm", w.Evicted))
	}
	return strings.Join(parts, "; ")
}

// Lines is the report as `cachewarm status` prints it.
func (s Status) Lines() []string {
	budget := "no limit (Redis has no maxmemory)"
	if s.BudgetBytes > 0 {
		budget = fmt.Sprintf("%s = %s", s.Limit, bytesize.String(s.BudgetBytes))
	}
	out := []string{fmt.Sprintf("memory: budget %s; used %s of maxmemory %s (policy %s); %d key(s) evicted since Redis started",
		budget, bytesize.String(s.UsedMemory), bytesize.String(s.MaxMemory), s.Policy, s.EvictedKeys)}
	if w := s.LastWarm; w != nil {
		state := "running"
		if w.FinishedAt != nil {
			state = "finished " + w.FinishedAt.Local().Format(time.DateTime)
		}
		out = append(out, fmt.Sprintf("last warm %d (%s, %d workflows, %s): %d key(s) evicted during it, %d tenant x phase(s) skipped",
			w.ID, w.Trigger, w.Workflows, state, w.Evicted, len(w.Skipped)))
		for _, sk := range w.Skipped {
			out = append(out, fmt.Sprintf("  skipped %s %s: %s", sk.Tenant, sk.Phase, sk.Reason))
		}
	}
	if len(s.TopDemand) > 0 {
		cells := make([]string, len(s.TopDemand))
		for i, d := range s.TopDemand {
			cells[i] = fmt.Sprintf("%s %.2f", d.Tenant, d.Score)
		}
		out = append(out, "predicted demand (most read first): "+strings.Join(cells, ", "))
	}
	return out
}

// Metrics are the memory budget's Prometheus metrics. A nil *Metrics counts nothing.
type Metrics struct {
	reporter *Reporter
	skips    *prometheus.CounterVec
	evicts   prometheus.Counter
	budget   *prometheus.Desc
	used     *prometheus.Desc
	maxmem   *prometheus.Desc
	warm     *prometheus.Desc
}

// NewMetrics registers the metrics on reg: cachewarm_memory_budget_bytes,
// cachewarm_redis_used_memory_bytes, cachewarm_redis_maxmemory_bytes and
// cachewarm_evictions_during_warm (read from Redis and the warms table at each scrape),
// cachewarm_phases_skipped_total{phase} and cachewarm_phase_evictions_total.
func NewMetrics(reg prometheus.Registerer, r *Reporter) *Metrics {
	m := &Metrics{
		reporter: r,
		skips: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cachewarm_phases_skipped_total",
			Help: "Tenant x phases the memory budget skipped, or removed to make room for a more demanded tenant."}, []string{"phase"}),
		evicts: prometheus.NewCounter(prometheus.CounterOpts{Name: "cachewarm_phase_evictions_total",
			Help: "Keys Redis evicted while this process's phase jobs ran."}),
		budget: prometheus.NewDesc("cachewarm_memory_budget_bytes", "The memory budget in bytes (0: no limit, Redis has no maxmemory).", nil, nil),
		used:   prometheus.NewDesc("cachewarm_redis_used_memory_bytes", "Redis's used_memory (summed over a cluster's masters).", nil, nil),
		maxmem: prometheus.NewDesc("cachewarm_redis_maxmemory_bytes", "Redis's maxmemory (0: no limit).", nil, nil),
		warm:   prometheus.NewDesc("cachewarm_evictions_during_warm", "Keys Redis evicted during the last warm (so far, while it runs).", nil, nil),
	}
	for _, p := range catalog.Phases {
		m.skips.WithLabelValues(string(p))
	}
	reg.MustRegister(m.skips, m.evicts, m)
	return m
}

func (m *Metrics) skipped(p catalog.Phase) {
	if m != nil {
		m.skips.WithLabelValues(string(p)).Inc()
	}
}

func (m *Metrics) evicted(n int64) {
	if m != nil {
		m.evicts.Add(float64(n))
	}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.budget
	ch <- m.used
	ch <- m.maxmem
	ch <- m.warm
}

// Collect implements prometheus.Collector: one INFO and one read of the warms table.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	mem, err := redisinfo.Read(ctx, m.reporter.rdb)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(m.budget, prometheus.GaugeValue, float64(m.reporter.limit.Of(mem.MaxMemory)))
	ch <- prometheus.MustNewConstMetric(m.used, prometheus.GaugeValue, float64(mem.UsedMemory))
	ch <- prometheus.MustNewConstMetric(m.maxmem, prometheus.GaugeValue, float64(mem.MaxMemory))
	var evicted float64
	if w, err := LastWarm(ctx, m.reporter.pool, mem.EvictedKeys); err == nil && w != nil {
		evicted = float64(w.Evicted)
	}
	ch <- prometheus.MustNewConstMetric(m.warm, prometheus.GaugeValue, evicted)
}
