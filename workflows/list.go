package workflows

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cachewarm/cachewarm/internal/jobcontract"
	"github.com/jackc/pgx/v5"
)

// Filter selects workflows to list.
type Filter struct {
	// Tenant, if set, lists only that tenant's workflows.
	Tenant string
	// Failed lists only workflows that ended partial or failed.
	Failed bool
	// Limit caps the number listed (default 20).
	Limit int
}

// Summary is one workflow run with its phases.
type Summary struct {
	ID          int64      `json:"id"`
	Tenant      string     `json:"tenant"`
	Trigger     string     `json:"trigger"`
	State       string     `json:"state"`
	Phases      []string   `json:"phases"`
	CreatedAt   time.Time  `json:"createdAt"`
	StartedAt   *time.Time `json:"startedAt,omitempty"`
	FinishedAt  *time.Time `json:"finishedAt,omitempty"`
	Keys        int64      `json:"keysWritten"`
	Bytes       int64      `json:"bytesWritten"`
	Failures    []Failure  `json:"failures"`
	PhaseDetail []Phase    `json:"phaseDetail"`
}

// Failure is a dataset that exhausted its retries.
type Failure struct {
	Phase   string `json:"phase"`
	Dataset string `json:"dataset"`
	Error   string `json:"error"`
}

// Phase is one phase of a workflow: finished (from workflow_phases) or still in the job
// table (state, attempt and last error from River).
type Phase struct {
	Phase       string     `json:"phase"`
	State       string     `json:"state"`
	JobID       int64      `json:"jobId,omitempty"`
	Attempt     int        `json:"attempt"`
	MaxAttempts int        `json:"maxAttempts,omitempty"`
	Keys        int64      `json:"keysWritten"`
	DurationMS  *int64     `json:"durationMs,omitempty"`
	LastError   string     `json:"lastError,omitempty"`
	FinishedAt  *time.Time `json:"finishedAt,omitempty"`
}

// List returns recent workflows, newest first.
func (s *Service) List(ctx context.Context, f Filter) ([]Summary, error) {
	if f.Limit <= 0 {
		f.Limit = 20
	}
	args := []any{f.Limit}
	if f.Tenant != "" {
		args = append(args, f.Tenant)
	}
	rows, err := s.pool.Query(ctx, ListSQL(f.Tenant != "", f.Failed), args...)
	if err != nil {
		return nil, fmt.Errorf("list workflows: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Summary, error) {
		var sm Summary
		var failures, phases []byte
		err := r.Scan(&sm.ID, &sm.Tenant, &sm.Trigger, &sm.State, &sm.Phases, &sm.CreatedAt, &sm.StartedAt,
			&sm.FinishedAt, &sm.Keys, &sm.Bytes, &failures, &phases)
		if err != nil {
			return sm, err
		}
		if err := json.Unmarshal(failures, &sm.Failures); err != nil {
			return sm, err
		}
		return sm, json.Unmarshal(phases, &sm.PhaseDetail)
	})
	if err != nil {
		return nil, fmt.Errorf("list workflows: %w", err)
	}
	return out, nil
}

// pruneBatch is how many workflows one statement of Prune deletes.
const pruneBatch = 5000

// Prune deletes the workflows (with their phases) that finished more than retention ago,
// oldest first, in batches of pruneBatch, and returns how many. Queued and running workflows
// are kept, however old. The warms recorded (cachewarm.warms) that ended as long ago go too.
func (s *Service) Prune(ctx context.Context, retention time.Duration) (int64, error) {
	if _, err := s.pool.Exec(ctx, `DELETE FROM cachewarm.warms WHERE finished_at < now() - $1::bigint * interval '1 microsecond'`, retention.Microseconds()); err != nil {
		return 0, fmt.Errorf("prune warms: %w", err)
	}
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, pruneSQL, retention.Microseconds(), pruneBatch)
		if err != nil {
			return total, fmt.Errorf("prune workflows: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < pruneBatch {
			return total, nil
		}
	}
}

const pruneSQL = `
DELETE FROM cachewarm.workflow_runs WHERE id IN (
    SELECT id FROM cachewarm.workflow_runs
    WHERE state NOT IN ('queued', 'running') AND finished_at < now() - $1::bigint * interval '1 microsecond'
    ORDER BY finished_at
    LIMIT $2)`

// ListSQL is List's query; its parameters are the limit ($1) and, if byTenant, the tenant
// ($2). Each filter is in the text only when asked for, so that the planner can use
// the partial indexes of unsuccessful workflows (a parameter standing for "failed or not"
// would keep it from proving that a row is unsuccessful).
func ListSQL(byTenant, failed bool) string {
	where := "WHERE true"
	if byTenant {
		where += " AND r.tenant_id = $2::text"
	}
	if failed {
		where += " AND r.state IN ('partial', 'failed', 'cancelled')"
	}
	return listSelect + where + `
ORDER BY r.created_at DESC, r.id DESC
LIMIT $1`
}

// listSelect reads a workflow's phases: those finished (workflow_phases) and those still in
// the job table (found through River's index of job args).
const listSelect = `
SELECT r.id, r.tenant_id, r.trigger, r.state, r.phases, r.created_at, r.started_at, r.finished_at,
       r.keys_written, r.bytes_written, r.failures,
       coalesce((
         SELECT json_agg(x ORDER BY array_position(r.phases, x.phase))
         FROM (
           SELECT p.phase, p.state, p.job_id AS "jobId", p.attempts AS attempt, 0 AS "maxAttempts",
                  p.keys_written AS "keysWritten",
                  (extract(epoch FROM p.finished_at - p.started_at) * 1000)::bigint AS "durationMs",
                  coalesce(p.failures -> 0 ->> 'error', 'skipped: ' || p.skip_reason, '') AS "lastError", p.finished_at AS "finishedAt"
           FROM cachewarm.workflow_phases p WHERE p.workflow_id = r.id
           UNION ALL
           SELECT j.args ->> 'phase', j.state::text, j.id, j.attempt, j.max_attempts, 0, NULL,
                  coalesce(j.errors[array_length(j.errors, 1)] ->> 'error', ''), NULL
           FROM cachewarm.river_job j
           WHERE j.kind = '` + jobcontract.KindWarmPhase + `' AND j.args @> jsonb_build_object('workflow_id', r.id)
             AND j.state NOT IN ('completed')
             AND NOT EXISTS (SELECT 1 FROM cachewarm.workflow_phases p2
                             WHERE p2.workflow_id = r.id AND p2.phase = j.args ->> 'phase')
         ) AS x), '[]')
FROM cachewarm.workflow_runs r
`
