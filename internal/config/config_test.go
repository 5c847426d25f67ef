package config

import (
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	require.NoError(t, err)
	require.Equal(t, DefaultDatabaseURL, c.DatabaseURL)
	require.Equal(t, "127.0.0.1:6379", c.Redis.Addr)
	require.True(t, c.WarmingEnabled)
	require.False(t, c.Phase3Enabled)
	require.Equal(t, cache.FormatJSON, c.ValueFormat)
	require.Equal(t, ":8080", c.HTTPAddr)
	require.Equal(t, time.Minute, c.JobTimeout)
	require.Equal(t, 75*time.Second, c.RescueAfter, "a killed worker's jobs are rescued within 75 s + River's 30 s rescuer interval")
}

func TestLoadJobTimeouts(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{"CACHEWARM_JOB_TIMEOUT": "4s", "CACHEWARM_RESCUE_AFTER": "5s"}))
	require.NoError(t, err)
	require.Equal(t, 4*time.Second, c.JobTimeout)
	require.Equal(t, 5*time.Second, c.RescueAfter)
	c, err = Load(env(map[string]string{"CACHEWARM_JOB_TIMEOUT": "2m"}))
	require.NoError(t, err)
	require.Equal(t, 2*time.Minute+15*time.Second, c.RescueAfter, "follows the job timeout")
}

func TestLoadRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"bad port", map[string]string{"REDIS_PORT": "abc"}, `REDIS_PORT: "abc" is not a port number`},
		{"port out of range", map[string]string{"REDIS_PORT": "70000"}, `REDIS_PORT`},
		{"bad bool", map[string]string{"CACHE_WARMING_ENABLED": "yes please"}, `CACHE_WARMING_ENABLED`},
		{"bad schedule", map[string]string{"CACHE_REFRESH_HIGH": "every tuesday"}, `CACHE_REFRESH_HIGH`},
		{"bad format", map[string]string{"CACHE_VALUE_FORMAT": "xml"}, `CACHE_VALUE_FORMAT`},
		{"bad cluster addr", map[string]string{"REDIS_CLUSTER_ADDRS": "127.0.0.1:7000,nohost"}, `REDIS_CLUSTER_ADDRS: "nohost"`},
		{"bad redis db", map[string]string{"REDIS_DB": "-1"}, `REDIS_DB`},
		{"bad job timeout", map[string]string{"CACHEWARM_JOB_TIMEOUT": "soon"}, `CACHEWARM_JOB_TIMEOUT`},
		{"rescue before timeout", map[string]string{"CACHEWARM_RESCUE_AFTER": "30s"}, `CACHEWARM_RESCUE_AFTER: 30s is shorter than the job timeout`},
		{"missing CA file", map[string]string{"REDIS_URL": "rediss://127.0.0.1:6380/0", "REDIS_TLS_CA_FILE": "/nonexistent/ca.pem"}, `REDIS_TLS_CA_FILE: open /nonexistent/ca.pem`},
		{"CA file without TLS", map[string]string{"REDIS_TLS_CA_FILE": "/etc/ssl/ca.pem"}, `REDIS_TLS_CA_FILE: is set, but TLS is off`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(env(tt.env))
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestLoadAcceptsEverySchedule(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{"CACHE_REFRESH_CRITICAL": "@every 4s", "CACHE_REFRESH_MEDIUM": "*/5 * * * *", "CACHE_VALUE_FORMAT": "keyv"}))
	require.NoError(t, err)
	require.Equal(t, "@every 4s", c.RefreshCritical)
	require.Equal(t, cache.FormatKeyv, c.ValueFormat)
}

func TestSecretsNeverPrinted(t *testing.T) {
	t.Parallel()
	_, err := Load(env(map[string]string{"DATABASE_URL": "postgres://u:s3cret@host:notaport/db", "REDIS_URL": "redis://:hunter2@:bad:port/x"}))
	require.Error(t, err)
	require.NotContains(t, err.Error(), "s3cret")
	require.NotContains(t, err.Error(), "hunter2")

	require.Equal(t, "postgres://u:xxxxx@h/db", RedactURL("postgres://u:pw@h/db"))
	require.Equal(t, "host=h password=xxxxx", RedactURL("host=h password=pw"))
	require.Equal(t, "rediss://:xxxxx@h:6380/0", Redis{URL: "rediss://:pw@h:6380/0"}.String())
}
