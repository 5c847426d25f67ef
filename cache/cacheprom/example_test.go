package cacheprom_test

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/cache/cacheprom"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// NewCollector exports a Cache's counters on the application's own registry.
func ExampleNewCollector() {
	ctx := context.Background()
	opts, err := redis.ParseURL(cmp.Or(os.Getenv("TEST_REDIS_URL"), "redis://127.0.0.1:6379/0"))
	if err != nil {
		panic(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	c := cache.New(rdb)

	reg := prometheus.NewRegistry()
	reg.MustRegister(cacheprom.NewCollector(c, "myapp"))

	key := cache.Keys{}.Kits(cache.MustTenant("example-" + strings.ToLower(rand.Text()[:12])))
	defer c.Delete(ctx, key)
	for range 2 {
		if _, err := cache.Wrap(ctx, c, key, time.Minute, func(context.Context) ([]string, error) { return []string{"kit"}, nil }); err != nil {
			panic(err)
		}
	}
	families, err := reg.Gather()
	if err != nil {
		panic(err)
	}
	for _, f := range families {
		switch f.GetName() {
		case "myapp_cache_hits_total", "myapp_cache_misses_total", "myapp_cache_sets_total":
			fmt.Println(f.GetName(), f.GetMetric()[0].GetCounter().GetValue())
		case "myapp_cache_hit_ratio":
			fmt.Println(f.GetName(), f.GetMetric()[0].GetGauge().GetValue())
		}
	}
	// Output:
	// myapp_cache_hit_ratio 0.5
	// myapp_cache_hits_total 1
	// myapp_cache_misses_total 1
	// myapp_cache_sets_total 1
}
