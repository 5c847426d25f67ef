package rediswrite

import (
	"context"
	"math"
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

// writePaths are the two ways a single-server Writer writes a chunk under the guard: the
// compare-and-set script (small chunks) and a WATCH/MULTI transaction (large ones). Each
// forces its path for every chunk.
var writePaths = map[string]func(*Writer){
	"script": func(w *Writer) { w.watchMinBytes = math.MaxInt },
	"watch":  func(w *Writer) { w.watchMinBytes = 0 },
}

func TestWriterStaleOverwriteGuard(t *testing.T) {
	t.Parallel()
	for name, path := range writePaths {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testStaleOverwriteGuard(t, path)
		})
	}
}

func testStaleOverwriteGuard(t *testing.T, path func(*Writer)) {
	rdb, _ := testenv.NewRedis(t)
	ctx := context.Background()
	w := New(rdb, cache.FormatJSON, cache.Keys{}, cache.DefaultInvalidationChannel)
	path(w)
	tn := cache.MustTenant("t1")

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
	for name, path := range writePaths {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rdb, _ := testenv.NewRedis(t)
			ctx := context.Background()
			require.NoError(t, rdb.ScriptFlush(ctx).Err()) // the first flush must load the scripts itself
			w := New(rdb, cache.FormatJSON, cache.Keys{}, cache.DefaultInvalidationChannel)
			path(w)
			tn := cache.MustTenant("t1")
			b := w.NewBatch(tn, "vendors", 1, time.Minute)
			const n = 2500 // more than one pipeline and many script calls
			for i := range n {
				require.NoError(t, b.Add(ctx, cache.Keys{}.Join("sales:vendor", tn, "vendorId:"+strconv.Itoa(i)), []byte(`{"id":"`+strconv.Itoa(i)+`"}`)))
			}
			require.NoError(t, b.Flush(ctx))
			require.Equal(t, n, b.Stats().Keys)
			got, err := rdb.Get(ctx, "sales:vendor:t1:vendorId:2499").Result()
			require.NoError(t, err)
			require.Equal(t, `{"id":"2499"}`, got)
			require.EqualValues(t, n, rdb.SCard(ctx, IndexKey(tn, "vendors")).Val())
			require.Equal(t, "1", rdb.Get(ctx, DatasetVersionKey(tn, "vendors")).Val())
			ttl := rdb.PTTL(ctx, DatasetVersionKey(tn, "vendors")).Val()
			require.InDelta(t, time.Minute.Milliseconds(), ttl.Milliseconds(), 5000, "the version key lives as long as its values")
		})
	}
}

// TestWriterWatchRetry changes the version key between a transaction's read of it and its
// write, as another writer of the same dataset would: the transaction fails and is tried
// again, and then writes only if the version now stored is not newer than its own.
func TestWriterWatchRetry(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name          string
		other         int64 // the version the other writer stores
		wantKeys      int
		wantStored    string
		wantValue     string
		wantTxAttempt int64
	}{
		{name: "older writer in between", other: 5, wantKeys: 1, wantStored: "10", wantValue: `["v10"]`, wantTxAttempt: 2},
		{name: "newer writer in between", other: 20, wantKeys: 0, wantStored: "20", wantValue: `["v1"]`, wantTxAttempt: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rdb, _ := testenv.NewRedis(t)
			ctx := context.Background()
			tn := cache.MustTenant("t1")
			verKey := DatasetVersionKey(tn, "chart_of_accounts")
			require.NoError(t, rdb.Set(ctx, "finance:coa:t1", `["v1"]`, time.Minute).Err())
			other := redis.NewClient(rdb.Options())
			t.Cleanup(func() { _ = other.Close() })
			hook := &beforeMulti{do: func() {
				require.NoError(t, other.Set(ctx, verKey, tc.other, time.Minute).Err())
			}}
			rdb.AddHook(hook)
			w := New(rdb, cache.FormatJSON, cache.Keys{}, cache.DefaultInvalidationChannel)
			writePaths["watch"](w)
			b := w.NewBatch(tn, "chart_of_accounts", 10, time.Minute)
			require.NoError(t, b.Add(ctx, "finance:coa:t1", []byte(`["v10"]`)))
			require.NoError(t, b.Flush(ctx))
			require.Equal(t, tc.wantKeys, b.Stats().Keys)
			require.Equal(t, 1-tc.wantKeys, b.Stats().Skipped)
			require.Equal(t, tc.wantStored, rdb.Get(ctx, verKey).Val())
			require.Equal(t, tc.wantValue, rdb.Get(ctx, "finance:coa:t1").Val())
			require.Equal(t, tc.wantTxAttempt, hook.n.Load(), "transactions sent")
			require.Equal(t, []string{"finance:coa:t1"}, rdb.SMembers(ctx, IndexKey(tn, "chart_of_accounts")).Val())
		})
	}
}

// beforeMulti runs do once, just before the first MULTI/EXEC pipeline a client sends, and
// counts those pipelines.
type beforeMulti struct {
	do func()
	n  atomic.Int64
}

func (h *beforeMulti) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *beforeMulti) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (h *beforeMulti) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && cmds[0].Name() == "multi" {
			if h.n.Add(1) == 1 {
				h.do()
			}
		}
		return next(ctx, cmds)
	}
}

// A batch gives back every chunk it took, buffer grown and all, so batches written one after
// another reuse one chunk instead of growing new buffers.
func TestWriterReusesChunks(t *testing.T) {
	t.Parallel()
	rdb, _ := testenv.NewRedis(t)
	ctx := context.Background()
	w := New(rdb, cache.FormatJSON, cache.Keys{}, cache.DefaultInvalidationChannel)
	w.perFlush = 4
	for i := range 3 {
		b := w.NewBatch(cache.MustTenant("t1"), "reuse", int64(i+1), time.Minute)
		for k := range 10 { // three chunks: two full ones and the rest
			require.NoError(t, b.Add(ctx, "reuse:t1:"+strconv.Itoa(k), []byte(`{"n":`+strconv.Itoa(k)+`}`)))
		}
		require.NoError(t, b.Flush(ctx))
		require.Equal(t, 10, b.Stats().Keys)
		require.Len(t, w.chunks, 2, "batch %d: the filling chunk and the one in flight, both back", i)
	}
	c := <-w.chunks
	require.NotZero(t, cap(c.buf), "a chunk comes back with its buffer")
	require.Empty(t, c.keys)
}

func TestVersionKeysShareSlots(t *testing.T) {
	t.Parallel()
	for _, k := range []string{"finance:coa:t1", "finance:coa:{t1}", "sales:vendor:{t1}:vendorId:3"} {
		require.Equal(t, hashSlotTag(k), hashSlotTag(VersionKey(k)), k)
	}
	tn := cache.MustTenant("t1")
	tagged := cache.Keys{HashTag: true}.Join("finance:coa", tn, "")
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
	tn := cache.MustTenant("t001")
	b.ReportAllocs()
	for b.Loop() {
		_ = cache.Keys{}.Join("sales:vendor", tn, "vendorId:12345")
	}
}

// BenchmarkEncodeJSON encodes a row in the default format (a copy into the batch buffer).
func BenchmarkEncodeJSON(b *testing.B) {
	raw := []byte(`{"id":"1","tenantId":"t001","code":"V00001","name":"Harbor Electronics AG","creditLimit":"456932.27","createdAt":"2021-04-01T20:58:22.448Z"}`)
	buf := make([]byte, 0, 4096)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = Encode(cache.FormatJSON, buf[:0], raw, time.Time{})
	}
}

// BenchmarkWriterBatch writes 700-byte values through the versioned, pipelined writer:
// ns/op is the cost of one key.
func BenchmarkWriterBatch(b *testing.B) {
	for _, name := range []string{"script", "watch"} {
		b.Run(name, func(b *testing.B) { benchmarkWriterBatch(b, writePaths[name]) })
	}
}

func benchmarkWriterBatch(b *testing.B, path func(*Writer)) {
	rdb, _ := testenv.NewRedis(b)
	ctx := context.Background()
	w := New(rdb, cache.FormatJSON, cache.Keys{}, cache.DefaultInvalidationChannel)
	path(w)
	tn := cache.MustTenant("t1")
	val := []byte(`{"v":"` + strings.Repeat("x", 700) + `"}`)
	keys := make([]string, 10000)
	for i := range keys {
		keys[i] = cache.Keys{}.Join("sales:vendor", tn, "vendorId:"+strconv.Itoa(i))
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

func TestEncodeDecodeByFormat(t *testing.T) {
	t.Parallel()
	raw := []byte(`{"a":":b"}`)
	got, err := Encode(cache.FormatJSON, []byte("x"), raw, time.Now())
	require.NoError(t, err)
	require.Equal(t, `x{"a":":b"}`, string(got), "JSON values are stored as they are")
	dec, err := Decode(cache.FormatJSON, raw)
	require.NoError(t, err)
	require.Equal(t, raw, dec)
	stored, err := Encode(cache.FormatKeyv, nil, raw, time.UnixMilli(1<<50))
	require.NoError(t, err)
	require.Equal(t, `{"value":{"a":"::b"},"expires":1125899906842624}`, string(stored))
	dec, err = Decode(cache.FormatKeyv, stored)
	require.NoError(t, err)
	require.Equal(t, string(raw), string(dec))
}
