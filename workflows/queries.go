package workflows

import "github.com/cachewarm/cachewarm/internal/jobcontract"

const (
	// The active tenants come from tenants.sql, which migrate installs as active_tenants().
	// demandTenantsSQL lists them in order of predicted demand (package demand), most read
	// first, unranked ones last: a warm of every tenant inserts their workflows in this order.
	demandTenantsSQL = `
SELECT t.id FROM cachewarm.active_tenants() AS t(id)
LEFT JOIN cachewarm.tenant_demand d ON d.tenant_id = t.id
ORDER BY d.score DESC NULLS LAST, t.id`
	knownTenantsSQL = `SELECT t.id FROM cachewarm.active_tenants() AS t(id) WHERE t.id = ANY($1::text[]) ORDER BY t.id`
	tenantExistsSQL = `SELECT EXISTS (SELECT 1 FROM cachewarm.active_tenants() AS t(id) WHERE t.id = $1)`

	// insertRunsSQL starts a run for each tenant that has no active one; the partial unique
	// index workflow_runs_one_active makes concurrent starts for one tenant agree.
	insertRunsSQL = `
INSERT INTO cachewarm.workflow_runs (tenant_id, trigger, phases)
SELECT u.t, $2::text, $3::text[] FROM unnest($1::text[]) WITH ORDINALITY AS u(t, n) ORDER BY u.n
ON CONFLICT (tenant_id) WHERE state IN ('queued', 'running') DO NOTHING
RETURNING id, tenant_id, false`

	activeRunsSQL = `
SELECT id, tenant_id, true FROM cachewarm.workflow_runs
WHERE state IN ('queued', 'running') AND tenant_id = ANY($1::text[]) AND NOT tenant_id = ANY($2::text[])`

	// busyWithoutPhaseSQL: the tenants of active workflows $1 that do not run phase $2 and
	// have no refresh re-warm of its datasets $3 waiting.
	busyWithoutPhaseSQL = `
SELECT r.tenant_id FROM cachewarm.workflow_runs r
WHERE r.id = ANY($1::bigint[]) AND r.state IN ('queued', 'running') AND NOT $2::text = ANY(r.phases)
  AND NOT EXISTS (
      SELECT 1 FROM cachewarm.river_job j
      WHERE j.kind = '` + jobcontract.KindWarmDatasets + `' AND j.state IN ('available', 'scheduled', 'retryable', 'pending')
        AND j.args @> jsonb_build_object('tenant_id', r.tenant_id, 'reason', 'refresh', 'datasets', to_jsonb($3::text[])))
ORDER BY r.tenant_id`

	phaseDatasetsSQL = `SELECT coalesce(array_agg(name ORDER BY name), '{}') FROM cachewarm.datasets WHERE phase = $1`

	// markRunningSQL finds the row by its key only. A plain "state = 'queued'" would qualify
	// the partial index workflow_runs_one_active (active workflows), which the planner
	// prefers whenever its statistics count few active workflows, as they do before a warm
	// of every tenant: each call then scanned all of them (docs/benchmarks.md, "History of
	// the changes").
	markRunningSQL = `
UPDATE cachewarm.workflow_runs SET state = 'running', started_at = coalesce(started_at, $2)
WHERE id = $1 AND coalesce(state, '') = 'queued'`

	recordPhaseSQL = `
WITH phase AS (
    INSERT INTO cachewarm.workflow_phases
        (workflow_id, phase, state, job_id, attempts, queued_at, started_at, finished_at, keys_written, bytes_written, failures, next_job_id, skip_reason)
    VALUES ($1, $2, $3, $4, $5, $6, $7, now(), $8, $9, $10::jsonb, $11, $12)
    ON CONFLICT (workflow_id, phase) DO UPDATE SET
        state = excluded.state, job_id = excluded.job_id, attempts = excluded.attempts, next_job_id = excluded.next_job_id,
        skip_reason = excluded.skip_reason,
        started_at = excluded.started_at, finished_at = excluded.finished_at,
        keys_written = excluded.keys_written, bytes_written = excluded.bytes_written, failures = excluded.failures
)
UPDATE cachewarm.workflow_runs
SET keys_written = keys_written + $8, bytes_written = bytes_written + $9,
    failures = failures || $10::jsonb, state = 'running', started_at = coalesce(started_at, $7)
WHERE id = $1`

	// finishSQL closes a workflow after its last phase. It reads workflow_phases, which the
	// same transaction has just written. A workflow with a phase skipped by the memory budget
	// ends partial.
	finishSQL = `
UPDATE cachewarm.workflow_runs r
SET finished_at = now(),
    state = CASE
        WHEN p.failed = 0 AND p.skipped = 0 THEN 'completed'
        WHEN p.failed = cardinality(r.phases) THEN 'failed'
        ELSE 'partial' END
FROM (SELECT count(*) FILTER (WHERE state = 'failed') AS failed, count(*) FILTER (WHERE state = 'skipped') AS skipped
      FROM cachewarm.workflow_phases WHERE workflow_id = $1) AS p
WHERE r.id = $1`

	// notifySQL wakes every worker's producer for a queue, as River's own insert
	// notification does (channel <schema>.river_insert).
	notifySQL = `SELECT pg_notify('cachewarm.river_insert', json_build_object('queue', $1::text)::text)`
)

const (
	progressRunsSQL = `
SELECT count(*) FILTER (WHERE finished_at IS NOT NULL OR state = 'cancelled'),
       count(*) FILTER (WHERE state = 'completed'),
       coalesce(sum(keys_written), 0)::bigint, coalesce(sum(bytes_written), 0)::bigint
FROM cachewarm.workflow_runs WHERE id = ANY($1::bigint[])`

	progressPhasesSQL = `
SELECT ph, count(p.workflow_id)::int, count(*)::int
FROM cachewarm.workflow_runs r
CROSS JOIN LATERAL unnest(r.phases) AS ph
LEFT JOIN cachewarm.workflow_phases p ON p.workflow_id = r.id AND p.phase = ph
WHERE r.id = ANY($1::bigint[])
GROUP BY ph`
)

const (
	// orphanedPhasesSQL finds phase jobs that ended discarded or cancelled while their
	// workflow is still active and has no record of the phase.
	orphanedPhasesSQL = `
SELECT j.id, j.state::text, j.args::text::bytea, j.attempt::int, j.created_at, coalesce(j.finalized_at, now()),
       coalesce(j.errors[array_length(j.errors, 1)] ->> 'error', '')
FROM cachewarm.river_job j
JOIN cachewarm.workflow_runs r ON r.id = (j.args ->> 'workflow_id')::bigint
WHERE j.kind = '` + jobcontract.KindWarmPhase + `' AND j.state IN ('discarded', 'cancelled')
  AND r.state IN ('queued', 'running')
  AND NOT EXISTS (SELECT 1 FROM cachewarm.workflow_phases p WHERE p.workflow_id = r.id AND p.phase = j.args ->> 'phase')
ORDER BY j.id`

	lockOrphanSQL = `
SELECT EXISTS (
    SELECT 1 FROM cachewarm.workflow_runs r
    WHERE r.id = $1 AND r.state IN ('queued', 'running')
      AND NOT EXISTS (SELECT 1 FROM cachewarm.workflow_phases p WHERE p.workflow_id = r.id AND p.phase = $2)
    FOR UPDATE OF r)`

	cancelWorkflowSQL = `
UPDATE cachewarm.workflow_runs SET state = 'cancelled', finished_at = now()
WHERE id = $1 AND state IN ('queued', 'running')`
)

// busyProgressSQL: for each active workflow $1, its tenant, state, phases and finished
// phases (for StartColdTx).
const busyProgressSQL = `
SELECT r.tenant_id, r.state, r.phases, coalesce(array_agg(p.phase) FILTER (WHERE p.phase IS NOT NULL), '{}')
FROM cachewarm.workflow_runs r
LEFT JOIN cachewarm.workflow_phases p ON p.workflow_id = r.id
WHERE r.id = ANY($1::bigint[]) AND r.state IN ('queued', 'running')
GROUP BY r.id
ORDER BY r.tenant_id`
