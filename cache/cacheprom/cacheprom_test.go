package cacheprom_test

import (
	"context"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/cache/cacheprom"
	"github.com/cachewarm/cachewarm/internal/testenv"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestCollector(t *testing.T) {
	t.Parallel()
	rdb, _ := testenv.NewRedis(t)
	c := cache.New(rdb)
	ctx := context.Background()
	for range 2 {
		_, err := cache.Wrap(ctx, c, "cacheprom:test", time.Minute, func(context.Context) (int, error) { return 1, nil })
		require.NoError(t, err)
	}

	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(cacheprom.NewCollector(c, "app")))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			for _, l := range m.GetLabel() {
				name += "{" + l.GetValue() + "}"
			}
			if m.Counter != nil {
				got[name] = m.GetCounter().GetValue()
			} else {
				got[name] = m.GetGauge().GetValue()
			}
		}
	}
	require.Equal(t, 1.0, got["app_cache_hits_total"])
	require.Equal(t, 1.0, got["app_cache_misses_total"])
	require.Equal(t, 1.0, got["app_cache_sets_total"])
	require.Equal(t, 0.5, got["app_cache_hit_ratio"])
	require.Equal(t, 1.0, got["app_cache_health{degraded}"], "50%% is not below 50%%")
	require.Equal(t, 0.0, got["app_cache_health{healthy}"])
	require.Greater(t, got["app_cache_miss_duration_seconds_total"], 0.0)
}
