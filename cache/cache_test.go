package cache

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

type account struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

func TestWrapMissThenHit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	c := New(b.rdb)
	key := Keys{}.ChartOfAccounts(b.tenant)
	t.Cleanup(func() { _ = c.Delete(context.Background(), key) })

	var calls atomic.Int32
	load := func(context.Context) ([]account, error) {
		calls.Add(1)
		return []account{{Code: "1000", Name: "Cash <&> \u2028"}}, nil
	}
	v, err := Wrap(ctx, c, key, TTLStatic, load)
	require.NoError(t, err)
	require.Equal(t, "1000", v[0].Code)
	v, err = Wrap(ctx, c, key, TTLStatic, load)
	require.NoError(t, err)
	require.Equal(t, "Cash <&> \u2028", v[0].Name)
	require.EqualValues(t, 1, calls.Load())

	stored, err := b.rdb.Get(ctx, key).Result()
	require.NoError(t, err)
	require.Equal(t, "[{\"code\":\"1000\",\"name\":\"Cash <&> \u2028\"}]", stored, "JSON.stringify's text, no HTML escaping")
	pttl, err := b.rdb.PTTL(ctx, key).Result()
	require.NoError(t, err)
	require.InDelta(t, TTLStatic.Milliseconds(), pttl.Milliseconds(), 60_000)
	n, err := b.rdb.Exists(ctx, lockKey(key)).Result()
	require.NoError(t, err)
	require.Zero(t, n, "the load lock is released")

	s := c.Stats()
	require.EqualValues(t, 1, s.Hits)
	require.EqualValues(t, 1, s.Misses)
	require.EqualValues(t, 1, s.Sets)
	require.EqualValues(t, 0, s.Errors)
	require.InDelta(t, 50, s.HitRate(), 0.001)
}

func TestWrapLoaderErrorIsNotCached(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	c := New(b.rdb)
	key := b.key("err")
	boom := errors.New("boom")
	_, err := Wrap(ctx, c, key, time.Minute, func(context.Context) (int, error) { return 0, boom })
	require.ErrorIs(t, err, boom)
	require.Contains(t, err.Error(), key)
	n, err := b.rdb.Exists(ctx, key, lockKey(key)).Result()
	require.NoError(t, err)
	require.Zero(t, n, "neither a value nor a lock is left")
	v, err := Wrap(ctx, c, key, time.Minute, func(context.Context) (int, error) { return 7, nil })
	require.NoError(t, err)
	require.Equal(t, 7, v)
	require.EqualValues(t, 0, c.Stats().Errors, "a loader error is not a cache error")
}

func TestWrapNilSliceAndNull(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	c := New(b.rdb)
	_, err := Wrap(ctx, c, b.key("list"), time.Minute, func(context.Context) ([]account, error) { return nil, nil })
	require.NoError(t, err)
	got, err := b.rdb.Get(ctx, b.key("list")).Result()
	require.NoError(t, err)
	require.Equal(t, "[]", got, "empty lists are [], never null")

	v, err := Wrap(ctx, c, b.key("null"), time.Minute, func(context.Context) (*account, error) { return nil, nil })
	require.NoError(t, err)
	require.Nil(t, v)
	require.ErrorIs(t, b.rdb.Get(ctx, b.key("null")).Err(), redis.Nil, "null is not cacheable")
	require.ErrorIs(t, Set[*account](ctx, c, b.key("null"), nil, time.Minute), ErrNotCacheable)
}

func TestWrapRejectsBadTTL(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := New(b.rdb)
	_, err := Wrap(context.Background(), c, b.key("x"), 0, func(context.Context) (int, error) { return 1, nil })
	require.Error(t, err)
	require.Error(t, Set(context.Background(), c, b.key("x"), 1, -time.Second))
}

func TestWrapUndecodableValueIsReloaded(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	c := New(b.rdb)
	key := b.key("bad")
	require.NoError(t, b.rdb.Set(ctx, key, `{"not":"a list"}`, time.Minute).Err())
	v, err := Wrap(ctx, c, key, time.Minute, func(context.Context) ([]int, error) { return []int{1, 2}, nil })
	require.NoError(t, err)
	require.Equal(t, []int{1, 2}, v)
	got, err := b.rdb.Get(ctx, key).Result()
	require.NoError(t, err)
	require.Equal(t, "[1,2]", got)
	require.EqualValues(t, 1, c.Stats().Errors)
}

func TestGetSetDelete(t *testing.T) {
	t.Parallel()
	for _, f := range []Format{FormatJSON, FormatKeyv} {
		t.Run(f.String(), func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ctx := context.Background()
			c := New(b.rdb, WithFormat(f))
			key := Keys{}.Vendor(b.tenant, 17)
			_, ok, err := Get[account](ctx, c, key)
			require.NoError(t, err)
			require.False(t, ok)

			want := account{Code: ":colon", Name: "x"}
			require.NoError(t, Set(ctx, c, key, want, time.Minute))
			got, ok, err := Get[account](ctx, c, key)
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, want, got)

			stored, err := b.rdb.Get(ctx, key).Bytes()
			require.NoError(t, err)
			if f == FormatKeyv {
				require.True(t, bytes.HasPrefix(stored, []byte(`{"value":{"code":"::colon","name":"x"},"expires":`)), string(stored))
			} else {
				require.Equal(t, `{"code":":colon","name":"x"}`, string(stored))
			}

			require.NoError(t, c.Delete(ctx, key, b.key("missing")))
			_, ok, err = Get[account](ctx, c, key)
			require.NoError(t, err)
			require.False(t, ok)
			s := c.Stats()
			require.EqualValues(t, 1, s.Hits)
			require.EqualValues(t, 2, s.Misses)
			require.EqualValues(t, 1, s.Sets)
		})
	}
}

func TestGetExpiredKeyvIsMiss(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	c := New(b.rdb, WithFormat(FormatKeyv))
	require.NoError(t, b.rdb.Set(ctx, b.key("old"), `{"value":1,"expires":1000}`, time.Minute).Err())
	_, ok, err := Get[int](ctx, c, b.key("old"))
	require.NoError(t, err)
	require.False(t, ok, "an envelope whose expires has passed is a miss, as keyv reads it")
	v, err := Wrap(ctx, c, b.key("old"), time.Minute, func(context.Context) (int, error) { return 2, nil })
	require.NoError(t, err)
	require.Equal(t, 2, v)
}

// TestStampedeAcrossProcesses: 200 callers on one cold key, spread over two Caches standing
// for two processes, run the loader once.
//
// The loader takes a while so that the callers overlap, but nothing depends on how long: a
// caller that comes late finds the value stored. What could make the loader run twice is a
// Redis round trip slower than the Cache's bound on a loaded machine (the caller then loads
// without Redis, by design), so the bounds here are far above any such delay.
func TestStampedeAcrossProcesses(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b2 := setup(t) // a second client: its own connection pool, as another process has
	ctx := context.Background()
	opts := []Option{WithTimeout(30 * time.Second), WithLock(time.Minute, time.Minute)}
	caches := []*Cache{New(b.rdb, opts...), New(b2.rdb, opts...)}
	key := Keys{}.PricingRules(b.tenant)
	t.Cleanup(func() { _ = caches[0].Delete(context.Background(), key) })

	var calls atomic.Int32
	load := func(context.Context) ([]account, error) {
		calls.Add(1)
		time.Sleep(200 * time.Millisecond)
		return []account{{Code: "P1"}}, nil
	}
	const callers = 200
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			v, err := Wrap(ctx, caches[i%2], key, time.Minute, load)
			if err == nil && (len(v) != 1 || v[0].Code != "P1") {
				err = errors.New("wrong value")
			}
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.EqualValues(t, 1, calls.Load(), "the loader ran once across both processes")
	for _, c := range caches {
		s := c.Stats()
		require.EqualValues(t, callers/2, s.Hits+s.Misses)
		require.Zero(t, s.Errors)
	}
}

// TestWrapFollowerContext: a caller waiting for another caller's load gives up when its own ctx
// ends, and the load goes on for the caller that started it.
func TestWrapFollowerContext(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := New(b.rdb)
	key := b.key("slowload")
	loading := make(chan struct{}) // closed by the leader's loader: the follower can only follow
	release := make(chan struct{})
	leaderDone := make(chan int, 1)
	go func() {
		v, _ := Wrap(context.Background(), c, key, time.Minute, func(context.Context) (int, error) {
			close(loading)
			<-release
			return 1, nil
		})
		leaderDone <- v
	}()
	<-loading
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := Wrap(ctx, c, key, time.Minute, func(context.Context) (int, error) { return 2, nil })
	require.ErrorIs(t, err, context.DeadlineExceeded, "a waiting caller's own ctx ends its wait")
	close(release)
	require.Equal(t, 1, <-leaderDone, "the leader's load is not cut short")
	t.Cleanup(func() { _ = c.Delete(context.Background(), key) })
}

// TestRedisDown: with nothing listening, Wrap returns the loader's value quickly and counts an
// error.
func TestRedisDown(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: deadAddr(t)})
	t.Cleanup(func() { _ = rdb.Close() })
	c := New(rdb)
	ctx := context.Background()
	start := time.Now()
	v, err := Wrap(ctx, c, "finance:coa:t1", time.Minute, func(context.Context) (string, error) { return "loaded", nil })
	require.NoError(t, err, "Wrap never fails because the cache is away")
	require.Equal(t, "loaded", v)
	require.Less(t, time.Since(start), 2*time.Second)
	s := c.Stats()
	require.GreaterOrEqual(t, s.Errors, uint64(1))
	require.EqualValues(t, 1, s.Misses)
	require.Equal(t, Unhealthy, s.Health())

	_, _, err = Get[string](ctx, c, "finance:coa:t1")
	require.Error(t, err, "Get has no loader to fall back on: it reports the failure")
	require.Error(t, Set(ctx, c, "k", "v", time.Minute))
	require.Error(t, c.Delete(ctx, "k"))
}

// TestRedisSlow: a Redis that accepts connections and never answers costs about one timeout,
// whether or not the client honours context deadlines.
func TestRedisSlow(t *testing.T) {
	t.Parallel()
	for _, ctxTimeouts := range []bool{false, true} {
		t.Run(map[bool]string{false: "guarded", true: "ContextTimeoutEnabled"}[ctxTimeouts], func(t *testing.T) {
			t.Parallel()
			rdb := redis.NewClient(&redis.Options{Addr: silentAddr(t), ContextTimeoutEnabled: ctxTimeouts,
				MaxRetries: -1, ReadTimeout: 3 * time.Second})
			t.Cleanup(func() { _ = rdb.Close() })
			c := New(rdb, WithTimeout(200*time.Millisecond))
			start := time.Now()
			v, err := Wrap(context.Background(), c, "k", time.Minute, func(context.Context) (int, error) { return 42, nil })
			require.NoError(t, err)
			require.Equal(t, 42, v)
			require.Less(t, time.Since(start), 2*time.Second)
			require.GreaterOrEqual(t, c.Stats().Errors, uint64(1))
		})
	}
}

func TestStatsHealth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                 string
		hits, misses, errors uint64
		want                 Health
	}{
		{"no lookups", 0, 0, 0, Healthy},
		{"good", 90, 10, 0, Healthy},
		{"hit rate below 70", 69, 31, 0, Degraded},
		{"hit rate below 50", 49, 51, 0, Unhealthy},
		{"errors above 5%", 95, 5, 6, Degraded},
		{"errors above 10%", 95, 5, 11, Unhealthy},
		{"exactly 70 and 5", 70, 30, 5, Healthy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Stats{Hits: tt.hits, Misses: tt.misses, Errors: tt.errors}
			require.Equal(t, tt.want, s.Health())
		})
	}
	s := Stats{Hits: 12453, Misses: 2134, Sets: 856, Errors: 3, HitTime: 12453 * time.Millisecond}
	require.Equal(t, "Cache Stats - Hit Rate: 85.37%, Hits: 12453, Misses: 2134, Sets: 856, Errors: 3, Health: healthy", s.String())
	require.Equal(t, time.Millisecond, s.AvgHitDuration())
	require.Zero(t, Stats{}.AvgMissDuration())
}

func TestLogStats(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := New(b.rdb)
	_, _, _ = Get[int](context.Background(), c, b.key("none"))
	var buf syncBuffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.LogStats(ctx, logger, 10*time.Millisecond) }()
	require.Eventually(t, func() bool {
		return strings.Contains(buf.String(), "Cache Stats - Hit Rate: 0.00%, Hits: 0, Misses: 1, Sets: 0, Errors: 0, Health: unhealthy")
	},
		2*time.Second, 10*time.Millisecond)
	cancel()
	<-done
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestEarlyRefresh(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	// A huge beta makes every hit close enough to expiry to refresh: a hit refreshes when
	// -load time x beta x ln(U) reaches the key's TTL, and with a load as short as 1 ns and a
	// TTL of a minute that fails only for U above 1-6e-8. (With the beta of 1e9 this test once
	// had, a load of 1 us failed for U above 0.94: it failed once in 20 runs under load.)
	c := New(b.rdb, WithEarlyRefresh(1e18))
	key := b.key("hot")
	var calls atomic.Int32
	load := func(context.Context) (int32, error) { return calls.Add(1), nil }
	v, err := Wrap(ctx, c, key, time.Minute, load)
	require.NoError(t, err)
	require.EqualValues(t, 1, v)
	v, err = Wrap(ctx, c, key, time.Minute, load)
	require.NoError(t, err)
	require.EqualValues(t, 2, v, "the hit was refreshed early")
	got, err := b.rdb.Get(ctx, key).Result()
	require.NoError(t, err)
	require.Equal(t, "2", got)

	// A small beta leaves a fresh key alone.
	c2 := New(b.rdb, WithEarlyRefresh(1e-9))
	v, err = Wrap(ctx, c2, key, time.Minute, load)
	require.NoError(t, err)
	require.EqualValues(t, 2, v)
	require.EqualValues(t, 1, c2.Stats().Hits)

	// A refresh whose load fails serves the cached value.
	v, err = Wrap(ctx, c, key, time.Minute, func(context.Context) (int32, error) { return 0, errors.New("db down") })
	require.NoError(t, err)
	require.EqualValues(t, 2, v)
}

func TestL1Coherence(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	ch := b.prefix + "inval" // the test's own channel
	a := New(b.rdb, WithL1(L1Options{Channel: ch, TTL: time.Minute}))
	bb := New(b.rdb, WithL1(L1Options{Channel: ch, TTL: time.Minute}))
	t.Cleanup(func() { _ = a.Close(); _ = bb.Close() })
	key := Keys{}.Kits(b.tenant)
	t.Cleanup(func() { _ = a.Delete(context.Background(), key) })

	require.NoError(t, Set(ctx, a, key, "v1", time.Minute))
	v, ok, err := Get[string](ctx, bb, key)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "v1", v)
	// (The first read's value may miss L1 if a's own invalidation arrives meanwhile.)
	require.Eventually(t, func() bool {
		v, _, _ = Get[string](ctx, bb, key)
		return v == "v1" && bb.Stats().L1Hits > 0
	}, 2*time.Second, 5*time.Millisecond, "a repeated read is served from memory")

	require.NoError(t, Set(ctx, a, key, "v2", time.Minute))
	require.Eventually(t, func() bool {
		v, _, _ := Get[string](ctx, bb, key)
		return v == "v2"
	}, 2*time.Second, 5*time.Millisecond, "a write in one process invalidates the other's L1")

	require.NoError(t, a.Delete(ctx, key))
	require.Eventually(t, func() bool {
		_, ok, _ := Get[string](ctx, bb, key)
		return !ok
	}, 2*time.Second, 5*time.Millisecond)

	// An outside writer (the worker) invalidates with InvalidationPayload.
	require.NoError(t, b.rdb.Set(ctx, key, `"w1"`, time.Minute).Err())
	_, _, _ = Get[string](ctx, bb, key)
	require.NoError(t, b.rdb.Set(ctx, key, `"w2"`, time.Minute).Err())
	require.NoError(t, b.rdb.Publish(ctx, ch, InvalidationPayload(key)).Err())
	require.Eventually(t, func() bool {
		v, _, _ := Get[string](ctx, bb, key)
		return v == "w2"
	}, 2*time.Second, 5*time.Millisecond)
}

func TestL1TTLBoundsStaleness(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	c := New(b.rdb, WithL1(L1Options{Channel: b.prefix + "inval", TTL: 50 * time.Millisecond}))
	t.Cleanup(func() { _ = c.Close() })
	key := b.key("ref")
	require.NoError(t, b.rdb.Set(ctx, key, `1`, time.Minute).Err())
	v, _, _ := Get[int](ctx, c, key)
	require.Equal(t, 1, v)
	require.NoError(t, b.rdb.Set(ctx, key, `2`, time.Minute).Err()) // a NestJS write: no message
	require.Eventually(t, func() bool {
		v, _, _ := Get[int](ctx, c, key)
		return v == 2
	}, 2*time.Second, 10*time.Millisecond)
}

func TestL1Eviction(t *testing.T) {
	t.Parallel()
	l := newL1(10, time.Minute)
	for i := range 100 {
		l.put(string(rune('a'+i%26))+strings.Repeat("x", i), nil, i, l.generation())
	}
	require.LessOrEqual(t, l.n.Load(), int64(11))
	// An invalidation between read and put keeps the (possibly older) value out.
	gen := l.generation()
	l.del("k")
	l.put("k", nil, 1, gen)
	_, ok := l1Get[int](l, "k")
	require.False(t, ok)
}
