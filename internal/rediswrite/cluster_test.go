package rediswrite

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/testenv"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// TestWriterCluster writes, guards and invalidates on a real 3-master Redis Cluster: every
// script's keys must share a slot, and pipelines must reach keys on every node.
func TestWriterCluster(t *testing.T) {
	t.Parallel()
	cl := testenv.NewCluster(t)
	newClient := func(t *testing.T) *redis.ClusterClient { return testenv.NewClusterClient(t, cl) }
	tenant := func() cache.Tenant { return cache.MustTenant("cl" + strings.ToLower(rand.Text()[:10])) }
	ctx := context.Background()
	// No script cached anywhere: the first flush must load it on every master. Flushed once,
	// here: a flush in each parallel subtest could land between another's load and its retry.
	require.NoError(t, newClient(t).ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		return n.ScriptFlush(ctx).Err()
	}))
	for _, keys := range []cache.Keys{{}, {HashTag: true}} {
		t.Run(fmt.Sprintf("hashtag=%v", keys.HashTag), func(t *testing.T) {
			t.Parallel()
			rdb := newClient(t)
			w := New(rdb, cache.FormatJSON, keys, cache.DefaultInvalidationChannel)
			tn, neighbour := tenant(), tenant()
			write := func(tn cache.Tenant, version int64, n int, value string) WriteStats {
				t.Helper()
				b := w.NewBatch(tn, "vendors", version, time.Minute)
				for i := range n {
					require.NoError(t, b.Add(ctx, keys.Vendor(tn, int64(i)), []byte(value)))
				}
				require.NoError(t, b.Flush(ctx))
				return b.Stats()
			}
			const n = 1500 // more than one pipeline
			require.Equal(t, n, write(tn, 10, n, `"v10"`).Keys)
			require.Equal(t, 3, write(neighbour, 10, 3, `"n"`).Keys)
			st := write(tn, 5, n, `"v5"`)
			require.Equal(t, 0, st.Keys)
			require.Equal(t, n, st.Skipped, "older data must not overwrite newer, on any node")
			require.Equal(t, n, write(tn, 11, n, `"v11"`).Keys)
			got, err := rdb.Get(ctx, keys.Vendor(tn, n-1)).Result()
			require.NoError(t, err)
			require.Equal(t, `"v11"`, got)

			all := make([]string, n)
			for i := range n {
				all[i] = keys.Vendor(tn, int64(i))
			}
			if keys.HashTag {
				requireSlots(t, rdb, append(all, DatasetVersionKey(tn, "vendors"), IndexKey(tn, "vendors")), 1)
			} else {
				requireSlots(t, rdb, all, testenv.ClusterMasters)
			}
			for _, k := range all[:20] {
				requireSlots(t, rdb, []string{k, VersionKey(k)}, 1)
			}

			deleted, err := w.Invalidate(ctx, tn, []string{"vendors"})
			require.NoError(t, err)
			require.Equal(t, n, deleted)
			var left []string
			for _, k := range scanCluster(t, rdb, "*"+tn.String()+"*") {
				if !strings.HasSuffix(k, ":ver") && !strings.HasPrefix(k, "cachewarm:ver:") {
					left = append(left, k) // version keys stay until they expire
				}
			}
			require.Empty(t, left, "data keys and the index are gone")
			require.NotEmpty(t, scanCluster(t, rdb, "*"+neighbour.String()+"*"), "the other tenant is untouched")
			for i := range 3 {
				require.EqualValues(t, 1, rdb.Exists(ctx, keys.Vendor(neighbour, int64(i))).Val())
			}
		})
	}
}

// requireSlots checks that keys share one cluster slot (want 1) or live on at least want
// distinct nodes.
func requireSlots(t *testing.T, rdb *redis.ClusterClient, keys []string, want int) {
	t.Helper()
	ctx := context.Background()
	slots := map[int64]bool{}
	for _, k := range keys {
		s, err := rdb.ClusterKeySlot(ctx, k).Result()
		require.NoError(t, err)
		slots[s] = true
	}
	if want == 1 {
		require.Len(t, slots, 1, "keys share one slot: %v", keys[:min(len(keys), 5)])
		return
	}
	shards, err := rdb.ClusterShards(ctx).Result()
	require.NoError(t, err)
	nodes := map[int]bool{} // shard index: one master each
	for s := range slots {
		for i, sh := range shards {
			for _, r := range sh.Slots {
				if s >= r.Start && s <= r.End {
					nodes[i] = true
				}
			}
		}
	}
	require.GreaterOrEqual(t, len(nodes), want, "keys spread over %d nodes", want)
}

// scanCluster returns the keys matching pattern on every master, sorted.
func scanCluster(t *testing.T, rdb *redis.ClusterClient, pattern string) []string {
	t.Helper()
	var mu sync.Mutex
	var out []string
	require.NoError(t, rdb.ForEachMaster(context.Background(), func(ctx context.Context, n *redis.Client) error {
		iter := n.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			mu.Lock()
			out = append(out, iter.Val())
			mu.Unlock()
		}
		return iter.Err()
	}))
	slices.Sort(out)
	return out
}
