package cache_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cachewarm/cachewarm/cache"
)

// Get reads a key without loading it: a missing key is not an error.
func ExampleGet() {
	ctx := context.Background()
	rdb := exampleRedis()
	defer rdb.Close()
	c := cache.New(rdb)

	key := cache.Keys{}.CurrentPeriod(exampleTenant())
	defer c.Delete(ctx, key)
	_, ok, err := cache.Get[map[string]string](ctx, c, key)
	fmt.Println(ok, err)

	// A NestJS app (or the cachewarm worker) stores the value.
	if err := rdb.Set(ctx, key, `{"name":"2025-06","status":"open"}`, time.Minute).Err(); err != nil {
		panic(err)
	}
	period, ok, err := cache.Get[map[string]string](ctx, c, key)
	fmt.Println(ok, err, period["name"], period["status"])
	// Output:
	// false <nil>
	// true <nil> 2025-06 open
}
