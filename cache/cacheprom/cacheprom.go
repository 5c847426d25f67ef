// Package cacheprom exports the counters of a [cache.Cache] to Prometheus. It is a package of
// its own so that importing cache does not bring in the Prometheus client.
package cacheprom

import (
	"github.com/cachewarm/cachewarm/cache"
	"github.com/prometheus/client_golang/prometheus"
)

// Collector exports a Cache's [cache.Stats] to Prometheus. Register it on the application's
// registry (no global registration happens):
//
//	reg.MustRegister(cacheprom.NewCollector(c, "myapp"))
type Collector struct {
	c                                         *cache.Cache
	hits, misses, sets, errors, l1Hits        *prometheus.Desc
	hitSeconds, missSeconds, hitRatio, health *prometheus.Desc
}

// NewCollector returns a Collector of c's counters with metric names under namespace (for
// example "myapp" gives myapp_cache_hits_total). Add constant labels with
// prometheus.WrapRegistererWith when several Caches are registered.
func NewCollector(c *cache.Cache, namespace string) *Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "cache", name), help, labels, nil)
	}
	return &Collector{
		c:           c,
		hits:        d("hits_total", "Lookups served from the cache (L1 or Redis)."),
		misses:      d("misses_total", "Lookups that found no usable value."),
		sets:        d("sets_total", "Values written to Redis."),
		errors:      d("errors_total", "Failed Redis operations and undecodable stored values."),
		l1Hits:      d("l1_hits_total", "Lookups served from the in-process L1 tier."),
		hitSeconds:  d("hit_duration_seconds_total", "Total time spent in lookups that hit."),
		missSeconds: d("miss_duration_seconds_total", "Total time spent in lookups that missed, loading included."),
		hitRatio:    d("hit_ratio", "Hits / (hits + misses) since start (0 with no lookups)."),
		health:      d("health", "1 for the current health class (healthy, degraded, unhealthy), 0 for the others.", "status"),
	}
}

// Describe implements prometheus.Collector.
func (m *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.hits, m.misses, m.sets, m.errors, m.l1Hits, m.hitSeconds, m.missSeconds, m.hitRatio, m.health} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *Collector) Collect(ch chan<- prometheus.Metric) {
	s := m.c.Stats()
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	counter(m.hits, float64(s.Hits))
	counter(m.misses, float64(s.Misses))
	counter(m.sets, float64(s.Sets))
	counter(m.errors, float64(s.Errors))
	counter(m.l1Hits, float64(s.L1Hits))
	counter(m.hitSeconds, s.HitTime.Seconds())
	counter(m.missSeconds, s.MissTime.Seconds())
	ch <- prometheus.MustNewConstMetric(m.hitRatio, prometheus.GaugeValue, s.HitRate()/100)
	h := s.Health()
	for _, st := range []cache.Health{cache.Healthy, cache.Degraded, cache.Unhealthy} {
		v := 0.0
		if st == h {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(m.health, prometheus.GaugeValue, v, string(st))
	}
}
