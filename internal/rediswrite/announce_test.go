package rediswrite

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/testenv"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// TestWriterKeepsL1Coherent: a Cache with L1 on, reading keys the Writer writes, sees every
// write, prune and invalidation at once (long before its L1 TTL of an hour), on a single Redis
// through both write paths and on a cluster with plain and hash-tagged keys.
func TestWriterKeepsL1Coherent(t *testing.T) {
	t.Parallel()
	for name, path := range writePaths {
		t.Run("single/"+name, func(t *testing.T) {
			t.Parallel()
			rdb, _ := testenv.NewRedis(t)
			testWriterKeepsL1Coherent(t, rdb, rdb, cache.Keys{}, path)
		})
	}
	cl := testenv.NewCluster(t)
	for _, keys := range []cache.Keys{{}, {HashTag: true}} {
		name := "cluster/plain"
		if keys.HashTag {
			name = "cluster/hashtag"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// Writer and reader on clients of their own, as the worker and an application.
			testWriterKeepsL1Coherent(t, testenv.NewClusterClient(t, cl), testenv.NewClusterClient(t, cl), keys, func(*Writer) {})
		})
	}
}

func testWriterKeepsL1Coherent(t *testing.T, writerRDB, readerRDB redis.UniversalClient, keys cache.Keys, path func(*Writer)) {
	ctx := context.Background()
	id := strings.ToLower(rand.Text()[:10])
	ch := "cwtest:" + id + ":inval" // the test's own channel: parallel tests publish too
	w := New(writerRDB, cache.FormatJSON, keys, ch)
	path(w)
	c := cache.New(readerRDB, cache.WithL1(cache.L1Options{Channel: ch, TTL: time.Hour}))
	t.Cleanup(func() { _ = c.Close() })
	tn := cache.MustTenant("l1" + id)

	// read fills L1 with Wrap (a loader call would mean the key is missing).
	read := func(key string) (string, error) {
		v, err := cache.Wrap(ctx, c, key, time.Minute, func(context.Context) (map[string]string, error) {
			return map[string]string{"v": "loaded"}, nil
		})
		return v["v"], err
	}
	requireSees := func(key, want, why string) {
		t.Helper()
		require.Eventually(t, func() bool {
			got, err := read(key)
			return err == nil && got == want
		}, 5*time.Second, 2*time.Millisecond, why)
	}
	write := func(version int64, vals map[string]string) {
		t.Helper()
		b := w.NewBatch(tn, "vendors", version, time.Minute)
		for k, v := range vals {
			require.NoError(t, b.Add(ctx, k, []byte(`{"v":"`+v+`"}`)))
		}
		require.NoError(t, b.Flush(ctx))
	}
	k1, k2 := keys.Vendor(tn, 1), keys.Vendor(tn, 2)
	write(10, map[string]string{k1: "a1", k2: "b1"})
	// Served from L1 (the write's own message may arrive after a first read and drop it once).
	inL1 := func(key, want string) {
		t.Helper()
		require.Eventually(t, func() bool {
			hits := c.Stats().L1Hits
			got, err := read(key)
			return err == nil && got == want && c.Stats().L1Hits > hits
		}, 5*time.Second, 2*time.Millisecond, "%s is served from L1", key)
	}
	inL1(k1, "a1")
	inL1(k2, "b1")

	write(11, map[string]string{k1: "a2", k2: "b2"})
	requireSees(k1, "a2", "a warm's write reaches the L1 tier")
	requireSees(k2, "b2", "a warm's write reaches the L1 tier")
	inL1(k2, "b2")

	n, err := w.Prune(ctx, tn, "vendors", 12, time.Minute, map[string]bool{k1: true})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	requireSees(k2, "loaded", "a pruned key is dropped from L1")
	require.NoError(t, c.Delete(ctx, k2))

	inL1(k1, "a2")
	d, err := w.Invalidate(ctx, tn, []string{"vendors"})
	require.NoError(t, err)
	require.Equal(t, 1, d)
	requireSees(k1, "loaded", "an invalidated key is dropped from L1")
	require.NoError(t, c.Delete(ctx, k1))
}
