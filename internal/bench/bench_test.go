package bench_test

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/internal/bench"
	"github.com/cachewarm/cachewarm/internal/testenv"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

var binary string

func TestMain(m *testing.M) { testenv.MainWithBinary(m, func(path string) { binary = path }) }

// TestSmoke runs the whole benchmark on three tenants: seeding, a full warm in a worker
// process, change-to-fresh, the raw bound and the naive warmer, and checks the report.
func TestSmoke(t *testing.T) {
	t.Parallel()
	server := testenv.DatabaseURL(t)
	_, redisURL := testenv.NewRedis(t)
	u, err := url.Parse(redisURL)
	require.NoError(t, err)
	db := strings.TrimPrefix(u.Path, "/")
	u.Path = "/0"
	env := map[string]string{"DATABASE_URL": server, "REDIS_URL": u.String()}

	name := fmt.Sprintf("cwtest_bench_%d", time.Now().UnixNano())
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), server)
		if err == nil {
			_, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			_ = conn.Close(context.Background())
		}
	})
	var out, errs bytes.Buffer
	args := []string{"--tenants", "3", "--database", name, "--redis-db", db, "--raw-redis-db", db,
		"--bin", binary, "--changes", "4", "--naive-tenants", "1"}
	err = bench.Main(context.Background(), args, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, &out, &errs)
	require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", out.String(), errs.String())

	report := out.String()
	for _, want := range []string{"cachewarm-bench: 3 tenants", "critical", "high", "medium", "total",
		"worker peak RSS", "job overhead", "CPU during the warm", "CPU stolen by the hypervisor",
		"change-to-fresh, idle", "change-to-fresh, during a full warm", "raw bound", "naive warmer"} {
		require.Contains(t, report, want)
	}
	// Every phase job ran: three tenants x three phases.
	require.Contains(t, report, "9 phase jobs ran")
}
