package testenv

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

func TestNewCluster(t *testing.T) {
	t.Parallel()
	c := NewCluster(t)
	require.Len(t, c.Addrs, ClusterMasters)
	rdb := NewClusterClient(t, c)
	ctx := context.Background()
	for i := range 100 {
		require.NoError(t, rdb.Set(ctx, fmt.Sprintf("k%d", i), i, 0).Err())
	}
	var masters, keys atomic.Int64
	require.NoError(t, rdb.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		masters.Add(1)
		size, err := n.DBSize(ctx).Result()
		require.Positive(t, size, "keys spread over every master")
		keys.Add(size)
		return err
	}))
	require.EqualValues(t, ClusterMasters, masters.Load())
	require.EqualValues(t, 100, keys.Load())

	require.NoError(t, c.Close())
	require.NoError(t, c.Close(), "Close is idempotent")
	for _, n := range c.nodes {
		select {
		case <-n.done:
		default:
			t.Fatalf("node %s still running after Close", n.addr)
		}
	}
}
