package cache_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cachewarm/cachewarm/cache"
)

// Set writes a value as a NestJS app would: JSON.stringify's text, with a millisecond TTL.
// A value whose JSON is null is refused, as cache-manager refuses it.
func ExampleSet() {
	ctx := context.Background()
	rdb := exampleRedis()
	defer rdb.Close()
	c := cache.New(rdb)

	key := cache.Keys{}.ExchangeRate(exampleTenant(), "EUR", "USD")
	defer c.Delete(ctx, key)
	rate := map[string]string{"from": "EUR", "to": "USD", "rate": "1.0825", "note": "<&>"}
	if err := cache.Set(ctx, c, key, rate, cache.TTLOperational); err != nil {
		panic(err)
	}
	stored, _ := rdb.Get(ctx, key).Result()
	fmt.Println(stored)
	fmt.Println(rdb.PTTL(ctx, key).Val() > 4*time.Minute)

	var none map[string]string
	err := cache.Set(ctx, c, key, none, time.Minute)
	fmt.Println(errors.Is(err, cache.ErrNotCacheable))
	// Output:
	// {"from":"EUR","note":"<&>","rate":"1.0825","to":"USD"}
	// true
	// true
}
