package cache

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/internal/testenv"
	"github.com/stretchr/testify/require"
)

func TestWriterStaleOverwriteGuard(t *testing.T) {
	t.Parallel()
	rdb, _ := testenv.NewRedis(t)
	ctx := context.Background()
	w := NewWriter(rdb, FormatJSON, Keys{})
	tn := MustTenant("t1")

	write := func(version int64, value string) WriteStats {
		t.Helper()
		b := w.NewBatch(tn, "chart_of_accounts", version, time.Minute)
		require.NoError(t, b.Add(ctx, "finance:coa:t1", []byte(value)))
		require.NoError(t, b.Flush(ctx))
		return b.Stats()
	}

	require.Equal(t, 1, write(10, `["v10"]`).Keys)
	require.Equal(t, 1, write(10, `["v10 again"]`).Keys, "the same version rewrites (refresh-ahead renews the TTL)")
	st := write(5, `["v5"]`)
	require.Equal(t, 0, st.Keys)
	require.Equal(t, 1, st.Skipped, "older data must not overwrite newer")
	got, err := rdb.Get(ctx, "finance:coa:t1").Result()
	require.NoError(t, err)
	require.Equal(t, `["v10 again"]`, got)

	require.NoError(t, rdb.Del(ctx, DatasetVersionKey(tn, "chart_of_accounts")).Err())
	require.Equal(t, 1, write(5, `["v5"]`).Keys, "a lost version key must not wedge the data key")

	ttl, err := rdb.PTTL(ctx, "finance:coa:t1").Result()
	require.NoError(t, err)
	require.InDelta(t, time.Minute.Milliseconds(), ttl.Milliseconds(), 5000)
	members, err := rdb.SMembers(ctx, IndexKey(tn, "chart_of_accounts")).Result()
	require.NoError(t, err)
	require.Equal(t, []string{"finance:coa:t1"}, members)

	n, err := w.Invalidate(ctx, tn, []string{"chart_of_accounts"})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Zero(t, rdb.Exists(ctx, "finance:coa:t1", IndexKey(tn, "chart_of_accounts")).Val())
}

func TestWriterBatchesAndScriptReload(t *testing.T) {
	t.Parallel()
	rdb, _ := testenv.NewRedis(t)
	ctx := context.Background()
	require.NoError(t, rdb.ScriptFlush(ctx).Err()) // the first flush must load the scripts itself
	w := NewWriter(rdb, FormatJSON, Keys{})
	tn := MustTenant("t1")
	b := w.NewBatch(tn, "vendors", 1, time.Minute)
	const n = 2500 // more than one pipeline and many script calls
	for i := range n {
		require.NoError(t, b.Add(ctx, Keys{}.Join("sales:vendor", tn, "vendorId:"+strconv.Itoa(i)), []byte(`{"id":"`+strconv.Itoa(i)+`"}`)))
	}
	require.NoError(t, b.Flush(ctx))
	require.Equal(t, n, b.Stats().Keys)
	got, err := rdb.Get(ctx, "sales:vendor:t1:vendorId:2499").Result()
	require.NoError(t, err)
	require.Equal(t, `{"id":"2499"}`, got)
	require.EqualValues(t, n, rdb.SCard(ctx, IndexKey(tn, "vendors")).Val())
}

func TestVersionKeysShareSlots(t *testing.T) {
	t.Parallel()
	for _, k := range []string{"finance:coa:t1", "finance:coa:{t1}", "sales:vendor:{t1}:vendorId:3"} {
		require.Equal(t, hashSlotTag(k), hashSlotTag(VersionKey(k)), k)
	}
	tn := MustTenant("t1")
	tagged := Keys{HashTag: true}.Join("finance:coa", tn, "")
	require.Equal(t, hashSlotTag(tagged), hashSlotTag(DatasetVersionKey(tn, "chart_of_accounts")))
	require.Equal(t, hashSlotTag(tagged), hashSlotTag(IndexKey(tn, "chart_of_accounts")))
}

// hashSlotTag returns the part of key Redis Cluster hashes.
func hashSlotTag(key string) string {
	for i := 0; i < len(key); i++ {
		if key[i] == '{' {
			for j := i + 1; j < len(key); j++ {
				if key[j] == '}' {
					if j > i+1 {
						return key[i+1 : j]
					}
					return key
				}
			}
			return key
		}
	}
	return key
}
