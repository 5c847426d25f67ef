package cache_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cachewarm/cachewarm/cache"
)

// Delete removes keys from Redis and from every L1 tier; missing keys are no error.
func ExampleCache_Delete() {
	ctx := context.Background()
	rdb := exampleRedis()
	defer rdb.Close()
	c := cache.New(rdb)

	t := exampleTenant()
	k := cache.Keys{}
	if err := cache.Set(ctx, c, k.Vendor(t, 1), map[string]string{"id": "1"}, time.Minute); err != nil {
		panic(err)
	}
	if err := c.Delete(ctx, k.Vendor(t, 1), k.Vendor(t, 2)); err != nil {
		panic(err)
	}
	fmt.Println(rdb.Exists(ctx, k.Vendor(t, 1)).Val())
	// Output:
	// 0
}
