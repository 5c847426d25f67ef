package workflows

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/jobcontract"
	"github.com/cachewarm/cachewarm/jobs"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// MarkRunning records that workflow id has started: its first phase job began at started.
func (s *Service) MarkRunning(ctx context.Context, id int64, started time.Time) error {
	if _, err := s.pool.Exec(ctx, markRunningSQL, id, started); err != nil {
		return fmt.Errorf("mark workflow %d running: %w", id, err)
	}
	return nil
}

// failure is one dataset that exhausted its retries, as stored in the failures columns.
type failure struct {
	Phase   catalog.Phase `json:"phase"`
	Dataset string        `json:"dataset"`
	Error   string        `json:"error"`
}

// PhaseSkipped is the state of a phase the memory budget did not let write (package budget):
// its workflow ends partial.
const PhaseSkipped = "skipped"

// CompletePhase records a finished (or skipped) phase inside tx, then either inserts the next
// phase (and wakes the workers at once: River debounces its own insert notifications, which
// would leave the next step waiting for the poll) or, after the last phase, closes the
// workflow as completed, partial (some datasets failed) or failed (every phase failed).
func (s *Service) CompletePhase(ctx context.Context, tx pgx.Tx, client *river.Client[pgx.Tx], o jobs.PhaseOutcome) error {
	var keys, bytes int64
	failures := []failure{}
	for _, r := range o.Results {
		keys += int64(r.Keys)
		bytes += r.Bytes
		if r.Err != nil {
			failures = append(failures, failure{Phase: o.Args.Phase, Dataset: r.Dataset, Error: r.Err.Error()})
		}
	}
	state := StateCompleted
	if len(failures) > 0 {
		state = StateFailed
	}
	var skipReason *string
	if o.Skipped != "" {
		state, skipReason = PhaseSkipped, &o.Skipped
	}
	fj, err := json.Marshal(failures)
	if err != nil {
		return err
	}
	id := o.Args.WorkflowID
	var nextJob *int64
	if len(o.Args.Next) > 0 {
		next := jobs.WarmPhaseArgs{WorkflowID: id, TenantID: o.Args.TenantID, Phase: o.Args.Next[0], Next: o.Args.Next[1:], Chained: true}
		res, err := client.InsertTx(ctx, tx, next, nil)
		if err != nil {
			return fmt.Errorf("insert phase %s: %w", next.Phase, err)
		}
		nextJob = &res.Job.ID
		if _, err := tx.Exec(ctx, notifySQL, jobcontract.QueueWarm); err != nil {
			return fmt.Errorf("notify: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, recordPhaseSQL, id, string(o.Args.Phase), state, o.JobID, o.Attempts,
		o.QueuedAt, o.Started, keys, bytes, string(fj), nextJob, skipReason); err != nil {
		return fmt.Errorf("record phase: %w", err)
	}
	if nextJob == nil {
		if _, err := tx.Exec(ctx, finishSQL, id); err != nil {
			return fmt.Errorf("finish workflow %d: %w", id, err)
		}
	}
	return nil
}
