package demand_test

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/demand"
	"github.com/cachewarm/cachewarm/internal/fixture"
	"github.com/cachewarm/cachewarm/internal/testenv"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// TestSampleCost samples 20 tenants whose critical keys are warm, under an LRU and an LFU
// policy, and counts the commands Redis saw (INFO commandstats): one INFO, then 4 commands a
// tenant under LRU (OBJECT IDLETIME and PTTL of two keys) or 2 under LFU (OBJECT FREQ), in
// one pipeline. None of them touches a key.
func TestSampleCost(t *testing.T) {
	ctx := context.Background()
	const n = 20
	env := fixture.New(t, n)
	cat, err := catalog.Default()
	require.NoError(t, err)
	for _, policy := range []string{"allkeys-lru", "allkeys-lfu"} {
		srv := testenv.NewRedisServer(t, "--maxmemory", "64mb", "--maxmemory-policy", policy)
		rdb := srv.Client("")
		keys := cache.Keys{}
		for i := 1; i <= n; i++ {
			tn := cache.MustTenant("t" + pad(i))
			require.NoError(t, rdb.Set(ctx, keys.ChartOfAccounts(tn), "[]", cache.TTLStatic).Err())
			require.NoError(t, rdb.Set(ctx, keys.PipelineStages(tn), "[]", cache.TTLStatic).Err())
		}
		require.NoError(t, rdb.ConfigResetStat(ctx).Err())
		s := demand.New(env.Pool, rdb, keys, cat, time.Minute, slog.New(slog.DiscardHandler))
		began := time.Now()
		_, err := s.Sample(ctx)
		require.NoError(t, err)
		took := time.Since(began)
		calls := commandCalls(t, rdb)
		lfu := strings.HasSuffix(policy, "lfu")
		probes := calls["object|idletime"] + calls["object|freq"] + calls["pttl"]
		t.Logf("%s: one sample of %d tenants: %d probe commands + %d INFO, in %s (database read and upsert included)", policy, n, probes, calls["info"], took)
		want := 4 // OBJECT IDLETIME and PTTL of two keys
		if lfu {
			want = 2 // OBJECT FREQ of two keys
		}
		require.Equal(t, want, s.CommandsPerTenant(lfu))
		require.Equal(t, n*want, probes)
		require.Equal(t, 1, calls["info"])
		require.Zero(t, calls["get"]+calls["set"], "no key touched")
	}
}

func pad(i int) string { return strings.Repeat("0", 3-len(strconv.Itoa(i))) + strconv.Itoa(i) }

// commandCalls reads INFO commandstats: calls by command name.
func commandCalls(t *testing.T, rdb *redis.Client) map[string]int {
	t.Helper()
	text, err := rdb.Info(context.Background(), "commandstats").Result()
	require.NoError(t, err)
	out := map[string]int{}
	for _, line := range strings.Split(text, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		for _, f := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(f, "calls="); ok {
				out[strings.TrimPrefix(name, "cmdstat_")], _ = strconv.Atoi(v)
			}
		}
	}
	return out
}
