package rediswrite

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
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
				testenv.RequireSlots(t, rdb, append(all, DatasetVersionKey(tn, "vendors"), IndexKey(tn, "vendors")), 1)
			} else {
				testenv.RequireSlots(t, rdb, all, testenv.ClusterMasters)
			}
			for _, k := range all[:20] {
				testenv.RequireSlots(t, rdb, []string{k, VersionKey(k)}, 1)
			}

			deleted, err := w.Invalidate(ctx, tn, []string{"vendors"})
			require.NoError(t, err)
			require.Equal(t, n, deleted)
			var left []string
			for _, k := range testenv.ScanCluster(t, rdb, "*"+tn.String()+"*") {
				if !strings.HasSuffix(k, ":ver") && !strings.HasPrefix(k, "cachewarm:ver:") {
					left = append(left, k) // version keys stay until they expire
				}
			}
			require.Empty(t, left, "data keys and the index are gone")
			require.NotEmpty(t, testenv.ScanCluster(t, rdb, "*"+neighbour.String()+"*"), "the other tenant is untouched")
			for i := range 3 {
				require.EqualValues(t, 1, rdb.Exists(ctx, keys.Vendor(neighbour, int64(i))).Val())
			}
		})
	}
}
