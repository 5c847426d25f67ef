package bench_test

import (
	"bytes"
	"context"
	"strconv"
	"testing"

	"github.com/cachewarm/cachewarm/internal/bench"
	"github.com/cachewarm/cachewarm/internal/testenv"
	"github.com/stretchr/testify/require"
)

var binary string

func TestMain(m *testing.M) { testenv.MainWithBinary(m, func(path string) { binary = path }) }

// TestSmoke runs the whole benchmark on three tenants: seeding, a full warm in a worker
// process, change-to-fresh, the raw bound and the naive warmer, and checks the report.
func TestSmoke(t *testing.T) {
	t.Parallel()
	redisDB, redisURL := testenv.NewRedisDB(t)
	env := map[string]string{"DATABASE_URL": testenv.DatabaseURL(t), "REDIS_URL": redisURL}
	name := testenv.DatabaseName(t)
	db := strconv.Itoa(redisDB)
	var out, errs bytes.Buffer
	args := []string{"--tenants", "3", "--database", name, "--redis-db", db, "--raw-redis-db", db,
		"--bin", binary, "--changes", "4", "--naive-tenants", "1"}
	err := bench.Main(context.Background(), args, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, &out, &errs)
	require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", out.String(), errs.String())

	report := out.String()
	for _, want := range []string{"cachewarm-bench: 3 tenants", "critical", "high", "medium", "total",
		"worker peak RSS", "job overhead", "CPU during the warm", "CPU stolen by the hypervisor",
		"change-to-fresh, idle", "change-to-fresh, idle, L1 reader sees it", "change-to-fresh, during a full warm",
		"change-to-fresh, during a full warm, L1 reader sees it", "raw bound", "naive warmer"} {
		require.Contains(t, report, want)
	}
	// Every phase job ran: three tenants x three phases.
	require.Contains(t, report, "9 phase jobs ran")
}
