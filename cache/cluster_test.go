package cache

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/internal/testenv"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// TestCluster runs the package's Redis operations against a real 3-master Redis Cluster:
// every script's keys must share a slot, and pipelines must reach keys on every node. The
// subtests share one cluster; each works in a random tenant's key space of its own.
func TestCluster(t *testing.T) {
	t.Parallel()
	cl := testenv.NewCluster(t)
	newClient := func(t *testing.T) *redis.ClusterClient { return testenv.NewClusterClient(t, cl) }
	tenant := func() Tenant { return MustTenant("cl" + strings.ToLower(rand.Text()[:10])) }
	ctx := context.Background()

	for _, keys := range []Keys{{}, {HashTag: true}} {
		t.Run(fmt.Sprintf("GetSetDelete/hashtag=%v", keys.HashTag), func(t *testing.T) {
			t.Parallel()
			rdb := newClient(t)
			for _, f := range []Format{FormatJSON, FormatKeyv} {
				c := New(rdb, WithFormat(f))
				tn := tenant()
				// Enough keys that plain ones always land on more than one node: with the
				// four keys this test once had, a random tenant put them all on one node in
				// about one run in 27.
				ks := []string{keys.Customer(tn, 2), keys.ChartOfAccounts(tn), keys.Kits(tn)}
				for id := range int64(9) {
					ks = append(ks, keys.Vendor(tn, id+1))
				}
				for i, k := range ks {
					require.NoError(t, Set(ctx, c, k, account{Code: fmt.Sprint(i), Name: ":n"}, time.Minute))
				}
				for i, k := range ks {
					got, ok, err := Get[account](ctx, c, k)
					require.NoError(t, err, k)
					require.True(t, ok, k)
					require.Equal(t, account{Code: fmt.Sprint(i), Name: ":n"}, got)
				}
				if !keys.HashTag {
					testenv.RequireSlots(t, rdb, ks, 2) // the plain keys land on several nodes
				}
				require.NoError(t, c.Delete(ctx, ks...), "one DEL per key: keys on every node")
				for _, k := range ks {
					n, err := rdb.Exists(ctx, k).Result()
					require.NoError(t, err)
					require.Zero(t, n, k)
				}
				s := c.Stats()
				require.EqualValues(t, len(ks), s.Sets)
				require.EqualValues(t, len(ks), s.Hits)
				require.Zero(t, s.Errors, f.String())
			}
		})

		t.Run(fmt.Sprintf("WrapAndStampede/hashtag=%v", keys.HashTag), func(t *testing.T) {
			t.Parallel()
			// Two clients stand for two processes; 100 callers of one cold key load it once.
			// The bounds are far above any delay a loaded machine adds: a round trip slower
			// than the Cache's bound makes a caller load without Redis (by design), which is
			// how this test once failed under load.
			first := newClient(t)
			polls := &getCounter{}
			first.AddHook(polls)
			opts := []Option{WithTimeout(30 * time.Second), WithLock(time.Minute, time.Minute)}
			caches := []*Cache{New(first, opts...), New(newClient(t), opts...)}
			tn := tenant()
			key := keys.PricingRules(tn)
			var calls atomic.Int32
			load := func(context.Context) ([]account, error) {
				calls.Add(1)
				time.Sleep(150 * time.Millisecond)
				return []account{{Code: "P1"}}, nil
			}
			const callers = 100
			var wg sync.WaitGroup
			errs := make(chan error, callers)
			start := make(chan struct{})
			for i := range callers {
				wg.Go(func() {
					<-start
					v, err := Wrap(ctx, caches[i%2], key, time.Minute, load)
					if err == nil && (len(v) != 1 || v[0].Code != "P1") {
						err = errors.New("wrong value")
					}
					errs <- err
				})
			}
			close(start)
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			require.EqualValues(t, 1, calls.Load(), "the loader ran once across both clients")
			rdb := newClient(t)
			n, err := rdb.Exists(ctx, lockKey(key)).Result()
			require.NoError(t, err)
			require.Zero(t, n, "the load lock is released")
			testenv.RequireSlots(t, rdb, []string{key, lockKey(key)}, 1)
			for _, c := range caches {
				require.Zero(t, c.Stats().Errors)
			}

			// A lock held by another process: Wrap waits for its value instead of loading. The
			// other process stores its value once Wrap has polled for it (its third GET: the
			// first look, the leader's second look, then a poll).
			other := keys.Kits(tn)
			require.NoError(t, rdb.Set(ctx, lockKey(other), "someone", time.Minute).Err())
			polling := polls.after(other, 3)
			stored := make(chan error, 1)
			go func() {
				<-polling
				stored <- rdb.Set(ctx, other, `["theirs"]`, time.Minute).Err()
			}()
			v, err := Wrap(ctx, caches[0], other, time.Minute, func(context.Context) ([]string, error) { return []string{"mine"}, nil })
			require.NoError(t, err)
			require.NoError(t, <-stored)
			require.Equal(t, []string{"theirs"}, v)
		})

	}

	t.Run("L1Coherence", func(t *testing.T) {
		t.Parallel()
		ch := "cwtest:" + strings.ToLower(rand.Text()[:8]) + ":inval"
		a := New(newClient(t), WithL1(L1Options{Channel: ch, TTL: time.Minute}))
		b := New(newClient(t), WithL1(L1Options{Channel: ch, TTL: time.Minute}))
		t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
		tn := tenant()
		keys := []string{Keys{}.Kits(tn), Keys{}.ChartOfAccounts(tn), Keys{}.CurrentPeriod(tn)}
		for _, k := range keys {
			require.NoError(t, Set(ctx, a, k, "v1", time.Minute))
			require.Eventually(t, func() bool {
				v, _, _ := Get[string](ctx, b, k)
				return v == "v1"
			}, 2*time.Second, 5*time.Millisecond)
		}
		for _, k := range keys {
			require.NoError(t, Set(ctx, a, k, "v2", time.Minute))
		}
		for _, k := range keys {
			require.Eventually(t, func() bool {
				v, _, _ := Get[string](ctx, b, k)
				return v == "v2"
			}, 2*time.Second, 5*time.Millisecond, "a write on any node invalidates the other process's L1: %s", k)
		}
		require.NoError(t, a.Delete(ctx, keys...))
		for _, k := range keys {
			require.Eventually(t, func() bool {
				_, ok, _ := Get[string](ctx, b, k)
				return !ok
			}, 2*time.Second, 5*time.Millisecond)
		}
	})
}

// ClusterMasters mirrors testenv.ClusterMasters for readability.
const ClusterMasters = testenv.ClusterMasters

// getCounter is a go-redis hook that closes a channel once a client has sent n GETs of a key.
type getCounter struct {
	mu    sync.Mutex
	key   string
	left  int
	ready chan struct{}
}

// after returns a channel closed once n GETs of key have been sent from now on.
func (g *getCounter) after(key string, n int) <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.key, g.left, g.ready = key, n, make(chan struct{})
	return g.ready
}

func (g *getCounter) seen(cmd redis.Cmder) {
	args := cmd.Args()
	if len(args) != 2 || cmd.Name() != "get" {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ready == nil || args[1] != g.key || g.left <= 0 {
		return
	}
	if g.left--; g.left == 0 {
		close(g.ready)
	}
}

func (g *getCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (g *getCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		g.seen(cmd)
		return next(ctx, cmd)
	}
}

func (g *getCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			g.seen(c)
		}
		return next(ctx, cmds)
	}
}
