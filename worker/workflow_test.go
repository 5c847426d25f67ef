package worker_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/fixture"
	"github.com/cachewarm/cachewarm/workflows"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

func TestPhasesChainInOrderInOneTransaction(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, 2)
	w := env.StartWorker(t, env.Config(t, nil), nil)
	runs := startAll(t, env, w)
	require.Len(t, runs, 2)
	ctx := context.Background()

	for _, r := range runs {
		// A row's xmin is the transaction that last wrote it. The phase record, written
		// once, shares its xmin with the completed job: one transaction completed the job and
		// recorded the phase, and the record names the next phase's job, which that same
		// transaction inserted.
		rows, err := env.Pool.Query(ctx, `
SELECT j.id, j.args ->> 'phase', j.state::text, j.xmin::text, p.xmin::text, coalesce(p.next_job_id, 0),
       coalesce((j.args ->> 'chained')::bool, false)
FROM cachewarm.river_job j
JOIN cachewarm.workflow_phases p ON p.workflow_id = $1 AND p.phase = j.args ->> 'phase'
WHERE j.kind = 'cachewarm.warm_phase' AND (j.args ->> 'workflow_id')::bigint = $1 ORDER BY j.id`, r.ID)
		require.NoError(t, err)
		type jobRow struct {
			ID                            int64
			Phase, State, JobXmin, PhXmin string
			NextJob                       int64
			Chained                       bool
		}
		jobRows, err := pgx.CollectRows(rows, pgx.RowToStructByPos[jobRow])
		require.NoError(t, err)
		var phases []string
		for i, j := range jobRows {
			require.Equal(t, "completed", j.State)
			require.Equal(t, j.JobXmin, j.PhXmin, "phase %s recorded in the transaction that completed its job", j.Phase)
			if i > 0 {
				require.Equal(t, j.ID, jobRows[i-1].NextJob, "phase %s inserted by the transaction completing %s", j.Phase, jobRows[i-1].Phase)
			}
			// Only the first phase marks the workflow running; the later ones come chained.
			require.Equal(t, i > 0, j.Chained, "phase %s chained", j.Phase)
			phases = append(phases, j.Phase)
		}
		require.Zero(t, jobRows[len(jobRows)-1].NextJob)
		require.Equal(t, []string{"critical", "high", "medium"}, phases, "one job per phase, in order")

		var state string
		var keys int64
		require.NoError(t, env.Pool.QueryRow(ctx, `SELECT state, keys_written FROM cachewarm.workflow_runs WHERE id = $1`, r.ID).Scan(&state, &keys))
		require.Equal(t, workflows.StateCompleted, state)
		require.Greater(t, keys, int64(2000))
		var finished int
		require.NoError(t, env.Pool.QueryRow(ctx, `SELECT count(*) FROM cachewarm.workflow_phases WHERE workflow_id = $1 AND state = 'completed'`, r.ID).Scan(&finished))
		require.Equal(t, 3, finished)
	}
}

func TestOneActiveWorkflowPerTenant(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, 2)
	w := env.StartWorker(t, env.Config(t, map[string]string{"CACHEWARM_WORKERS": "1"}), nil)
	ctx := context.Background()
	req := workflows.Request{Tenants: []string{"t001"}, Phases: catalog.Phases, Trigger: "test"}
	first, err := w.Workflows().Start(ctx, w.Client(), req)
	require.NoError(t, err)
	second, err := w.Workflows().Start(ctx, w.Client(), req)
	require.NoError(t, err)
	require.Equal(t, first[0].ID, second[0].ID, "a tenant with an active workflow gets that one back")
	require.True(t, second[0].Existing)

	_, err = w.Workflows().Start(ctx, w.Client(), workflows.Request{Tenants: []string{"t001", "nope"}, Phases: catalog.Phases, Trigger: "test"})
	require.ErrorIs(t, err, workflows.ErrUnknownTenant)
	_, err = w.Workflows().Start(ctx, w.Client(), workflows.Request{Tenants: []string{"t0*"}, Phases: catalog.Phases, Trigger: "test"})
	require.ErrorIs(t, err, cache.ErrInvalidTenant)
	env.WaitWorkflows(t, time.Minute)
}

// withCritical is the default catalog plus a critical dataset name, whose query sql yields
// one key test:<name>:{t}.
func withCritical(t *testing.T, name, sql string) *catalog.Catalog {
	t.Helper()
	return fixture.CatalogWith(t, map[string]string{name: fixture.OneKeyDataset(name, catalog.PhaseCritical, sql)})
}

// failingCatalog is the default catalog plus a critical dataset whose query always fails.
func failingCatalog(t *testing.T) *catalog.Catalog {
	t.Helper()
	return fixture.CatalogWith(t, map[string]string{"broken": fixture.BrokenDataset(catalog.PhaseCritical)})
}

func TestFailedPhaseRetriesThenWorkflowEndsPartial(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, 1)
	ctx := context.Background()
	w := env.StartWorker(t, env.Config(t, nil), failingCatalog(t))

	// Two attempts instead of eight keep the test short; the first retry waits about 1 s.
	tx, err := env.Pool.Begin(ctx)
	require.NoError(t, err)
	runs, err := w.Workflows().StartTx(ctx, tx, w.Client(), workflows.Request{Tenants: []string{"t001"}, Phases: catalog.Phases, Trigger: "test"})
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `UPDATE cachewarm.river_job SET max_attempts = 2 WHERE kind = 'cachewarm.warm_phase'`)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
	// Between the two attempts the workflow shows running, though the failed one took less than
	// the marking timer.
	var running bool
	require.Eventually(t, func() bool {
		var retrying int
		err := env.Pool.QueryRow(ctx, `
SELECT count(*), coalesce(bool_and(r.state = 'running'), false) FROM cachewarm.workflow_runs r
JOIN cachewarm.river_job j ON j.kind = 'cachewarm.warm_phase' AND (j.args ->> 'workflow_id')::bigint = r.id
WHERE r.id = $1 AND j.attempt = 1 AND j.state <> 'running' AND j.errors IS NOT NULL`, runs[0].ID).Scan(&retrying, &running)
		return err == nil && retrying > 0
	}, 30*time.Second, 10*time.Millisecond, "the first phase fails once and waits for its retry")
	require.True(t, running, "workflow running while its first phase waits for a retry")
	env.WaitWorkflows(t, time.Minute)

	var state, failures string
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT state, failures::text FROM cachewarm.workflow_runs WHERE id = $1`, runs[0].ID).Scan(&state, &failures))
	require.Equal(t, workflows.StatePartial, state)
	require.Contains(t, failures, `"dataset": "broken"`)
	require.Contains(t, failures, "division by zero")

	var attempt, errs int
	require.NoError(t, env.Pool.QueryRow(ctx, `
SELECT attempt, coalesce(array_length(errors, 1), 0) FROM cachewarm.river_job
WHERE kind = 'cachewarm.warm_phase' AND args ->> 'phase' = 'critical'`).Scan(&attempt, &errs))
	require.Equal(t, 2, attempt, "the failing phase was retried")
	require.Equal(t, 1, errs, "the first attempt's error is kept on the job")

	rows, err := env.Pool.Query(ctx, `SELECT phase || ':' || state FROM cachewarm.workflow_phases WHERE workflow_id = $1 ORDER BY finished_at`, runs[0].ID)
	require.NoError(t, err)
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{"critical:failed", "high:completed", "medium:completed"}, got, "later phases still ran")
	n, err := env.Redis.Exists(ctx, "finance:coa:t001", "sales:vendors:t001:page:1:limit:100").Result()
	require.NoError(t, err)
	require.EqualValues(t, 2, n, "the failing phase's healthy datasets were written")
}

func TestRestartedWorkerFinishesEveryWorkflow(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, 8)
	ctx := context.Background()
	slow := slowCatalog(t)
	cfg := env.Config(t, map[string]string{"CACHEWARM_WORKERS": "2", "CACHEWARM_SHUTDOWN_TIMEOUT": "3s"})
	first := env.StartWorker(t, cfg, slow)
	_, err := first.Workflows().Start(ctx, first.Client(), workflows.Request{All: true, Phases: catalog.Phases, Trigger: "test"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		var done int
		_ = env.Pool.QueryRow(ctx, `SELECT count(*) FROM cachewarm.workflow_phases`).Scan(&done)
		return done >= 2
	}, time.Minute, 20*time.Millisecond, "some phases finish before the stop")
	require.NoError(t, first.Stop())

	var active int
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT count(*) FROM cachewarm.workflow_runs WHERE state IN ('queued', 'running')`).Scan(&active))
	require.Positive(t, active, "the stop came mid-warm")

	second := env.StartWorker(t, cfg, slow)
	_ = second
	env.WaitWorkflows(t, 2*time.Minute)
	var completed int
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT count(*) FROM cachewarm.workflow_runs WHERE state = 'completed'`).Scan(&completed))
	require.Equal(t, 8, completed)

	// Every tenant x phase ran to completion exactly once. Only phase jobs count: the
	// leader's periodic reap job (inserted when the second worker takes the lead, or retried
	// after the first one's stop cancelled it) may still be queued at this point.
	rows, err := env.Pool.Query(ctx, `
SELECT (args ->> 'tenant_id') || '/' || (args ->> 'phase') || ':' || state::text
FROM cachewarm.river_job WHERE kind = 'cachewarm.warm_phase' ORDER BY 1`)
	require.NoError(t, err)
	jobs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Len(t, jobs, 8*len(catalog.Phases), "one job per tenant x phase: %v", jobs)
	for _, j := range jobs {
		require.True(t, strings.HasSuffix(j, ":completed"), "every phase job completed: %v", jobs)
	}
}

// slowCatalog is the default catalog plus a critical dataset that takes 150 ms.
func slowCatalog(t *testing.T) *catalog.Catalog {
	return withCritical(t, "slow", `SELECT '[]'::text AS value FROM pg_sleep(0.15) WHERE $1::text IS NOT NULL`)
}

func TestReapRepairsWorkflowsWhosePhaseJobWasDiscarded(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, 2)
	ctx := context.Background()
	w := env.StartWorker(t, env.Config(t, map[string]string{"CACHEWARM_WORKERS": "1"}), nil)

	// Two workflows whose first phase job dies before it runs: one discarded (as by the
	// rescuer after a crash on the last attempt), one cancelled (from River UI).
	tx, err := env.Pool.Begin(ctx)
	require.NoError(t, err)
	runs, err := w.Workflows().StartTx(ctx, tx, w.Client(), workflows.Request{All: true, Phases: catalog.Phases, Trigger: "test"})
	require.NoError(t, err)
	require.Len(t, runs, 2)
	_, err = tx.Exec(ctx, `UPDATE cachewarm.river_job SET state = CASE WHEN (args ->> 'tenant_id') = 't001' THEN 'discarded' ELSE 'cancelled' END::cachewarm.river_job_state,
		finalized_at = now(), attempt = 8 WHERE kind = 'cachewarm.warm_phase'`)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))

	n, err := w.Workflows().Reap(ctx, w.Client())
	require.NoError(t, err)
	require.Equal(t, 2, n)
	env.WaitWorkflows(t, time.Minute)

	states := map[string]string{}
	rows, err := env.Pool.Query(ctx, `SELECT tenant_id, state FROM cachewarm.workflow_runs`)
	require.NoError(t, err)
	type st struct{ Tenant, State string }
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[st])
	require.NoError(t, err)
	for _, s := range got {
		states[s.Tenant] = s.State
	}
	require.Equal(t, map[string]string{"t001": workflows.StatePartial, "t002": workflows.StateCancelled}, states)
	exists, err := env.Redis.Exists(ctx, "sales:vendors:t001:page:1:limit:100").Result()
	require.NoError(t, err)
	require.EqualValues(t, 1, exists, "after the discarded critical phase, high still ran")

	again, err := w.Workflows().Start(ctx, w.Client(), workflows.Request{Tenants: []string{"t001", "t002"}, Phases: catalog.Phases, Trigger: "test"})
	require.NoError(t, err)
	for _, r := range again {
		require.False(t, r.Existing, "both tenants can be warmed again")
	}
	env.WaitWorkflows(t, time.Minute)
}

// gatedCatalog is the default catalog plus a critical dataset that waits for advisory lock
// key, which a test holds to keep the phase running.
func gatedCatalog(t *testing.T, key int64) *catalog.Catalog {
	return withCritical(t, "gated", fmt.Sprintf(`SELECT '[]'::text AS value
FROM pg_advisory_lock_shared(%d) WHERE $1::text IS NOT NULL AND pg_advisory_unlock_shared(%[1]d)`, key))
}

func TestWorkflowShowsRunningOnlyOnceItsFirstPhaseTakesLong(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, 2)
	ctx := context.Background()
	gate, err := env.Pool.Acquire(ctx)
	require.NoError(t, err)
	defer gate.Release()
	const key = 7_150_001
	_, err = gate.Exec(ctx, `SELECT pg_advisory_lock($1)`, key)
	require.NoError(t, err)

	// Every change of a workflow's state, with the transaction that made it.
	_, err = env.Pool.Exec(ctx, `
CREATE TABLE state_changes (workflow_id bigint, state text, xact xid8 DEFAULT pg_current_xact_id(), at timestamptz DEFAULT clock_timestamp());
CREATE FUNCTION record_state_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO state_changes (workflow_id, state) VALUES (NEW.id, NEW.state);
    RETURN NULL;
END $$;
CREATE TRIGGER record_state_change AFTER UPDATE OF state ON cachewarm.workflow_runs
FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state) EXECUTE FUNCTION record_state_change();`)
	require.NoError(t, err)
	// changes returns the states others could see: the last one of each transaction.
	changes := func(id int64) []string {
		rows, err := env.Pool.Query(ctx, `
SELECT DISTINCT ON (xact) state FROM state_changes WHERE workflow_id = $1 ORDER BY xact, at DESC`, id)
		require.NoError(t, err)
		states, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return states
	}

	w := env.StartWorker(t, env.Config(t, nil), gatedCatalog(t, key))
	fast, err := w.Workflows().Start(ctx, w.Client(), workflows.Request{Tenants: []string{"t001"}, Phases: []catalog.Phase{catalog.PhaseHigh}, Trigger: "test"})
	require.NoError(t, err)
	slow, err := w.Workflows().Start(ctx, w.Client(), workflows.Request{Tenants: []string{"t002"}, Phases: catalog.Phases, Trigger: "test"})
	require.NoError(t, err)
	state := func(id int64) string {
		var s string
		require.NoError(t, env.Pool.QueryRow(ctx, `SELECT state FROM cachewarm.workflow_runs WHERE id = $1`, id).Scan(&s))
		return s
	}
	require.Eventually(t, func() bool { return state(slow[0].ID) == workflows.StateRunning }, 30*time.Second, 20*time.Millisecond,
		"a first phase held up by its dataset shows its workflow running")
	require.Eventually(t, func() bool { return state(fast[0].ID) == workflows.StateCompleted }, 30*time.Second, 20*time.Millisecond)
	var phases int
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT count(*) FROM cachewarm.workflow_phases WHERE workflow_id = $1`, slow[0].ID).Scan(&phases))
	require.Zero(t, phases, "the held-up phase has not finished")

	_, err = gate.Exec(ctx, `SELECT pg_advisory_unlock($1)`, key)
	require.NoError(t, err)
	env.WaitWorkflows(t, time.Minute)
	for _, id := range []int64{fast[0].ID, slow[0].ID} {
		require.Equal(t, workflows.StateCompleted, state(id))
		// Marked running late or not at all, a workflow starts when its first phase did.
		var same bool
		require.NoError(t, env.Pool.QueryRow(ctx, `
SELECT r.started_at = p.started_at FROM cachewarm.workflow_runs r
JOIN cachewarm.workflow_phases p ON p.workflow_id = r.id AND p.phase = r.phases[1]
WHERE r.id = $1`, id).Scan(&same))
		require.True(t, same, "workflow %d started with its first phase", id)
	}
	require.Equal(t, []string{workflows.StateRunning, workflows.StateCompleted}, changes(slow[0].ID))
	// The fast workflow went from queued to completed in one step, unless its only phase
	// really took longer than the marking delay (a very slow machine).
	var took time.Duration
	var attempts int
	require.NoError(t, env.Pool.QueryRow(ctx, `
SELECT (extract(epoch FROM p.finished_at - p.started_at) * 1e9)::bigint, p.attempts FROM cachewarm.workflow_phases p WHERE p.workflow_id = $1`,
		fast[0].ID).Scan(&took, &attempts))
	if got := changes(fast[0].ID); !slices.Equal(got, []string{workflows.StateCompleted}) {
		require.GreaterOrEqual(t, took, 200*time.Millisecond, "a %s phase (attempts %d) marked its workflow running: %v", took, attempts, got)
	}
}
