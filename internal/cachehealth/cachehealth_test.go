package cachehealth_test

import (
	"testing"

	"github.com/cachewarm/cachewarm/internal/cachehealth"
)

func TestOfThresholds(t *testing.T) {
	for _, c := range []struct {
		hit, err float64
		want     string
	}{
		{100, 0, cachehealth.Healthy},
		{70, 5, cachehealth.Healthy}, // both bounds are healthy
		{69.99, 0, cachehealth.Degraded},
		{100, 5.01, cachehealth.Degraded},
		{50, 10, cachehealth.Degraded}, // both bounds are degraded
		{49.99, 0, cachehealth.Unhealthy},
		{100, 10.01, cachehealth.Unhealthy},
		{60, 11, cachehealth.Unhealthy}, // the worse of the two counts
		{0, 0, cachehealth.Unhealthy},
	} {
		if got := cachehealth.Of(c.hit, c.err); got != c.want {
			t.Errorf("Of(%v, %v) = %s, want %s", c.hit, c.err, got, c.want)
		}
	}
}

func TestLine(t *testing.T) {
	got := cachehealth.Line(85.3249, 12453, 2134, 856, 3, cachehealth.Healthy)
	want := "Cache Stats - Hit Rate: 85.32%, Hits: 12453, Misses: 2134, Sets: 856, Errors: 3, Health: healthy"
	if got != want {
		t.Errorf("Line = %q, want %q", got, want)
	}
}
