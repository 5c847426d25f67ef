package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/cachewarm/cachewarm/internal/jobcontract"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// ReapArgs is the periodic repair of workflows whose phase job was discarded or cancelled
// (see workflows.Service.Reap), and the deletion of finished workflows past their retention
// (workflows.Service.Prune). The elected leader enqueues it every minute.
type ReapArgs struct{}

// Kind is the permanent job kind.
func (ReapArgs) Kind() string { return jobcontract.KindReap }

// InsertOpts makes the repair unique while it waits or runs.
func (ReapArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue: jobcontract.QueueWarm, Priority: 1, MaxAttempts: 3,
		UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{
			rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
			rivertype.JobStateRetryable, rivertype.JobStateScheduled,
		}},
	}
}

// ReapInterval is how often the leader repairs workflows.
const ReapInterval = time.Minute

// ReapFunc repairs workflows and returns how many (package workflows provides it).
type ReapFunc func(ctx context.Context, client *river.Client[pgx.Tx]) (int, error)

// PruneFunc deletes finished workflows past their retention and returns how many.
type PruneFunc func(ctx context.Context) (int64, error)

// ReapWorker runs the repair, then the pruning.
type ReapWorker struct {
	river.WorkerDefaults[ReapArgs]
	reap   ReapFunc
	prune  PruneFunc
	logger *slog.Logger
}

// NewReapWorker returns the worker; a nil prune keeps every workflow.
func NewReapWorker(reap ReapFunc, prune PruneFunc, logger *slog.Logger) *ReapWorker {
	return &ReapWorker{reap: reap, prune: prune, logger: logger}
}

// Work repairs what needs it, then deletes what is past its retention.
func (w *ReapWorker) Work(ctx context.Context, job *river.Job[ReapArgs]) error {
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return err
	}
	if _, err := w.reap(ctx, client); err != nil {
		return fmt.Errorf("reap workflows: %w", err)
	}
	if w.prune == nil {
		return nil
	}
	n, err := w.prune(ctx)
	if err != nil {
		return fmt.Errorf("prune workflows: %w", err)
	}
	if n > 0 {
		w.logger.InfoContext(ctx, "finished workflows past their retention deleted", "workflows", n)
	}
	return nil
}
