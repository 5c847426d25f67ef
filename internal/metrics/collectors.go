package metrics

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

var (
	jobsDesc = prometheus.NewDesc("cachewarm_jobs", "River jobs in the job table, by kind and state.", []string{"kind", "state"}, nil)
	hitsDesc = prometheus.NewDesc("cachewarm_redis_keyspace_hits_total", "Redis keyspace hits (INFO stats): reads the applications served from the cache.", nil, nil)
	missDesc = prometheus.NewDesc("cachewarm_redis_keyspace_misses_total", "Redis keyspace misses (INFO stats).", nil, nil)
	pgUpDesc = prometheus.NewDesc("cachewarm_postgres_up", "Whether PostgreSQL answered the last scrape (1) or not (0).", nil, nil)
	rdUpDesc = prometheus.NewDesc("cachewarm_redis_up", "Whether Redis answered the last scrape (1) or not (0).", nil, nil)
)

// jobCollector counts the job table's rows by kind and state at each scrape.
type jobCollector struct{ pool *pgxpool.Pool }

func (c *jobCollector) Describe(ch chan<- *prometheus.Desc) { ch <- jobsDesc; ch <- pgUpDesc }

func (c *jobCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	rows, err := c.pool.Query(ctx, `SELECT kind, state::text, count(*) FROM cachewarm.river_job GROUP BY 1, 2`)
	if err == nil {
		defer rows.Close()
		for rows.Next() {
			var kind, state string
			var n int64
			if rows.Scan(&kind, &state, &n) == nil {
				ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(n), kind, state)
			}
		}
		err = rows.Err()
	}
	ch <- prometheus.MustNewConstMetric(pgUpDesc, prometheus.GaugeValue, boolFloat(err == nil))
}

// redisCollector reports Redis's keyspace hits and misses at each scrape.
type redisCollector struct{ rdb redis.UniversalClient }

func (c *redisCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- hitsDesc
	ch <- missDesc
	ch <- rdUpDesc
}

func (c *redisCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	s, err := ReadKeyspaceStats(ctx, c.rdb)
	if err == nil {
		ch <- prometheus.MustNewConstMetric(hitsDesc, prometheus.CounterValue, float64(s.Hits))
		ch <- prometheus.MustNewConstMetric(missDesc, prometheus.CounterValue, float64(s.Misses))
	}
	ch <- prometheus.MustNewConstMetric(rdUpDesc, prometheus.GaugeValue, boolFloat(err == nil))
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
