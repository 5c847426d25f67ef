package cache

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// benchValue is a typical reference-data value: 20 rows of a chart of accounts (~2.3 KB).
func benchValue() []account {
	v := make([]account, 20)
	for i := range v {
		v[i] = account{Code: strconv.Itoa(1000 + i*10), Name: "Account number " + strconv.Itoa(i) + " of the chart"}
	}
	return v
}

func benchSetup(b *testing.B, ctxTimeouts bool, opts ...Option) (*Cache, *redis.Client, string) {
	tb := setup(b, func(o *redis.Options) { o.ContextTimeoutEnabled = ctxTimeouts })
	c := New(tb.rdb, opts...)
	b.Cleanup(func() { _ = c.Close() })
	key := Keys{}.ChartOfAccounts(tb.tenant)
	ctx := context.Background()
	if err := Set(ctx, c, key, benchValue(), time.Hour); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = tb.rdb.Del(context.Background(), key).Err() })
	return c, tb.rdb, key
}

// BenchmarkRawGetUnmarshal is the baseline: a go-redis GET and json.Unmarshal.
func BenchmarkRawGetUnmarshal(b *testing.B) {
	_, rdb, key := benchSetup(b, false)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		raw, err := rdb.Get(ctx, key).Bytes()
		if err != nil {
			b.Fatal(err)
		}
		var v []account
		if err := json.Unmarshal(raw, &v); err != nil {
			b.Fatal(err)
		}
	}
}

func benchWrapHit(b *testing.B, c *Cache, key string) {
	ctx := context.Background()
	load := func(context.Context) ([]account, error) { b.Fatal("loader called on a hit"); return nil, nil }
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Wrap(ctx, c, key, time.Hour, load); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWrapHit is a Wrap hit on a client without ContextTimeoutEnabled (the Cache then
// enforces its timeout with a goroutine per round trip).
func BenchmarkWrapHit(b *testing.B) {
	c, _, key := benchSetup(b, false)
	benchWrapHit(b, c, key)
}

// BenchmarkWrapHitCtxTimeout is a Wrap hit on a client with ContextTimeoutEnabled (the
// recommended configuration: the timeout is a context deadline).
func BenchmarkWrapHitCtxTimeout(b *testing.B) {
	c, _, key := benchSetup(b, true)
	benchWrapHit(b, c, key)
}

// BenchmarkWrapHitKeyv is a Wrap hit in the keyv format.
func BenchmarkWrapHitKeyv(b *testing.B) {
	c, _, key := benchSetup(b, true, WithFormat(FormatKeyv))
	benchWrapHit(b, c, key)
}

// BenchmarkWrapHitL1 is a Wrap hit served by the in-process tier.
func BenchmarkWrapHitL1(b *testing.B) {
	tb := setup(b)
	c, _, key := benchSetup(b, true, WithL1(L1Options{Channel: tb.prefix + "inval"}))
	benchWrapHit(b, c, key)
}

// BenchmarkWrapHitL1Parallel is BenchmarkWrapHitL1 from GOMAXPROCS goroutines.
func BenchmarkWrapHitL1Parallel(b *testing.B) {
	tb := setup(b)
	c, _, key := benchSetup(b, true, WithL1(L1Options{Channel: tb.prefix + "inval"}))
	ctx := context.Background()
	load := func(context.Context) ([]account, error) { return nil, nil }
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := Wrap(ctx, c, key, time.Hour, load); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
