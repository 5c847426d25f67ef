package cache

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/internal/testenv"
	"github.com/redis/go-redis/v9"
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

// BenchmarkKeysJoin builds a key from its prefix, tenant and suffix (the worker's per-row key).
func BenchmarkKeysJoin(b *testing.B) {
	tn := MustTenant("t001")
	b.ReportAllocs()
	for b.Loop() {
		_ = Keys{}.Join("sales:vendor", tn, "vendorId:12345")
	}
}

// BenchmarkEncodeJSON encodes a row in the default format (a copy into the batch buffer).
func BenchmarkEncodeJSON(b *testing.B) {
	raw := []byte(`{"id":"1","tenantId":"t001","code":"V00001","name":"Harbor Electronics AG","creditLimit":"456932.27","createdAt":"2021-04-01T20:58:22.448Z"}`)
	buf := make([]byte, 0, 4096)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = FormatJSON.Encode(buf[:0], raw, time.Time{})
	}
}

// BenchmarkWriterBatch writes 700-byte values through the versioned, pipelined writer:
// ns/op is the cost of one key.
func BenchmarkWriterBatch(b *testing.B) {
	rdb, _ := testenv.NewRedis(b)
	ctx := context.Background()
	w := NewWriter(rdb, FormatJSON, Keys{})
	tn := MustTenant("t1")
	val := []byte(`{"v":"` + strings.Repeat("x", 700) + `"}`)
	keys := make([]string, 10000)
	for i := range keys {
		keys[i] = Keys{}.Join("sales:vendor", tn, "vendorId:"+strconv.Itoa(i))
	}
	b.SetBytes(int64(len(val)))
	b.ResetTimer()
	cpu := redisCPU(ctx, b, rdb)
	batch := w.NewBatch(tn, "vendors", 1, time.Hour)
	i := 0
	for b.Loop() {
		if err := batch.Add(ctx, keys[i%len(keys)], val); err != nil {
			b.Fatal(err)
		}
		i++
	}
	if err := batch.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	reportRedisCPU(ctx, b, rdb, cpu)
}

// redisCPU is the CPU time the Redis server has used so far (INFO cpu, all its threads).
func redisCPU(ctx context.Context, b *testing.B, rdb *redis.Client) time.Duration {
	info, err := rdb.Info(ctx, "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for line := range strings.SplitSeq(info, "\r\n") {
		for _, f := range []string{"used_cpu_sys:", "used_cpu_user:"} {
			if v, ok := strings.CutPrefix(line, f); ok {
				s, err := strconv.ParseFloat(v, 64)
				if err != nil {
					b.Fatal(err)
				}
				total += s
			}
		}
	}
	return time.Duration(total * float64(time.Second))
}

// reportRedisCPU reports the Redis server's CPU time per key since since (a benchmark op is one
// key), the part of a write that happens on the server and that ns/op does not show.
func reportRedisCPU(ctx context.Context, b *testing.B, rdb *redis.Client, since time.Duration) {
	b.ReportMetric(float64(redisCPU(ctx, b, rdb)-since)/float64(time.Microsecond)/float64(b.N), "redis-us/key")
}

// BenchmarkRawPipelinedSet is BenchmarkWriterBatch's bound: plain pipelined SET PX of the same
// values, 1,024 per pipeline, with no guard and no index.
func BenchmarkRawPipelinedSet(b *testing.B) {
	rdb, _ := testenv.NewRedis(b)
	ctx := context.Background()
	val := []byte(`{"v":"` + strings.Repeat("x", 700) + `"}`)
	b.SetBytes(int64(len(val)))
	cpu := redisCPU(ctx, b, rdb)
	pipe := rdb.Pipeline()
	i := 0
	for b.Loop() {
		pipe.Set(ctx, "sales:vendor:t1:vendorId:"+strconv.Itoa(i%10000), val, time.Hour)
		if i++; i%1024 == 0 {
			if _, err := pipe.Exec(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		b.Fatal(err)
	}
	reportRedisCPU(ctx, b, rdb, cpu)
}
