package faults_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cachewarm/cachewarm/internal/demodata"
	"github.com/cachewarm/cachewarm/internal/fixture"
	"github.com/cachewarm/cachewarm/internal/testenv"
	"github.com/cachewarm/cachewarm/migrations"
)

// TestChangesSurviveKilledWorkers: the ERP writes while a full warm runs, while its only
// worker is SIGKILLed, and while no worker runs at all; once a worker is back, every change
// is in Redis. Nothing in the writers' transactions depends on a worker. Both change capture
// modes: the logical one on a private PostgreSQL with wal_level=logical.
func TestChangesSurviveKilledWorkers(t *testing.T) {
	t.Parallel()
	const tenants = 4
	for _, mode := range []string{migrations.CaptureTriggers, migrations.CaptureLogical} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			env := captureEnv(t, mode, tenants)
			ctx := context.Background()
			wenv := workerEnv(env, map[string]string{
				"CACHEWARM_JOB_TIMEOUT":    "4s",
				"CACHEWARM_RESCUE_AFTER":   "5s",
				"CACHEWARM_CHANGE_CAPTURE": mode,
			})
			w1 := startWorker(t, "worker-1", wenv)
			run(t, wenv, "warm", "--all") // changes arrive during a full warm

			write := func(i int) {
				tn := fmt.Sprintf("t%03d", 1+i%tenants)
				_, err := env.Pool.Exec(ctx, `UPDATE vendors SET name = $1 WHERE tenant_id = $2 AND id = $3`,
					fmt.Sprintf("vendor %d", i), tn, 1+i%7)
				require.NoError(t, err)
				_, err = env.Pool.Exec(ctx, `UPDATE chart_of_accounts SET name = $1 WHERE tenant_id = $2 AND id = $3`,
					fmt.Sprintf("account %d", i), tn, 1+i%5)
				require.NoError(t, err)
			}
			for i := range 100 {
				write(i)
			}
			w1.Kill()
			for i := 100; i < 200; i++ { // no worker at all
				write(i)
			}
			startWorker(t, "worker-2", wenv)
			for i := 200; i < 300; i++ {
				write(i)
			}

			// The logical mode's changes may still be in the WAL when the change log is
			// empty: wait for the values themselves.
			datasets := []string{"vendors", "chart_of_accounts"}
			waitFor(t, 90*time.Second, "every change in Redis", func() (bool, error) {
				_, problems := compareDatasets(t, env.Pool, env.Redis, tenantIDs(1, tenants), datasets)
				if len(problems) > 0 {
					return false, fmt.Errorf("%d keys missing or stale, first: %s", len(problems), problems[0])
				}
				return true, nil
			})
			waitChangesDone(t, env.Pool, 30*time.Second)
			n := verifyDatasets(t, env.Pool, env.Redis, tenantIDs(1, tenants), datasets)
			t.Logf("%s: %d keys of %d tenants match the database", mode, n, tenants)
		})
	}
}

// captureEnv is a seeded, migrated database and a Redis of the test's own for the change
// capture mode: the shared server for triggers, a private one with wal_level=logical for
// logical.
func captureEnv(t *testing.T, mode string, tenants int) *fixture.Env {
	if mode == migrations.CaptureTriggers {
		return fixture.New(t, tenants)
	}
	ctx := context.Background()
	pg := testenv.NewPrivatePostgres(t, testenv.PrivatePostgresOptions{})
	dbURL := pg.NewDB(t)
	pool := testenv.Connect(t, dbURL)
	_, err := demodata.Seed(ctx, pool, demodata.Options{Tenants: tenants, Seed: 1})
	require.NoError(t, err)
	_, err = migrations.MigrateCapture(ctx, pool, defaultCatalog(), mode, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	rdb, redisURL := testenv.NewRedis(t)
	return &fixture.Env{DBURL: dbURL, RedisURL: redisURL, Pool: pool, Redis: rdb}
}
