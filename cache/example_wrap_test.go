package cache_test

import (
	"context"
	"fmt"

	"github.com/cachewarm/cachewarm/cache"
)

// Wrap serves a NestJS-compatible cache key: the first call loads and stores, the second is a
// hit.
func ExampleWrap() {
	ctx := context.Background()
	rdb := exampleRedis()
	defer rdb.Close()
	c := cache.New(rdb)

	key := cache.Keys{}.ChartOfAccounts(exampleTenant()) // finance:coa:{tenant}
	defer c.Delete(ctx, key)

	load := func(ctx context.Context) ([]Account, error) {
		fmt.Println("loading from PostgreSQL")
		return []Account{{Code: "1000", Name: "Cash"}}, nil
	}
	for range 2 {
		accounts, err := cache.Wrap(ctx, c, key, cache.TTLStatic, load)
		if err != nil {
			panic(err)
		}
		fmt.Println(accounts[0].Code, accounts[0].Name)
	}
	stored, _ := rdb.Get(ctx, key).Result()
	fmt.Println(stored)
	// Output:
	// loading from PostgreSQL
	// 1000 Cash
	// 1000 Cash
	// [{"code":"1000","name":"Cash"}]
}
