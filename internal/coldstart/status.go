package coldstart

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	// latestSQL is the latest cold start with its progress: workflows still active and dataset
	// re-warms still to run (a workflow or job pruned since is done).
	latestSQL = `
SELECT c.id, c.detected_at, c.node, c.keys_seen_before, c.tenants, c.finished_at,
       (SELECT count(*) FROM cachewarm.workflow_runs r
        WHERE r.id = ANY(c.workflow_ids) AND r.state IN ('queued', 'running'))::int,
       (SELECT count(*) FROM cachewarm.river_job j
        WHERE j.id = ANY(c.job_ids) AND j.finalized_at IS NULL)::int
FROM cachewarm.cold_starts c
ORDER BY c.id DESC
LIMIT 1`

	insertSQL = `
INSERT INTO cachewarm.cold_starts (node, keys_seen_before, tenants, workflow_ids, job_ids)
VALUES ($1, $2, $3, $4, $5)
RETURNING id, detected_at`

	// finishSQL closes cold start $1 at the end of its last workflow or job.
	finishSQL = `
UPDATE cachewarm.cold_starts c
SET finished_at = coalesce(greatest(
        (SELECT max(r.finished_at) FROM cachewarm.workflow_runs r WHERE r.id = ANY(c.workflow_ids)),
        (SELECT max(j.finalized_at) FROM cachewarm.river_job j WHERE j.id = ANY(c.job_ids))), now())
WHERE c.id = $1 AND c.finished_at IS NULL
RETURNING c.finished_at`

	// everWarmedSQL tells a new install (nothing ever warmed) from a cold start.
	everWarmedSQL = `SELECT EXISTS (SELECT 1 FROM cachewarm.workflow_phases) OR EXISTS (SELECT 1 FROM cachewarm.cold_starts)`
)

// Status is the latest cold start and how far its re-warm is.
type Status struct {
	ID         int64
	DetectedAt time.Time
	// Node names the Redis master(s) found empty.
	Node string
	// KeysBefore is how many keys the node(s) held at the last good check (0: unknown).
	KeysBefore int64
	// Tenants is how many tenants the re-warm covers.
	Tenants int
	// FinishedAt is when the re-warm ended, once the leader has seen it end.
	FinishedAt *time.Time
	// Active is how many of its workflows are still queued or running; JobsLeft how many of
	// its dataset re-warms are still to run.
	Active, JobsLeft int
}

// Done reports whether the re-warm is over.
func (s Status) Done() bool { return s.FinishedAt != nil || s.Active == 0 && s.JobsLeft == 0 }

// Reason says why the cache is degraded while the re-warm runs, for /health.
func (s Status) Reason() string {
	return fmt.Sprintf("cache cold: Redis came back empty at %s UTC (%s); re-warming %d tenants, %d done",
		s.DetectedAt.UTC().Format(time.TimeOnly), s.Node, s.Tenants, max(s.Tenants-s.Active, 0))
}

// Latest returns the latest cold start, or nil when there has been none.
func Latest(ctx context.Context, db interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (*Status, error) {
	var s Status
	err := db.QueryRow(ctx, latestSQL).Scan(&s.ID, &s.DetectedAt, &s.Node, &s.KeysBefore, &s.Tenants, &s.FinishedAt, &s.Active, &s.JobsLeft)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("latest cold start: %w", err)
	}
	return &s, nil
}

// Reason returns why the cache is cold while the latest cold start's re-warm runs, and ""
// when it is done, when there has been none, or when the database cannot say.
func Reason(ctx context.Context, db interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) string {
	s, err := Latest(ctx, db)
	if err != nil || s == nil || s.Done() {
		return ""
	}
	return s.Reason()
}
