// Package logical tests the logical change capture mode end to end, on a PostgreSQL of the
// test's own with wal_level=logical: migrate creates the publication and slot and no
// trigger; the worker streams the slot; changes, TRUNCATE and tenants coming and going reach
// Redis; a PostgreSQL restart loses nothing.
package logical

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/demodata"
	"github.com/cachewarm/cachewarm/internal/fixture"
	"github.com/cachewarm/cachewarm/internal/testenv"
	"github.com/cachewarm/cachewarm/migrations"
	"github.com/cachewarm/cachewarm/workflows"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestLogicalModeEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pg := testenv.NewPrivatePostgres(t, testenv.PrivatePostgresOptions{})
	dbURL := pg.NewDB(t)
	pool := testenv.Connect(t, dbURL)
	_, err := demodata.Seed(ctx, pool, demodata.Options{Tenants: 3, Seed: 1})
	require.NoError(t, err)
	cat, err := catalog.Default()
	require.NoError(t, err)
	res, err := migrations.MigrateCapture(ctx, pool, cat, migrations.CaptureLogical, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.Len(t, res.Triggered, 17)
	var triggers int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'cachewarm_change_%'`).Scan(&triggers))
	require.Zero(t, triggers, "no trigger in the logical mode")

	rdb, redisURL := testenv.NewRedis(t)
	env := &fixture.Env{DBURL: dbURL, RedisURL: redisURL, Pool: pool, Redis: rdb}
	w := env.StartWorker(t, env.Config(t, map[string]string{"CACHEWARM_CHANGE_CAPTURE": "logical"}), cat)
	_, err = w.Workflows().Start(ctx, w.Client(), workflows.Request{All: true, Phases: catalog.Phases, Trigger: "test"})
	require.NoError(t, err)
	env.WaitWorkflows(t, time.Minute)

	fresh := func(key, want, what string) {
		t.Helper()
		require.Eventually(t, func() bool {
			v, _ := rdb.Get(ctx, key).Result()
			return strings.Contains(v, want)
		}, 20*time.Second, 10*time.Millisecond, what)
	}
	_, err = pool.Exec(ctx, `UPDATE chart_of_accounts SET name = 'streamed' WHERE tenant_id = 't001' AND id = 1`)
	require.NoError(t, err)
	fresh("finance:coa:t001", `"name":"streamed"`, "an UPDATE reaches Redis through the slot")

	// PostgreSQL restarts (a crash): changes committed around it still arrive.
	require.NoError(t, pg.Restart(ctx, testenv.StopImmediate))
	require.Eventually(t, func() bool {
		_, err := pool.Exec(ctx, `UPDATE chart_of_accounts SET name = 'after the crash' WHERE tenant_id = 't002' AND id = 1`)
		return err == nil
	}, 30*time.Second, 100*time.Millisecond, "the server is back")
	fresh("finance:coa:t002", `"name":"after the crash"`, "a change after the restart reaches Redis")

	// TRUNCATE re-warms the table's datasets of every tenant.
	_, err = pool.Exec(ctx, `TRUNCATE crm_pipeline_stages`)
	require.NoError(t, err)
	for _, tn := range []string{"t001", "t002", "t003"} {
		fresh("crm:stages:"+tn, "[]", "the truncated table's lists are empty for "+tn)
		v, _ := rdb.Get(ctx, "crm:stages:"+tn).Result()
		require.Equal(t, "[]", v)
	}

	// A tenant that goes has its keys removed.
	_, err = pool.Exec(ctx, `UPDATE tenants SET active = false WHERE id = 't003'`)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		keys, _ := rdb.Keys(ctx, "*:t003:*").Result()
		coa, _ := rdb.Exists(ctx, "finance:coa:t003").Result()
		return len(keys) == 0 && coa == 0
	}, 20*time.Second, 10*time.Millisecond, "the departed tenant's keys are removed")

	// A tenant that comes (back) is warmed whole.
	_, err = pool.Exec(ctx, `UPDATE tenants SET active = true WHERE id = 't003'`)
	require.NoError(t, err)
	fresh("finance:coa:t003", `"name"`, "the arriving tenant's critical keys are warmed")
	require.Eventually(t, func() bool {
		keys, _ := rdb.Keys(ctx, "*:t003:*").Result()
		return len(keys) > 100
	}, 30*time.Second, 50*time.Millisecond, "the arriving tenant's other phases are warmed")

	var lag int64
	require.Eventually(t, func() bool {
		return pool.QueryRow(ctx, `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint FROM pg_replication_slots WHERE slot_name = 'cachewarm'`).Scan(&lag) == nil && lag < 1<<20
	}, 20*time.Second, 50*time.Millisecond, "the slot is confirmed as changes are recorded")
}
