// Package cachehealth is the one home of the cache's health rule and of its statistics log
// line, shared by package cache (an application's Stats), the worker's /health and the
// worker's periodic log line (docs/operations.md).
package cachehealth

import "fmt"

// The health classes.
const (
	// Healthy: hit rate at least 70% and error rate at most 5%.
	Healthy = "healthy"
	// Degraded: hit rate below 70% or error rate above 5%.
	Degraded = "degraded"
	// Unhealthy: hit rate below 50% or error rate above 10%.
	Unhealthy = "unhealthy"
)

// Of rates a hit rate and an error rate, both percentages: [Unhealthy] below 50% hits or
// above 10% errors, [Degraded] below 70% hits or above 5% errors, [Healthy] otherwise (the
// original design's thresholds).
func Of(hitRate, errorRate float64) string {
	switch {
	case hitRate < 50 || errorRate > 10:
		return Unhealthy
	case hitRate < 70 || errorRate > 5:
		return Degraded
	}
	return Healthy
}

// Line is the statistics log line: "Cache Stats - Hit Rate: 85.32%, Hits: 12453, Misses:
// 2134, Sets: 856, Errors: 3, Health: healthy".
func Line(hitRate float64, hits, misses, sets, errors uint64, health string) string {
	return fmt.Sprintf("Cache Stats - Hit Rate: %.2f%%, Hits: %d, Misses: %d, Sets: %d, Errors: %d, Health: %s",
		hitRate, hits, misses, sets, errors, health)
}
