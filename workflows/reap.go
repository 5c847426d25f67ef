package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cachewarm/cachewarm/internal/warm"
	"github.com/cachewarm/cachewarm/jobs"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// Reap repairs workflows whose current phase job ended without completing: discarded (a
// panic or a killed worker on its last attempt, which River's rescuer then discards) or
// cancelled (from River UI). A discarded phase is recorded as failed and the workflow goes on
// with its next phase, as after a failed last attempt; a cancelled one ends the workflow as
// cancelled. Without this, such a tenant would keep an active workflow forever and never be
// warmed again. It returns how many workflows it repaired.
func (s *Service) Reap(ctx context.Context, client *river.Client[pgx.Tx]) (int, error) {
	rows, err := s.pool.Query(ctx, orphanedPhasesSQL)
	if err != nil {
		return 0, fmt.Errorf("find orphaned workflows: %w", err)
	}
	type orphan struct {
		JobID    int64
		State    string
		Args     []byte
		Attempt  int
		Created  time.Time
		Finished time.Time
		LastErr  string
	}
	orphans, err := pgx.CollectRows(rows, pgx.RowToStructByPos[orphan])
	if err != nil {
		return 0, fmt.Errorf("find orphaned workflows: %w", err)
	}
	for _, o := range orphans {
		var args jobs.WarmPhaseArgs
		if err := json.Unmarshal(o.Args, &args); err != nil {
			return 0, fmt.Errorf("job %d: %w", o.JobID, err)
		}
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			// Lock the run and look again: another reaper may have repaired it meanwhile.
			var still bool
			if err := tx.QueryRow(ctx, lockOrphanSQL, args.WorkflowID, string(args.Phase)).Scan(&still); err != nil {
				return err
			}
			if !still {
				return nil
			}
			if o.State == "cancelled" {
				_, err := tx.Exec(ctx, cancelWorkflowSQL, args.WorkflowID)
				return err
			}
			msg := fmt.Sprintf("phase job %d was %s after %d attempt(s): %s", o.JobID, o.State, o.Attempt, o.LastErr)
			return s.CompletePhase(ctx, tx, client, jobs.PhaseOutcome{
				Args: args, JobID: o.JobID, Attempts: o.Attempt, QueuedAt: o.Created, Started: o.Finished,
				Results: []warm.Result{{Dataset: "*", Err: errors.New(msg)}},
			})
		})
		if err != nil {
			return 0, fmt.Errorf("repair workflow %d: %w", args.WorkflowID, err)
		}
		s.logger.WarnContext(ctx, "workflow repaired", "workflow", args.WorkflowID, "tenant", args.TenantID, "phase", args.Phase, "job_state", o.State)
	}
	return len(orphans), nil
}
