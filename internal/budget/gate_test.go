package budget_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/budget"
	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/fixture"
	"github.com/cachewarm/cachewarm/internal/redisinfo"
	"github.com/cachewarm/cachewarm/internal/rediswrite"
	"github.com/cachewarm/cachewarm/internal/testenv"
	"github.com/stretchr/testify/require"
)

// TestGateDecisions asks the gate about phases against a private Redis with a maxmemory: the
// critical phase always passes; a phase whose keys are in Redis is rewritten in place; one that
// does not fit takes room from a less demanded tenant (its keys removed, tenant-exact, and the
// removal recorded as skipped) or, with no one less demanded, is skipped.
func TestGateDecisions(t *testing.T) {
	ctx := context.Background()
	env := fixture.New(t, 3)
	srv := testenv.NewRedisServer(t, "--maxmemory", "64mb", "--maxmemory-policy", "noeviction")
	rdb := srv.Client("")
	cat, err := catalog.Default()
	require.NoError(t, err)
	medium := cat.Phase(catalog.PhaseMedium)[0].Name
	t1, t2, t3 := cache.MustTenant("t001"), cache.MustTenant("t002"), cache.MustTenant("t003")

	// t002's medium phase is in Redis: 4 MiB of values behind its index set, and its last
	// run recorded 4 MiB written; t001 and t003's medium phases were 2 MiB.
	big := strings.Repeat("x", 1<<20)
	for i := range 4 {
		key := "test:medium:t002:" + string(rune('a'+i))
		require.NoError(t, rdb.Set(ctx, key, big, 0).Err())
		require.NoError(t, rdb.SAdd(ctx, rediswrite.IndexKey(t2, medium), key).Err())
	}
	require.NoError(t, rdb.Set(ctx, "test:other", "t003's", 0).Err())
	_, err = env.Pool.Exec(ctx, `
WITH runs AS (
    INSERT INTO cachewarm.workflow_runs (tenant_id, trigger, phases, state, finished_at)
    SELECT t, 'cli', '{medium}', 'completed', now() FROM unnest('{t001,t002,t003}'::text[]) AS t RETURNING id, tenant_id)
INSERT INTO cachewarm.workflow_phases (workflow_id, phase, state, job_id, attempts, queued_at, started_at, finished_at, bytes_written)
SELECT id, 'medium', 'completed', id, 1, now(), now(), now(), CASE tenant_id WHEN 't002' THEN 4 << 20 ELSE 2 << 20 END FROM runs`)
	require.NoError(t, err)
	_, err = env.Pool.Exec(ctx, `INSERT INTO cachewarm.tenant_demand VALUES ('t001', 1, now()), ('t002', 0.1, now())`)
	require.NoError(t, err)

	mem, err := redisinfo.Read(ctx, rdb)
	require.NoError(t, err)
	// Room for 1 MiB more: not for a 2 MiB phase (x the overhead factor).
	limit := budget.Limit{Bytes: mem.UsedMemory + 1<<20}
	gate := budget.NewGate(env.Pool, rdb, limit, cat, rediswrite.New(rdb, cache.FormatJSON, cache.Keys{}, cache.DefaultInvalidationChannel), nil, slog.New(slog.DiscardHandler))

	adm, err := gate.Admit(ctx, t3, catalog.PhaseCritical)
	require.NoError(t, err)
	require.Empty(t, adm.Skip, "the critical phase is always written")
	adm.Done(ctx, 0)

	adm, err = gate.Admit(ctx, t2, catalog.PhaseMedium)
	require.NoError(t, err)
	require.Empty(t, adm.Skip, "in Redis already: rewritten in place")
	adm.Done(ctx, 0)

	adm, err = gate.Admit(ctx, t3, catalog.PhaseMedium)
	require.NoError(t, err)
	require.Equal(t, budget.ReasonBudget, adm.Skip, "t003 is unranked: it takes room from no one")

	adm, err = gate.Admit(ctx, t1, catalog.PhaseMedium)
	require.NoError(t, err)
	require.Empty(t, adm.Skip, "t001, more demanded than t002, takes its room")
	adm.Done(ctx, 2<<20)
	n, err := rdb.Exists(ctx, "test:medium:t002:a", "test:medium:t002:d", rediswrite.IndexKey(t2, medium)).Result()
	require.NoError(t, err)
	require.Zero(t, n, "t002's medium keys and index set removed")
	require.Equal(t, "t003's", rdb.Get(ctx, "test:other").Val(), "nothing else touched")
	var state, reason string
	require.NoError(t, env.Pool.QueryRow(ctx, `
SELECT p.state, p.skip_reason FROM cachewarm.workflow_phases p JOIN cachewarm.workflow_runs r ON r.id = p.workflow_id
WHERE r.tenant_id = 't002'`).Scan(&state, &reason))
	require.Equal(t, "skipped", state)
	require.Equal(t, budget.ReasonMadeRoom+"t001", reason)
	var wf string
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT state FROM cachewarm.workflow_runs WHERE tenant_id = 't002'`).Scan(&wf))
	require.Equal(t, "partial", wf)
}

// TestGateNoMaxmemory: without a maxmemory there is no limit; every phase is written.
func TestGateNoMaxmemory(t *testing.T) {
	ctx := context.Background()
	env := fixture.New(t, 1)
	srv := testenv.NewRedisServer(t)
	rdb := srv.Client("")
	cat, err := catalog.Default()
	require.NoError(t, err)
	gate := budget.NewGate(env.Pool, rdb, budget.Limit{Bytes: 1}, cat, rediswrite.New(rdb, cache.FormatJSON, cache.Keys{}, cache.DefaultInvalidationChannel), nil, slog.New(slog.DiscardHandler))
	adm, err := gate.Admit(ctx, cache.MustTenant("t001"), catalog.PhaseMedium)
	require.NoError(t, err)
	require.Empty(t, adm.Skip)
}
