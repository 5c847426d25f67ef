package worker_test

import (
	"context"
	"testing"

	"github.com/cachewarm/cachewarm/internal/fixture"
	"github.com/cachewarm/cachewarm/internal/redisinfo"
	"github.com/cachewarm/cachewarm/internal/testenv"
	"github.com/stretchr/testify/require"
)

func TestCalib(t *testing.T) {
	env := fixture.New(t, 6)
	srv := testenv.NewRedisServer(t)
	cfg := env.Config(t, map[string]string{"REDIS_URL": srv.URL(), "CACHEWARM_COLD_CHECK": "off"})
	w := env.StartWorker(t, cfg, nil)
	rdb := srv.Client()
	n0, _ := redisinfo.ReadNode(context.Background(), rdb)
	startAll(t, env, w)
	n1, _ := redisinfo.ReadNode(context.Background(), rdb)
	rows, err := env.Pool.Query(context.Background(), `SELECT phase, sum(keys), sum(bytes) FROM cachewarm.phase_sizes GROUP BY phase`)
	require.NoError(t, err)
	var K, B int64
	for rows.Next() {
		var p string
		var k, b int64
		require.NoError(t, rows.Scan(&p, &k, &b))
		t.Logf("%s keys %d bytes %d", p, k, b)
		K += k
		B += b
	}
	dbs, _ := rdb.DBSize(context.Background()).Result()
	t.Logf("used before %d after %d startup %d delta %d; keys %d bytes %d dbsize %d => overhead/key %.0f",
		n0.UsedMemory, n1.UsedMemory, n1.UsedMemoryStartup, n1.UsedMemory-n0.UsedMemory, K, B, dbs, float64(n1.UsedMemory-n0.UsedMemory-B)/float64(K))
}
