package config

import (
	"crypto/tls"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

func TestClusterAddrs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, addrs      string
		wantAddrs        []string
		wantUser, wantPW string
		wantTLS          bool
	}{
		{"host:port list", " 10.0.0.1:7000, 10.0.0.2:7000 ,", []string{"10.0.0.1:7000", "10.0.0.2:7000"}, "", "", false},
		{"redis:// URLs", "redis://app:s3cret@10.0.0.1:7000,redis://app:s3cret@10.0.0.2:7001", []string{"10.0.0.1:7000", "10.0.0.2:7001"}, "app", "s3cret", false},
		{"one URL, then host:port", "rediss://:s3cret@redis-0.internal:6380,redis-1.internal:6380", []string{"redis-0.internal:6380", "redis-1.internal:6380"}, "", "s3cret", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(env(map[string]string{"REDIS_CLUSTER_ADDRS": tt.addrs}))
			require.NoError(t, err)
			require.Equal(t, tt.wantAddrs, c.Redis.ClusterAddrs)
			require.NotContains(t, c.Redis.String(), "s3cret")
			rdb, err := c.Redis.NewRedis()
			require.NoError(t, err)
			defer rdb.Close()
			cc, ok := rdb.(*redis.ClusterClient)
			require.True(t, ok, "a cluster client, got %T", rdb)
			o := cc.Options()
			require.Equal(t, tt.wantAddrs, o.Addrs)
			require.Equal(t, tt.wantUser, o.Username)
			require.Equal(t, tt.wantPW, o.Password)
			require.Equal(t, tt.wantTLS, o.TLSConfig != nil)
			if tt.wantTLS {
				require.EqualValues(t, tls.VersionTLS12, o.TLSConfig.MinVersion)
			}
		})
	}
}

func TestClusterAddrsRejects(t *testing.T) {
	t.Parallel()
	for _, addrs := range []string{
		"redis://:s3cret@10.0.0.1:7000/3",
		"redis://:s3cret@10.0.0.1:7000,redis://:other@10.0.0.2:7000",
		"http://:s3cret@10.0.0.1:7000",
	} {
		_, err := Load(env(map[string]string{"REDIS_CLUSTER_ADDRS": addrs}))
		require.ErrorContains(t, err, "REDIS_CLUSTER_ADDRS", addrs)
		require.NotContains(t, err.Error(), "s3cret", "no password in errors")
	}
}

func TestStartupWarm(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	require.NoError(t, err)
	require.True(t, c.StartupWarm)
	c, err = Load(env(map[string]string{"CACHEWARM_STARTUP_WARM": "false"}))
	require.NoError(t, err)
	require.False(t, c.StartupWarm)
	require.True(t, c.WarmingEnabled, "the refresh-ahead schedules stay on")
	_, err = Load(env(map[string]string{"CACHEWARM_STARTUP_WARM": "maybe"}))
	require.ErrorContains(t, err, "CACHEWARM_STARTUP_WARM")
}
