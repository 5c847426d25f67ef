package cli_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/fixture"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

func TestInvalidateTenantExact(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, 1)
	ctx := context.Background()
	for _, id := range []string{"t1", "t10", "t1x"} {
		env.CloneTenant(t, "t001", id)
	}
	vars := map[string]string{"DATABASE_URL": env.DBURL, "REDIS_URL": env.RedisURL, "CACHEWARM_LOG_LEVEL": "warn", "CACHE_WARMING_PHASE3_ENABLED": "true"}
	env.StartWorker(t, env.Config(t, nil), nil)
	_, _, err := run(t, vars, "warm", "--tenant", "t1", "--tenant", "t10", "--tenant", "t1x", "--wait", "--timeout", "1m")
	require.NoError(t, err)
	env.WaitWorkflows(t, time.Minute)
	waitJobsDone(t, env)
	keys := []string{"finance:coa:%s", "sales:vendors:%s:page:1:limit:100", "sales:material:%s:materialId:1"}
	exists := func(tenant string) int64 {
		n := int64(0)
		for _, k := range keys {
			n += env.Redis.Exists(ctx, fmt.Sprintf(k, tenant)).Val()
		}
		return n
	}
	for _, id := range []string{"t1", "t10", "t1x"} {
		require.EqualValues(t, len(keys), exists(id), id)
	}

	// --no-rewarm: t1's keys go, and nothing is queued that would bring them back (the job
	// rows say so at once, where waiting and looking at Redis would pass on a slow machine
	// whatever the code did); t10's and t1x's stay.
	jobs := countJobs(t, env)
	out, _, err := run(t, vars, "invalidate", "--tenant", "t1", "--no-rewarm")
	require.NoError(t, err)
	require.Contains(t, out, "tenant t1: ")
	require.Contains(t, out, "0 re-warm job(s) queued")
	require.Zero(t, exists("t1"))
	require.EqualValues(t, len(keys), exists("t10"))
	require.EqualValues(t, len(keys), exists("t1x"))
	// Nothing can re-warm them: the command queued no job (it would have, before returning).
	require.Equal(t, jobs, countJobs(t, env), "no re-warm job queued")

	// By default the removed datasets are re-warmed.
	require.NoError(t, env.Redis.PExpire(ctx, "finance:coa:t10", time.Minute).Err())
	out, _, err = run(t, vars, "invalidate", "--tenant", "t1", "--dataset", "chart_of_accounts,materials")
	require.NoError(t, err)
	require.Contains(t, out, "2 re-warm job(s) queued")
	require.Eventually(t, func() bool {
		return env.Redis.Exists(ctx, "finance:coa:t1", "sales:material:t1:materialId:1").Val() == 2
	}, 5*time.Second, 10*time.Millisecond, "re-warmed")
	require.Zero(t, env.Redis.Exists(ctx, "sales:vendors:t1:page:1:limit:100").Val(), "a dataset not named stays as it was")
	require.Less(t, env.Redis.PTTL(ctx, "finance:coa:t10").Val(), time.Minute+time.Second, "t10 untouched")

	// Refused before anything is removed or queued.
	jobs = countJobs(t, env)
	_, stderr, err := run(t, vars, "warm", "--tenant", "a*")
	require.ErrorIs(t, err, cache.ErrInvalidTenant)
	require.Contains(t, stderr, `invalid tenant id: "a*" has character '*' at 1; only A-Z a-z 0-9 _ - are allowed`)
	_, _, err = run(t, vars, "invalidate", "--tenant", "t1*")
	require.ErrorIs(t, err, cache.ErrInvalidTenant)
	_, stderr, err = run(t, vars, "invalidate", "--tenant", "t2")
	require.Error(t, err)
	require.Contains(t, stderr, `unknown tenant: "t2"`)
	require.Equal(t, jobs, countJobs(t, env))
	require.EqualValues(t, len(keys), exists("t10"))
}

// countJobs counts the warm jobs (not the periodic maintenance ones).
func countJobs(t *testing.T, env *fixture.Env) int {
	t.Helper()
	var n int
	require.NoError(t, env.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM cachewarm.river_job WHERE kind IN ('cachewarm.warm_phase', 'cachewarm.warm_datasets')`).Scan(&n))
	return n
}

// waitJobsDone waits for every job (the clones' change re-warms too) to finish.
func waitJobsDone(t *testing.T, env *fixture.Env) {
	t.Helper()
	require.Eventually(t, func() bool {
		var left int
		err := env.Pool.QueryRow(context.Background(), `SELECT count(*) FROM cachewarm.river_job WHERE state NOT IN ('completed', 'discarded', 'cancelled')`).Scan(&left)
		return err == nil && left == 0
	}, time.Minute, 20*time.Millisecond)
}

// TestInvalidateAllTenantsSkipsInvalidIDs: a tenants row whose id is not a valid tenant id
// (acme.corp) is skipped with a reason; every other tenant is still invalidated.
func TestInvalidateAllTenantsSkipsInvalidIDs(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, 2)
	ctx := context.Background()
	// Without the change triggers: they refuse the id themselves.
	tx, err := env.Pool.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `SET LOCAL session_replication_role = replica`)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `INSERT INTO tenants (id, name, base_currency, country, active, created_at, updated_at)
		VALUES ('acme.corp', 'Acme', 'EUR', 'DE', true, now(), now())`)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
	vars := map[string]string{"DATABASE_URL": env.DBURL, "REDIS_URL": env.RedisURL, "CACHEWARM_LOG_LEVEL": "warn"}
	out, stderr, err := run(t, vars, "invalidate", "--all-tenants", "--dataset", "chart_of_accounts")
	require.NoError(t, err, stderr)
	require.Contains(t, stderr, `tenant "acme.corp" skipped: invalid tenant id`)
	require.Contains(t, out, "tenant t001: ")
	require.Contains(t, out, "tenant t002: ")
	require.Contains(t, out, "invalidated 2 tenant(s) (1 skipped: not a valid tenant id): 0 key(s) removed, 2 re-warm job(s) queued")
	rows, err := env.Pool.Query(ctx, `SELECT args ->> 'tenant_id' FROM cachewarm.river_job WHERE kind = 'cachewarm.warm_datasets' ORDER BY 1`)
	require.NoError(t, err)
	tenants, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{"t001", "t002"}, tenants, "both valid tenants re-warmed")
}
