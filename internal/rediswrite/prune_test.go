package rediswrite

import (
	"context"
	"crypto/rand"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/testenv"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// writeVendors writes the vendors ids of tn at version through w and returns their keys.
func writeVendors(t *testing.T, w *Writer, keys cache.Keys, tn cache.Tenant, version int64, ids ...int) []string {
	t.Helper()
	_, out := vendorBatch(t, w, keys, tn, version, ids...)
	return out
}

// vendorBatch is writeVendors returning the flushed batch too.
func vendorBatch(t *testing.T, w *Writer, keys cache.Keys, tn cache.Tenant, version int64, ids ...int) (*Batch, []string) {
	t.Helper()
	ctx := context.Background()
	b := w.NewBatch(tn, "vendors", version, time.Minute)
	var out []string
	for _, id := range ids {
		k := keys.Vendor(tn, int64(id))
		out = append(out, k)
		require.NoError(t, b.Add(ctx, k, []byte(`{"id":"`+strconv.Itoa(id)+`","v":`+strconv.FormatInt(version, 10)+`}`)))
	}
	require.NoError(t, b.Flush(ctx))
	return b, out
}

func only(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

func TestPrune(t *testing.T) {
	t.Parallel()
	rdb, _ := testenv.NewRedis(t)
	ctx := context.Background()
	w := New(rdb, cache.FormatJSON, cache.Keys{}, cache.DefaultInvalidationChannel)
	tn := cache.MustTenant("t1")
	ks := writeVendors(t, w, cache.Keys{}, tn, 10, 1, 2, 3)

	// Vendor 3 was deleted: the warm at version 11 wrote 1 and 2.
	writeVendors(t, w, cache.Keys{}, tn, 11, 1, 2)
	n, err := w.Prune(ctx, tn, "vendors", 11, time.Minute, only(ks[0], ks[1]))
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Zero(t, rdb.Exists(ctx, ks[2]).Val())
	require.ElementsMatch(t, ks[:2], rdb.SMembers(ctx, IndexKey(tn, "vendors")).Val())
	n, err = w.Prune(ctx, tn, "vendors", 11, time.Minute, only(ks[0], ks[1]))
	require.NoError(t, err)
	require.Zero(t, n, "nothing left to prune")

	// A newer warm (version 20) owns the dataset: an older warm's prune leaves its keys.
	writeVendors(t, w, cache.Keys{}, tn, 20, 1, 2)
	n, err = w.Prune(ctx, tn, "vendors", 12, time.Minute, only(ks[0]))
	require.NoError(t, err)
	require.Zero(t, n)
	require.EqualValues(t, 2, rdb.Exists(ctx, ks[0], ks[1]).Val())

	// Every row gone, and the version key lost too: the prune deletes, and records its version
	// so an older warm still in flight cannot write the keys back.
	require.NoError(t, rdb.Del(ctx, DatasetVersionKey(tn, "vendors")).Err())
	n, err = w.Prune(ctx, tn, "vendors", 30, time.Minute, only())
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.Zero(t, rdb.Exists(ctx, ks[0], ks[1], IndexKey(tn, "vendors")).Val())
	require.Equal(t, "30", rdb.Get(ctx, DatasetVersionKey(tn, "vendors")).Val())
	require.Positive(t, rdb.PTTL(ctx, DatasetVersionKey(tn, "vendors")).Val())
	b := w.NewBatch(tn, "vendors", 25, time.Minute)
	require.NoError(t, b.Add(ctx, ks[0], []byte(`{}`)))
	require.NoError(t, b.Flush(ctx))
	require.Equal(t, 1, b.Stats().Skipped)
	require.Zero(t, rdb.Exists(ctx, ks[0]).Val())

	// Many stale keys: more than one script call.
	ids := make([]int, 600)
	for i := range ids {
		ids[i] = 100 + i
	}
	many := writeVendors(t, w, cache.Keys{}, tn, 40, ids...)
	n, err = w.Prune(ctx, tn, "vendors", 40, time.Minute, only(many[:10]...))
	require.NoError(t, err)
	require.Equal(t, 590, n)
	require.EqualValues(t, 10, rdb.SCard(ctx, IndexKey(tn, "vendors")).Val())
}

// TestBatchPrune prunes with the index size the batch's last write read: stale keys go, and a
// warm that wrote every key prunes without asking Redis anything.
func TestBatchPrune(t *testing.T) {
	t.Parallel()
	rdb, _ := testenv.NewRedis(t)
	ctx := context.Background()
	w := New(rdb, cache.FormatJSON, cache.Keys{}, cache.DefaultInvalidationChannel)
	tn := cache.MustTenant("t1")
	ks := writeVendors(t, w, cache.Keys{}, tn, 10, 1, 2, 3)

	// Vendor 3 was deleted.
	b, _ := vendorBatch(t, w, cache.Keys{}, tn, 11, 1, 2)
	require.EqualValues(t, 3, b.indexSize, "the write read the index's size")
	n, err := b.Prune(ctx, only(ks[0], ks[1]))
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Zero(t, rdb.Exists(ctx, ks[2]).Val())

	// Nothing stale: no command reaches Redis.
	b, _ = vendorBatch(t, w, cache.Keys{}, tn, 12, 1, 2)
	var sent countHook
	rdb.AddHook(&sent)
	n, err = b.Prune(ctx, only(ks[0], ks[1]))
	require.NoError(t, err)
	require.Zero(t, n)
	require.Zero(t, sent.n.Load(), "commands sent by a prune with nothing stale")

	// A batch that wrote nothing still prunes, asking the index's size itself.
	b, _ = vendorBatch(t, w, cache.Keys{}, tn, 13)
	n, err = b.Prune(ctx, only())
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.Zero(t, rdb.Exists(ctx, ks[0], ks[1]).Val())
}

// countHook counts the commands a client sends.
type countHook struct{ n atomic.Int64 }

func (h *countHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h *countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

func TestPruneCluster(t *testing.T) {
	t.Parallel()
	cl := testenv.NewCluster(t)
	ctx := context.Background()
	for _, keys := range []cache.Keys{{}, {HashTag: true}} {
		t.Run("hashtag="+strconv.FormatBool(keys.HashTag), func(t *testing.T) {
			t.Parallel()
			rdb := testenv.NewClusterClient(t, cl)
			w := New(rdb, cache.FormatJSON, keys, cache.DefaultInvalidationChannel)
			require.Equal(t, !keys.HashTag, w.perKey)
			tn := cache.MustTenant("pr" + strings.ToLower(rand.Text()[:10]))
			ks := writeVendors(t, w, keys, tn, 10, 1, 2, 3, 4, 5, 6)
			requireKeysOnNodes(t, rdb, ks, keys.HashTag)

			n, err := w.Prune(ctx, tn, "vendors", 11, time.Minute, only(ks[0], ks[1]))
			require.NoError(t, err)
			require.Equal(t, 4, n)
			for _, k := range ks[2:] {
				require.Zero(t, rdb.Exists(ctx, k).Val(), k)
			}
			require.EqualValues(t, 1, rdb.Exists(ctx, ks[0]).Val())

			// The pruned keys cannot be written back by an older warm.
			b := w.NewBatch(tn, "vendors", 10, time.Minute)
			require.NoError(t, b.Add(ctx, ks[2], []byte(`{}`)))
			require.NoError(t, b.Flush(ctx))
			require.Equal(t, 1, b.Stats().Skipped)
			require.Zero(t, rdb.Exists(ctx, ks[2]).Val())

			// Invalidation still finds every key written.
			writeVendors(t, w, keys, tn, 12, 1, 2, 7)
			d, err := w.Invalidate(ctx, tn, []string{"vendors"})
			require.NoError(t, err)
			require.Equal(t, 3, d)
		})
	}
}

// requireKeysOnNodes checks that plain keys spread over several cluster nodes (so pruning
// reaches every node) and hash-tagged keys share one.
func requireKeysOnNodes(t *testing.T, rdb *redis.ClusterClient, ks []string, oneNode bool) {
	t.Helper()
	slots := map[int64]bool{}
	for _, k := range ks {
		slots[rdb.ClusterKeySlot(context.Background(), k).Val()] = true
	}
	if oneNode {
		require.Len(t, slots, 1)
	} else {
		require.Greater(t, len(slots), 1)
	}
}
