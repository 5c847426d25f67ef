package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/cachewarm/cachewarm/internal/cli"
	"github.com/cachewarm/cachewarm/internal/fixture"
	"github.com/cachewarm/cachewarm/internal/testenv"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// run runs the CLI in-process with env and returns stdout, stderr and the error.
func run(t *testing.T, env map[string]string, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := cli.Run(context.Background(), args, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

func TestSeedMigrateWarmStatus(t *testing.T) {
	t.Parallel()
	dbURL := testenv.NewDB(t)
	_, redisURL := testenv.NewRedis(t)
	env := map[string]string{"DATABASE_URL": dbURL, "REDIS_URL": redisURL, "CACHE_WARMING_PHASE3_ENABLED": "true", "CACHEWARM_LOG_LEVEL": "warn"}

	out, _, err := run(t, env, "seed", "--tenants", "2", "--seed", "5")
	require.NoError(t, err)
	require.Contains(t, out, "seeded 2 tenant(s)")

	out, _, err = run(t, env, "migrate")
	require.NoError(t, err)
	require.Contains(t, out, "change capture (triggers) on 17 table(s)")
	out, _, err = run(t, env, "migrate")
	require.NoError(t, err, "migrate is idempotent")
	require.Contains(t, out, "0 River and 0 cachewarm migration(s) applied")

	w := &fixture.Env{DBURL: dbURL, RedisURL: redisURL, Pool: testenv.Connect(t, dbURL)}
	w.StartWorker(t, w.Config(t, nil), nil)

	out, _, err = run(t, env, "warm", "--all", "--wait")
	require.NoError(t, err, out)
	require.Contains(t, out, "enqueued 2 workflow(s)")
	require.Contains(t, out, "2 completed, 0 partial or failed")

	out, _, err = run(t, env, "status", "--tenant", "t001")
	require.NoError(t, err)
	require.Contains(t, out, "t001")
	require.Contains(t, out, "critical completed 1, high completed 1, medium completed 1")
	require.NotContains(t, out, "t002")

	out, _, err = run(t, env, "status", "--failed")
	require.NoError(t, err)
	require.Contains(t, out, "no workflows")
}

func TestRefusesBadInput(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=1"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"glob tenant", []string{"warm", "--tenant", "a*"}, "invalid tenant id"},
		{"no tenant", []string{"warm"}, "--tenant ID"},
		{"both", []string{"warm", "--all", "--tenant", "t1"}, "not both"},
		{"bad phase", []string{"warm", "--all", "--phase", "urgent"}, "unknown phase"},
		{"unknown dataset", []string{"invalidate", "--tenant", "t1", "--dataset", "nope"}, "unknown dataset"},
		{"colon tenant", []string{"invalidate", "--tenant", "x:*"}, "invalid tenant id"},
		{"status tenant", []string{"status", "--tenant", "t 1"}, "invalid tenant id"},
		{"bad port", []string{"migrate"}, "REDIS_PORT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := env
			if tt.name == "bad port" {
				e = map[string]string{"REDIS_PORT": "nope"}
			}
			_, stderr, err := run(t, e, tt.args...)
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
			require.Contains(t, stderr, tt.want, "the error is reported on stderr")
		})
	}
}

func TestBrokenDatasetsDirectoryIsRefusedBeforeAnythingIsTouched(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "things.sql"), []byte("-- phase: soon\n-- ttl: 1h\n-- tables: t\n-- key: x:things:{tenant}\n-- value: json\nSELECT '[]' AS value\n"), 0o644))
	// No database or Redis at these addresses: a command that got past the files would fail
	// differently.
	env := map[string]string{"CACHEWARM_DATASETS_DIR": dir, "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none", "REDIS_URL": "redis://127.0.0.1:1"}
	for _, cmd := range [][]string{{"migrate"}, {"worker"}, {"datasets"}, {"datasets", "check"}} {
		_, stderr, err := run(t, env, cmd...)
		require.Error(t, err, cmd)
		require.Contains(t, stderr, filepath.Join(dir, "things.sql")+`:1: unknown phase "soon"`, cmd)
	}

	good := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(good, "things.sql"), []byte("-- phase: high\n-- ttl: 1h\n-- tables: t\n-- key: x:things:{tenant}\n-- value: json\nSELECT '[]' AS value\n"), 0o644))
	env["CACHEWARM_DATASETS_DIR"] = good
	out, _, err := run(t, env, "datasets")
	require.NoError(t, err)
	require.Contains(t, out, "things")
	require.Contains(t, out, "x:things:{t}")
	require.Contains(t, out, "t(tenant_id)")
}

func TestLogicalModeRefusedWithoutWALLevelLogical(t *testing.T) {
	t.Parallel()
	dbURL := testenv.NewDB(t) // the shared server runs with wal_level=replica
	_, redisURL := testenv.NewRedis(t)
	env := map[string]string{"DATABASE_URL": dbURL, "REDIS_URL": redisURL, "CACHEWARM_CHANGE_CAPTURE": "logical", "HTTP_ADDR": "127.0.0.1:0"}
	for _, cmd := range []string{"migrate", "worker"} {
		_, stderr, err := run(t, env, cmd)
		require.Error(t, err, cmd)
		require.Contains(t, stderr, "wal_level", cmd)
		require.Contains(t, stderr, "logical", cmd)
	}
	var n int
	require.NoError(t, testenv.Connect(t, dbURL).QueryRow(context.Background(), `SELECT count(*) FROM pg_namespace WHERE nspname = 'cachewarm'`).Scan(&n))
	require.Zero(t, n, "migrate touched nothing")
}
