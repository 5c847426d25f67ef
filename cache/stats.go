package cache

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/cachewarm/cachewarm/internal/cachehealth"
)

// Health is the cache's health class, from its hit and error rates.
type Health string

// Health classes, with the thresholds of the original design.
const (
	// Healthy: hit rate at least 70% and error rate at most 5% (or no lookups yet).
	Healthy Health = cachehealth.Healthy
	// Degraded: hit rate below 70% or error rate above 5%.
	Degraded Health = cachehealth.Degraded
	// Unhealthy: hit rate below 50% or error rate above 10%.
	Unhealthy Health = cachehealth.Unhealthy
)

// Stats is a snapshot of a Cache's counters since it was built.
type Stats struct {
	// Hits counts lookups ([Wrap], [Get]) served from the cache (L1 or Redis).
	Hits uint64
	// Misses counts lookups that found no usable value (including those made while Redis was
	// away).
	Misses uint64
	// Sets counts values written to Redis.
	Sets uint64
	// Errors counts failed Redis operations (unreachable, too slow, refused) and stored values
	// that could not be decoded.
	Errors uint64
	// L1Hits counts the hits served by the in-process tier (included in Hits).
	L1Hits uint64
	// HitTime and MissTime are the total time lookups took, by outcome (a miss includes
	// waiting for another process and running the loader).
	HitTime, MissTime time.Duration
}

// Lookups returns Hits + Misses.
func (s Stats) Lookups() uint64 { return s.Hits + s.Misses }

// HitRate returns the percentage of lookups that hit (0 with no lookups).
func (s Stats) HitRate() float64 {
	if s.Lookups() == 0 {
		return 0
	}
	return 100 * float64(s.Hits) / float64(s.Lookups())
}

// ErrorRate returns errors per lookup as a percentage, at most 100 (0 with no lookups).
func (s Stats) ErrorRate() float64 {
	if s.Lookups() == 0 {
		return 0
	}
	return min(100, 100*float64(s.Errors)/float64(s.Lookups()))
}

// AvgHitDuration returns the mean duration of a hit.
func (s Stats) AvgHitDuration() time.Duration {
	if s.Hits == 0 {
		return 0
	}
	return s.HitTime / time.Duration(s.Hits)
}

// AvgMissDuration returns the mean duration of a miss.
func (s Stats) AvgMissDuration() time.Duration {
	if s.Misses == 0 {
		return 0
	}
	return s.MissTime / time.Duration(s.Misses)
}

// Health classifies s: [Unhealthy] when the hit rate is below 50% or the error rate above
// 10%, [Degraded] when below 70% or above 5%, else [Healthy]. With no lookups yet it is
// Healthy.
func (s Stats) Health() Health {
	if s.Lookups() == 0 {
		return Healthy
	}
	return Health(cachehealth.Of(s.HitRate(), s.ErrorRate()))
}

// String returns the statistics log line (docs/operations.md): "Cache Stats - Hit Rate: 85.32%, Hits: 12453,
// Misses: 2134, Sets: 856, Errors: 3, Health: healthy".
func (s Stats) String() string {
	return cachehealth.Line(s.HitRate(), s.Hits, s.Misses, s.Sets, s.Errors, string(s.Health()))
}

// Stats returns a snapshot of the counters. It is cheap and safe to call concurrently.
func (c *Cache) Stats() Stats {
	return Stats{
		Hits:     c.stats.hits.Load(),
		Misses:   c.stats.misses.Load(),
		Sets:     c.stats.sets.Load(),
		Errors:   c.stats.errors.Load(),
		L1Hits:   c.stats.l1Hits.Load(),
		HitTime:  time.Duration(c.stats.hitNanos.Load()),
		MissTime: time.Duration(c.stats.missNanos.Load()),
	}
}

// LogStats logs the [Stats.String] line at Info on logger every interval (docs/operations.md: the worker uses 5
// minutes), with the figures also as attributes, until ctx is done. Run it in its own
// goroutine.
func (c *Cache) LogStats(ctx context.Context, logger *slog.Logger, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s := c.Stats()
			logger.InfoContext(ctx, s.String(),
				slog.Float64("hitRate", round2(s.HitRate())), slog.Uint64("hits", s.Hits),
				slog.Uint64("misses", s.Misses), slog.Uint64("sets", s.Sets),
				slog.Uint64("errors", s.Errors), slog.String("health", string(s.Health())))
		}
	}
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

// counters are the Cache's live counters.
type counters struct {
	hits, misses, sets, errors, l1Hits atomic.Uint64
	hitNanos, missNanos                atomic.Int64
}

func (s *counters) hit(start time.Time) {
	s.hits.Add(1)
	s.hitNanos.Add(int64(time.Since(start)))
}

func (s *counters) miss(start time.Time) {
	s.misses.Add(1)
	s.missNanos.Add(int64(time.Since(start)))
}
