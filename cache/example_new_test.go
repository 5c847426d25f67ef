package cache_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/cachewarm/cachewarm/cache"
)

// New builds one Cache per Redis client and shares it; options choose the value format
// (keyv for cache-manager 6/7 readers), the round-trip bound and the load lock.
func ExampleNew() {
	ctx := context.Background()
	rdb := exampleRedis()
	defer rdb.Close()
	c := cache.New(rdb,
		cache.WithFormat(cache.FormatKeyv),
		cache.WithTimeout(200*time.Millisecond),
		cache.WithLock(5*time.Second, 2*time.Second))
	defer c.Close()

	key := cache.Keys{}.Kits(exampleTenant())
	defer c.Delete(ctx, key)
	if err := cache.Set(ctx, c, key, []string{":kit-1"}, time.Minute); err != nil {
		panic(err)
	}
	stored, err := rdb.Get(ctx, key).Result()
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.HasPrefix(stored, `{"value":["::kit-1"],"expires":`))
	kits, _, err := cache.Get[[]string](ctx, c, key)
	if err != nil {
		panic(err)
	}
	fmt.Println(c.Format(), kits)
	// Output:
	// true
	// keyv [:kit-1]
}

// WithL1 keeps decoded values in process memory; a write through any Cache with L1 on, or by
// the cachewarm worker, drops them from every process's tier.
func ExampleWithL1() {
	ctx := context.Background()
	rdb := exampleRedis()
	defer rdb.Close()
	reader := cache.New(rdb, cache.WithL1(cache.L1Options{TTL: time.Hour}))
	defer reader.Close()
	writer := cache.New(rdb, cache.WithL1(cache.L1Options{})) // another process, say
	defer writer.Close()

	key := cache.Keys{}.PipelineStages(exampleTenant())
	defer writer.Delete(ctx, key)
	// The cachewarm worker has warmed the key (its invalidation long delivered).
	if err := rdb.Set(ctx, key, `["lead","won"]`, time.Minute).Err(); err != nil {
		panic(err)
	}
	load := func(context.Context) ([]string, error) { return nil, fmt.Errorf("%s is not cached", key) }
	for range 2 {
		stages, err := cache.Wrap(ctx, reader, key, time.Minute, load)
		if err != nil {
			panic(err)
		}
		fmt.Println(stages)
	}
	fmt.Println("served from memory:", reader.Stats().L1Hits)

	if err := cache.Set(ctx, writer, key, []string{"lead", "qualified", "won"}, time.Minute); err != nil {
		panic(err)
	}
	// The invalidation travels by pub/sub: wait for it (it takes about a millisecond).
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if stages, err := cache.Wrap(ctx, reader, key, time.Minute, load); err == nil && len(stages) == 3 {
			fmt.Println(stages)
			break
		}
	}
	// Output:
	// [lead won]
	// [lead won]
	// served from memory: 1
	// [lead qualified won]
}
