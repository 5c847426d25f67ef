package config

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/budget"
	"github.com/redis/go-redis/v9"
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
	require.Equal(t, 7*24*time.Hour, c.WorkflowRetention)
	require.Equal(t, cache.DefaultInvalidationChannel, c.L1Channel)
	c, err = Load(env(map[string]string{"CACHEWARM_WORKFLOW_RETENTION": "48h", "CACHEWARM_L1_CHANNEL": "erp:l1"}))
	require.NoError(t, err)
	require.Equal(t, 48*time.Hour, c.WorkflowRetention)
	require.Equal(t, "erp:l1", c.L1Channel)
}

func TestLoadColdCheck(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	require.NoError(t, err)
	require.Equal(t, 500*time.Millisecond, c.ColdCheck)
	c, err = Load(env(map[string]string{"CACHEWARM_COLD_CHECK": "250ms"}))
	require.NoError(t, err)
	require.Equal(t, 250*time.Millisecond, c.ColdCheck)
	c, err = Load(env(map[string]string{"CACHEWARM_COLD_CHECK": "off"}))
	require.NoError(t, err)
	require.Zero(t, c.ColdCheck, "off: no cold detection")
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
		{"bad cluster addr", map[string]string{"REDIS_CLUSTER_ADDRS": "127.0.0.1:7000,nohost"}, `REDIS_CLUSTER_ADDRS: entry 2: want host:port`},
		{"bad redis db", map[string]string{"REDIS_DB": "-1"}, `REDIS_DB`},
		{"bad job timeout", map[string]string{"CACHEWARM_JOB_TIMEOUT": "soon"}, `CACHEWARM_JOB_TIMEOUT`},
		{"bad cold check", map[string]string{"CACHEWARM_COLD_CHECK": "never"}, `CACHEWARM_COLD_CHECK: "never" is not a positive duration`},
		{"bad retention", map[string]string{"CACHEWARM_WORKFLOW_RETENTION": "7d"}, `CACHEWARM_WORKFLOW_RETENTION: "7d" is not a positive duration`},
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

	require.Equal(t, "postgres://u:xxxxx@h:5432/db", RedactDSN("postgres://u:pw@h/db"))
	require.Equal(t, "postgres://u:xxxxx@h:5432/db", RedactDSN("host=h user=u dbname=db password=pw"))
	require.Equal(t, "rediss://:xxxxx@h:6380/0", Redis{URL: "rediss://:pw@h:6380/0"}.String())
}

// TestRedactionParses: every form of a password that the drivers read is masked in what the
// worker logs and in every configuration error, spaces, quotes and backslashes included
// (each of these leaked, whole or in part, when redaction was text substitution).
func TestRedactionParses(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, dsn, pw, want string
	}{
		{"key=value with spaces around =", "host=db.internal user=app password = S3cretPW dbname=erp", "S3cretPW", "postgres://app:xxxxx@db.internal:5432/erp"},
		{"quoted with a space", "host=db.internal user=app password='S3cret PW' dbname=erp", "S3cret PW", "postgres://app:xxxxx@db.internal:5432/erp"},
		{"quoted with a quote and a backslash", `host=db.internal user=app password='S3c\'ret\\PW' dbname=erp`, `S3c'ret\PW`, "postgres://app:xxxxx@db.internal:5432/erp"},
		{"double quote", `host=db.internal user=app password=S3c"retPW dbname=erp`, `S3c"retPW`, "postgres://app:xxxxx@db.internal:5432/erp"},
		{"URL, percent-encoded", "postgres://app:S3c%22ret%5CPW%20x@db.internal:6432/erp?sslmode=disable", `S3c"ret\PW x`, "postgres://app:xxxxx@db.internal:6432/erp"},
		{"URL, password in the query", "postgres://app@db.internal/erp?password=S3cretPW&sslmode=disable", "S3cretPW", "postgres://app:xxxxx@db.internal:5432/erp"},
		{"two hosts", "postgres://app:S3cretPW@db1:5432,db2:5433/erp?sslmode=disable", "S3cretPW", "postgres://app:xxxxx@db1:5432,db2:5433/erp"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pw := strings.ReplaceAll(tt.pw, `\\`, `\`)
			require.Equal(t, tt.want, RedactDSN(tt.dsn))
			c, err := Load(env(map[string]string{"DATABASE_URL": tt.dsn}))
			require.NoError(t, err)
			var logged bytes.Buffer
			slog.New(slog.NewTextHandler(&logged, nil)).Info("worker started", "config", c)
			require.Contains(t, logged.String(), "xxxxx")
			require.NotContains(t, logged.String(), pw)
			require.NotContains(t, logged.String(), "S3c")
		})
	}
	for _, tt := range []struct {
		name, url, want string
	}{
		{"quote and backslash", `redis://:S3c%22ret%5CPW@cache:6379/2`, "redis://:xxxxx@cache:6379/2"},
		{"user and TLS", `rediss://app:S3cretPW@cache:6380/0`, "rediss://app:xxxxx@cache:6380/0"},
		{"no password", `redis://cache:6379/1`, "redis://cache:6379/1"},
	} {
		require.Equal(t, tt.want, RedactRedisURL(tt.url), tt.name)
		require.Equal(t, tt.want, Redis{URL: tt.url}.String(), tt.name)
	}
	// Malformed: refused, and nothing of the text is quoted.
	for name, e := range map[string]map[string]string{
		"unescaped / in a URL password": {"DATABASE_URL": "postgres://app:S3c/retPW@db:notaport/erp"},
		"unterminated quote":            {"DATABASE_URL": "host=db password='S3cret PW"},
		"bad redis db":                  {"REDIS_URL": "redis://:S3c/retPW@cache:6379/x"},
		"bad redis port":                {"REDIS_URL": "redis://:S3cret@cache:bad:port/0"},
		"cluster entry without scheme":  {"REDIS_CLUSTER_ADDRS": "app:S3cretPW@10.0.0.1:notaport"},
		"cluster entry, bad db":         {"REDIS_CLUSTER_ADDRS": "redis://app:S3cretPW@10.0.0.1:7000/3"},
	} {
		_, err := Load(env(e))
		require.Error(t, err, name)
		for k := range e {
			require.ErrorContains(t, err, k+": ", name)
		}
		require.NotContains(t, err.Error(), "S3c", name)
		require.NotContains(t, err.Error(), "ret", name)
	}
	_, err := Load(env(map[string]string{"DATABASE_URL": "postgres://app:S3cretPW@db/erp?sslmode=sometimes"}))
	require.ErrorContains(t, err, "DATABASE_URL: cannot be parsed: failed to configure TLS (sslmode is invalid) (its text is not shown")
	require.NotContains(t, err.Error(), "S3cretPW")
	_, err = Load(env(map[string]string{"DATABASE_URL": "host=db port=notaport password=S3cretPW"}))
	require.ErrorContains(t, err, "DATABASE_URL: cannot be parsed: invalid port")
	require.NotContains(t, err.Error(), "S3cretPW")
	// A cluster entry user:password@host:port is read as a URL: its credentials are used,
	// and never shown.
	c, err := Load(env(map[string]string{"REDIS_CLUSTER_ADDRS": "app:S3cretPW@10.0.0.1:7000,10.0.0.2:7000"}))
	require.NoError(t, err)
	require.Equal(t, []string{"10.0.0.1:7000", "10.0.0.2:7000"}, c.Redis.ClusterAddrs)
	require.NotContains(t, c.Redis.String(), "S3cretPW")
	rdb, err := c.Redis.NewRedis()
	require.NoError(t, err)
	defer rdb.Close()
	o := rdb.(*redis.ClusterClient).Options()
	require.Equal(t, "app", o.Username)
	require.Equal(t, "S3cretPW", o.Password)
}

func TestLoadMemoryBudget(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	require.NoError(t, err)
	require.Equal(t, budget.Limit{Percent: 80}, c.MemoryBudget)
	require.Equal(t, time.Minute, c.DemandSample)
	c, err = Load(env(map[string]string{"CACHEWARM_MEMORY_BUDGET": "512MiB", "CACHEWARM_DEMAND_SAMPLE": "off"}))
	require.NoError(t, err)
	require.Equal(t, budget.Limit{Bytes: 512 << 20}, c.MemoryBudget)
	require.Zero(t, c.DemandSample, "off")
	c, err = Load(env(map[string]string{"CACHEWARM_MEMORY_BUDGET": "60%", "CACHEWARM_DEMAND_SAMPLE": "10s"}))
	require.NoError(t, err)
	require.Equal(t, budget.Limit{Percent: 60}, c.MemoryBudget)
	require.Equal(t, 10*time.Second, c.DemandSample)
	_, err = Load(env(map[string]string{"CACHEWARM_MEMORY_BUDGET": "lots"}))
	require.ErrorContains(t, err, "CACHEWARM_MEMORY_BUDGET")
	_, err = Load(env(map[string]string{"CACHEWARM_DEMAND_SAMPLE": "often"}))
	require.ErrorContains(t, err, "CACHEWARM_DEMAND_SAMPLE")
}
