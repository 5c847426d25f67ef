package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Cold records the cold start detector's checks (internal/coldstart). Its methods are safe
// for concurrent use.
type Cold struct {
	checks *prometheus.CounterVec
	starts prometheus.Counter
}

// NewCold registers on reg the cold start metrics: cachewarm_cold_checks_total (by result),
// cachewarm_cold_starts_total, and cachewarm_cache_cold, a gauge that asks cold whether the
// latest cold start's re-warm is still running (1) or not (0).
func NewCold(reg prometheus.Registerer, cold func() bool) *Cold {
	c := &Cold{
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cachewarm_cold_checks_total", Help: "Checks of Redis's cold start sentinels by this process (while leader), by result: ok, sentinel (set again), new_install, cold, error.",
		}, []string{"result"}),
		starts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cachewarm_cold_starts_total", Help: "Cold starts (Redis came back empty) this process detected and re-warmed.",
		}),
	}
	reg.MustRegister(c.checks, c.starts, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "cachewarm_cache_cold", Help: "1 while the re-warm of the latest cold start runs (the cache is cold), else 0.",
	}, func() float64 {
		if cold() {
			return 1
		}
		return 0
	}))
	return c
}

// ObserveCheck records one check's result (a coldstart.Result... constant).
func (c *Cold) ObserveCheck(result string) {
	c.checks.WithLabelValues(result).Inc()
	if result == "cold" {
		c.starts.Inc()
	}
}
