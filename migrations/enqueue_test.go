package migrations_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/fixture"
	"github.com/cachewarm/cachewarm/internal/jobcontract"
	"github.com/cachewarm/cachewarm/jobs"
	"github.com/cachewarm/cachewarm/migrations"
	"github.com/cachewarm/cachewarm/workflows"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"
)

// jobRow is what River reads of a job to run it.
type jobRow struct {
	Kind        string
	Queue       string
	Priority    int
	MaxAttempts int
	State       string
	Args        []byte
	Tags        []string
	Metadata    []byte
}

func jobsOf(t *testing.T, pool *pgxpool.Pool, where string, args ...any) []jobRow {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
SELECT kind, queue, priority, max_attempts, state::text, args, tags, metadata
FROM cachewarm.river_job WHERE `+where+` ORDER BY id`, args...)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[jobRow])
	require.NoError(t, err)
	return out
}

func countJobs(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM cachewarm.river_job`).Scan(&n))
	return n
}

func TestSQLEnqueueWarm(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, 3)
	ctx := context.Background()
	pool := env.Pool

	t.Run("refused", func(t *testing.T) {
		for _, tt := range []struct {
			name, sql, code, msg string
		}{
			{"glob tenant id", `SELECT cachewarm.enqueue_warm('a*')`, "22023", `invalid tenant id 'a*': want 1-64 characters from A-Z a-z 0-9 _ -`},
			{"colon tenant id", `SELECT cachewarm.enqueue_warm('x:*')`, "22023", "invalid tenant id 'x:*'"},
			{"null tenant id", `SELECT cachewarm.enqueue_warm(NULL)`, "22023", "invalid tenant id 'NULL'"},
			{"unknown tenant", `SELECT cachewarm.enqueue_warm('t999')`, "P0002", "unknown tenant 't999': not an active tenant (tenants.sql)"},
			{"bad phase", `SELECT cachewarm.enqueue_warm('t001', ARRAY['critical', 'urgent'])`, "22023", "unknown phase 'urgent': want one of critical, high, medium"},
			{"no phase", `SELECT cachewarm.enqueue_warm('t001', ARRAY[]::text[])`, "22023", "no phase given"},
			{"null phases", `SELECT cachewarm.enqueue_warm('t001', NULL)`, "22023", "no phase given"},
			{"unknown dataset", `SELECT cachewarm.enqueue_dataset_warm('t001', ARRAY['coa'])`, "22023", "unknown dataset 'coa'"},
			// NULL datasets used to pass the check and queue a job that failed eight times.
			{"null dataset", `SELECT cachewarm.enqueue_dataset_warm('t001', ARRAY[NULL])`, "22023", "unknown dataset NULL"},
			{"null among datasets", `SELECT cachewarm.enqueue_dataset_warm('t001', ARRAY['vendors', NULL])`, "22023", "unknown dataset NULL"},
			{"null array", `SELECT cachewarm.enqueue_dataset_warm('t001', NULL)`, "22023", "no datasets given"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				before := countJobs(t, pool)
				_, err := pool.Exec(ctx, tt.sql)
				var pgErr *pgconn.PgError
				require.True(t, errors.As(err, &pgErr), "%v", err)
				require.Equal(t, tt.code, pgErr.Code)
				require.Contains(t, pgErr.Message, tt.msg)
				require.Equal(t, before, countJobs(t, pool), "nothing enqueued")
			})
		}
		var runs int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM cachewarm.workflow_runs`).Scan(&runs))
		require.Zero(t, runs)
	})

	t.Run("phases in workflow order", func(t *testing.T) {
		var id int64
		require.NoError(t, pool.QueryRow(ctx, `SELECT cachewarm.enqueue_warm('t001', ARRAY['medium', 'critical'])`).Scan(&id))
		jobs := jobsOf(t, pool, `(args ->> 'workflow_id')::bigint = $1`, id)
		require.Len(t, jobs, 1, "one job: the first phase; the next is chained on completion")
		var args map[string]any
		require.NoError(t, json.Unmarshal(jobs[0].Args, &args))
		require.Equal(t, map[string]any{"workflow_id": float64(id), "tenant_id": "t001", "phase": "critical", "next": []any{"medium"}}, args)

		var again int64
		require.NoError(t, pool.QueryRow(ctx, `SELECT cachewarm.enqueue_warm('t001')`).Scan(&again))
		require.Equal(t, id, again, "the tenant's active workflow is returned, not a second one")
		require.Len(t, jobsOf(t, pool, `args ->> 'tenant_id' = 't001'`), 1)
	})

	t.Run("all", func(t *testing.T) {
		var n int
		require.NoError(t, pool.QueryRow(ctx, `SELECT cachewarm.enqueue_warm_all()`).Scan(&n))
		require.Equal(t, 3, n)
		var runs int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM cachewarm.workflow_runs WHERE state = 'queued'`).Scan(&runs))
		require.Equal(t, 3, runs, "t001 kept its workflow; t002 and t003 got one each")
		phaseJobs := jobsOf(t, pool, `kind = 'cachewarm.warm_phase'`)
		require.Len(t, phaseJobs, 3)
		for _, j := range phaseJobs {
			require.Equal(t, "available", j.State)
		}
	})

	t.Run("in the caller's transaction", func(t *testing.T) {
		before := countJobs(t, pool)
		tx, err := pool.Begin(ctx)
		require.NoError(t, err)
		_, err = tx.Exec(ctx, `UPDATE tenants SET active = false WHERE id = 't003'`)
		require.NoError(t, err)
		_, err = tx.Exec(ctx, `SELECT cachewarm.enqueue_warm('t003')`)
		require.ErrorContains(t, err, "unknown tenant 't003'", "an inactive tenant is refused")
		require.NoError(t, tx.Rollback(ctx))
		require.Equal(t, before, countJobs(t, pool))
	})
}

// TestSQLInsertedJobsMatchGoAndRun checks that the rows the SQL functions insert are the rows
// River's Go client inserts for the same work (kind, queue, priority, attempts, args), and that
// a worker runs them to completion.
func TestSQLInsertedJobsMatchGoAndRun(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, 2)
	ctx := context.Background()
	pool := env.Pool

	// The Go path, inserted (not run) by an insert-only client.
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Schema: migrations.Schema, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	svc := workflows.New(pool, slog.New(slog.DiscardHandler))
	goRuns, err := svc.Start(ctx, client, workflows.Request{Tenants: []string{"t002"}, Phases: catalog.Phases, Trigger: "test"})
	require.NoError(t, err)
	_, err = client.Insert(ctx, jobs.WarmDatasetsArgs{TenantID: "t002", Datasets: []string{"vendors"}, Reason: "change"}, nil)
	require.NoError(t, err)

	var sqlRun int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT cachewarm.enqueue_warm('t001', ARRAY['critical', 'high', 'medium'])`).Scan(&sqlRun))
	var queued int
	require.NoError(t, pool.QueryRow(ctx, `SELECT cachewarm.enqueue_dataset_warm('t001', ARRAY['vendors'], 'change')`).Scan(&queued))
	require.Equal(t, 1, queued)

	same := func(goJob, sqlJob jobRow, goArgs, sqlArgs any) {
		t.Helper()
		require.Equal(t, goJob.Kind, sqlJob.Kind)
		require.Equal(t, goJob.Queue, sqlJob.Queue)
		require.Equal(t, goJob.Priority, sqlJob.Priority)
		require.Equal(t, goJob.MaxAttempts, sqlJob.MaxAttempts)
		require.Equal(t, goJob.State, sqlJob.State)
		require.Equal(t, goJob.Tags, sqlJob.Tags)
		require.JSONEq(t, string(goJob.Metadata), string(sqlJob.Metadata))
		require.NoError(t, json.Unmarshal(goJob.Args, goArgs))
		require.NoError(t, json.Unmarshal(sqlJob.Args, sqlArgs))
	}
	goPhase := jobsOf(t, pool, `kind = 'cachewarm.warm_phase' AND args ->> 'tenant_id' = 't002'`)
	sqlPhase := jobsOf(t, pool, `kind = 'cachewarm.warm_phase' AND args ->> 'tenant_id' = 't001'`)
	require.Len(t, goPhase, 1)
	require.Len(t, sqlPhase, 1)
	var ga, sa jobs.WarmPhaseArgs
	same(goPhase[0], sqlPhase[0], &ga, &sa)
	require.Equal(t, jobs.WarmPhaseArgs{WorkflowID: goRuns[0].ID, TenantID: "t002", Phase: catalog.PhaseCritical, Next: []catalog.Phase{catalog.PhaseHigh, catalog.PhaseMedium}}, ga)
	require.Equal(t, jobs.WarmPhaseArgs{WorkflowID: sqlRun, TenantID: "t001", Phase: catalog.PhaseCritical, Next: []catalog.Phase{catalog.PhaseHigh, catalog.PhaseMedium}}, sa)

	goDS := jobsOf(t, pool, `kind = 'cachewarm.warm_datasets' AND args ->> 'tenant_id' = 't002'`)
	sqlDS := jobsOf(t, pool, `kind = 'cachewarm.warm_datasets' AND args ->> 'tenant_id' = 't001'`)
	require.Len(t, goDS, 1)
	require.Len(t, sqlDS, 1)
	var gd, sd jobs.WarmDatasetsArgs
	same(goDS[0], sqlDS[0], &gd, &sd)
	require.Equal(t, jobs.WarmDatasetsArgs{TenantID: "t002", Datasets: []string{"vendors"}, Reason: "change"}, gd)
	require.Equal(t, jobs.WarmDatasetsArgs{TenantID: "t001", Datasets: []string{"vendors"}, Reason: "change"}, sd)

	// A worker runs both kinds of row alike.
	env.StartWorker(t, env.Config(t, nil), nil)
	env.WaitWorkflows(t, time.Minute)
	require.Eventually(t, func() bool {
		var left int
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM cachewarm.river_job WHERE state <> 'completed'`).Scan(&left)
		return left == 0
	}, 30*time.Second, 20*time.Millisecond, "every job completes")
	var state string
	require.NoError(t, pool.QueryRow(ctx, `SELECT state FROM cachewarm.workflow_runs WHERE id = $1`, sqlRun).Scan(&state))
	require.Equal(t, workflows.StateCompleted, state)
	rows, err := pool.Query(ctx, `SELECT phase FROM cachewarm.workflow_phases WHERE workflow_id = $1 ORDER BY finished_at`, sqlRun)
	require.NoError(t, err)
	phases, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{"critical", "high", "medium"}, phases)
	for _, key := range []string{"finance:coa:t001", "sales:vendor:t001:vendorId:1", "finance:coa:t002"} {
		n, err := env.Redis.Exists(ctx, key).Result()
		require.NoError(t, err)
		require.EqualValues(t, 1, n, key)
	}
}

func TestJobStatusShowsRetries(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, 1)
	ctx := context.Background()
	cat := fixture.CatalogWith(t, map[string]string{"broken": fixture.BrokenDataset(catalog.PhaseHigh)})
	_, err := migrations.Migrate(ctx, env.Pool, cat, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	env.StartWorker(t, env.Config(t, nil), cat)

	var wf int64
	require.NoError(t, env.Pool.QueryRow(ctx, `SELECT cachewarm.enqueue_warm('t001', ARRAY['critical'])`).Scan(&wf))
	_, err = env.Pool.Exec(ctx, `SELECT cachewarm.enqueue_dataset_warm('t001', ARRAY['broken'])`)
	require.NoError(t, err)
	env.WaitWorkflows(t, 30*time.Second)

	type status struct {
		Tenant, PhaseOrDataset, State string
		Attempt, MaxAttempts          int
		LastError                     *string
		ScheduledAt                   time.Time
		WorkflowID                    *int64
	}
	read := func(kind string) status {
		var s status
		require.NoError(t, env.Pool.QueryRow(ctx, `
SELECT tenant_id, phase_or_dataset, state, attempt, max_attempts, last_error, scheduled_at, workflow_id
FROM cachewarm.job_status WHERE kind = $1`, kind).Scan(&s.Tenant, &s.PhaseOrDataset, &s.State, &s.Attempt, &s.MaxAttempts, &s.LastError, &s.ScheduledAt, &s.WorkflowID))
		return s
	}
	var failed status
	require.Eventually(t, func() bool {
		failed = read("cachewarm.warm_datasets")
		return failed.LastError != nil
	}, 10*time.Second, 10*time.Millisecond)
	// River leaves a retry due within seconds "available", scheduled at the retry time.
	require.Contains(t, []string{"retryable", "available"}, failed.State)
	require.Equal(t, "t001", failed.Tenant)
	require.Equal(t, "broken", failed.PhaseOrDataset)
	require.Equal(t, 1, failed.Attempt)
	require.Equal(t, jobcontract.MaxAttempts, failed.MaxAttempts)
	require.NotNil(t, failed.LastError)
	require.Contains(t, *failed.LastError, "division by zero")
	require.WithinDuration(t, time.Now().Add(time.Second), failed.ScheduledAt, 2*time.Second, "the retry is scheduled after the backoff")
	require.Nil(t, failed.WorkflowID)

	ok := read("cachewarm.warm_phase")
	require.Equal(t, status{Tenant: "t001", PhaseOrDataset: "critical", State: "completed", Attempt: 1, MaxAttempts: jobcontract.MaxAttempts,
		ScheduledAt: ok.ScheduledAt, WorkflowID: &wf}, ok)
}

// TestSQLTenantRuleIsGos: the database's tenant id rule accepts exactly what cache.ParseTenant
// accepts.
func TestSQLTenantRuleIsGos(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, 1)
	ids := []string{"t001", "A-z_09", "", " t001", "t001\n", "acme.corp", "a:b", "a*", "é", "x{t002}",
		strings.Repeat("a", cache.MaxTenantLen), strings.Repeat("a", cache.MaxTenantLen+1)}
	for _, id := range ids {
		var valid bool
		require.NoError(t, env.Pool.QueryRow(context.Background(), `SELECT cachewarm.valid_tenant_id($1)`, id).Scan(&valid))
		_, err := cache.ParseTenant(id)
		require.Equal(t, err == nil, valid, "%q", id)
	}
}
