package cache_test

import (
	"context"
	"fmt"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/redis/go-redis/v9"
)

type Account struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// Wrap serves a NestJS-compatible cache key: the first call loads and stores, the second is a
// hit.
func ExampleWrap() {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
	defer rdb.Close()
	c := cache.New(rdb)

	tenant, err := cache.ParseTenant("example-tenant")
	if err != nil {
		panic(err)
	}
	key := cache.Keys{}.ChartOfAccounts(tenant) // finance:coa:example-tenant
	_ = c.Delete(ctx, key)
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
	s := c.Stats()
	fmt.Printf("hits %d, misses %d, sets %d\n", s.Hits, s.Misses, s.Sets)
	// Output:
	// loading from PostgreSQL
	// 1000 Cash
	// 1000 Cash
	// [{"code":"1000","name":"Cash"}]
	// hits 1, misses 1, sets 1
}

// The typed key builders take a validated tenant; other string segments are escaped.
func ExampleKeys() {
	t1 := cache.MustTenant("t1")
	k := cache.Keys{}
	fmt.Println(k.VendorsPage(t1, 2))
	fmt.Println(k.ExchangeRate(t1, "EUR", "USD"))
	fmt.Println(k.TrialBalance(t1, 2025, 6, "EUR"))
	fmt.Println(cache.Keys{HashTag: true}.Vendor(t1, 17))
	_, err := cache.ParseTenant("t1:*")
	fmt.Println(err != nil)
	// Output:
	// sales:vendors:t1:page:2:limit:100
	// finance:xrate:t1:from:EUR:to:USD:date:latest
	// finance:trial_balance:t1:year:2025:month:6:currency:EUR
	// sales:vendor:{t1}:vendorId:17
	// true
}
