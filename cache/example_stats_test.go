package cache_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cachewarm/cachewarm/cache"
)

// Stats counts lookups, writes and errors since the Cache was built; String gives the log
// line NestJS services write.
func ExampleCache_Stats() {
	ctx := context.Background()
	rdb := exampleRedis()
	defer rdb.Close()
	c := cache.New(rdb)

	key := cache.Keys{}.PricingRules(exampleTenant())
	defer c.Delete(ctx, key)
	load := func(context.Context) ([]string, error) { return []string{"rule-1"}, nil }
	for range 4 {
		if _, err := cache.Wrap(ctx, c, key, time.Minute, load); err != nil {
			panic(err)
		}
	}
	s := c.Stats()
	fmt.Println(s)
	fmt.Println(s.Lookups(), s.Health())
	// Output:
	// Cache Stats - Hit Rate: 75.00%, Hits: 3, Misses: 1, Sets: 1, Errors: 0, Health: healthy
	// 4 healthy
}
