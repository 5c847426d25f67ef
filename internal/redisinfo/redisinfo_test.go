package redisinfo_test

import (
	"context"
	"testing"

	"github.com/cachewarm/cachewarm/internal/redisinfo"
	"github.com/cachewarm/cachewarm/internal/testenv"
	"github.com/stretchr/testify/require"
)

func TestReadPrivateServer(t *testing.T) {
	srv := testenv.NewRedisServer(t, "--maxmemory", "20mb", "--maxmemory-policy", "allkeys-lfu")
	rdb := srv.Client("")
	m, err := redisinfo.Read(context.Background(), rdb)
	require.NoError(t, err)
	require.Equal(t, int64(20<<20), m.MaxMemory)
	require.Equal(t, "allkeys-lfu", m.Policy)
	require.True(t, m.LFU())
	require.Positive(t, m.UsedMemory)
	require.Zero(t, m.EvictedKeys)
	require.Len(t, m.Nodes, 1)

	// The read counters: one hit and one miss.
	ctx := context.Background()
	require.NoError(t, rdb.Set(ctx, "k", "v", 0).Err())
	require.NoError(t, rdb.Get(ctx, "k").Err())
	require.Error(t, rdb.Get(ctx, "absent").Err())
	after, err := redisinfo.Read(ctx, rdb)
	require.NoError(t, err)
	require.Equal(t, m.KeyspaceHits+1, after.KeyspaceHits)
	require.Equal(t, m.KeyspaceMisses+1, after.KeyspaceMisses)
}

func TestReadCluster(t *testing.T) {
	c := testenv.NewCluster(t)
	m, err := redisinfo.Read(context.Background(), testenv.NewClusterClient(t, c))
	require.NoError(t, err)
	require.Len(t, m.Nodes, 3)
	require.Zero(t, m.MaxMemory, "no maxmemory: no limit")
	var used int64
	for _, n := range m.Nodes {
		used += n.UsedMemory
	}
	require.Equal(t, used, m.UsedMemory)
}

func TestParseMissing(t *testing.T) {
	_, err := redisinfo.Parse("# Memory\r\nused_memory:10\r\n")
	require.Error(t, err)
}
