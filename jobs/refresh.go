package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/jobcontract"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// RefreshArgs is a refresh-ahead fan-out: a periodic job (enqueued by the elected leader only)
// that starts a one-phase workflow for every active tenant, spread over Spread so a refresh of
// a thousand tenants does not stampede the database.
type RefreshArgs struct {
	Phase  catalog.Phase `json:"phase"`
	Spread time.Duration `json:"spread"`
}

// Kind is the permanent job kind.
func (RefreshArgs) Kind() string { return jobcontract.KindRefresh }

// InsertOpts makes a refresh unique while it waits or runs (not once completed: that would
// block the next period's refresh until the completed row is cleaned).
func (a RefreshArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       jobcontract.QueueWarm,
		Priority:    a.Phase.Priority(),
		MaxAttempts: 3,
		UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
			rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
			rivertype.JobStateRetryable, rivertype.JobStateScheduled,
		}},
	}
}

// StartFunc starts one-phase workflows for every active tenant, each delayed by a random time
// up to spread, and returns how many it started (package workflows provides it).
type StartFunc func(ctx context.Context, client *river.Client[pgx.Tx], p catalog.Phase, spread time.Duration) (int, error)

// RefreshWorker runs refresh fan-outs.
type RefreshWorker struct {
	river.WorkerDefaults[RefreshArgs]
	start   StartFunc
	logger  *slog.Logger
	timeout time.Duration
}

// NewRefreshWorker returns the worker; timeout bounds one attempt (config.Config.JobTimeout).
func NewRefreshWorker(start StartFunc, timeout time.Duration, logger *slog.Logger) *RefreshWorker {
	return &RefreshWorker{start: start, timeout: timeout, logger: logger}
}

// Timeout bounds one attempt.
func (w *RefreshWorker) Timeout(*river.Job[RefreshArgs]) time.Duration {
	return w.timeout
}

// Work starts the workflows.
func (w *RefreshWorker) Work(ctx context.Context, job *river.Job[RefreshArgs]) error {
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return err
	}
	n, err := w.start(ctx, client, job.Args.Phase, job.Args.Spread)
	if err != nil {
		return fmt.Errorf("refresh %s: %w", job.Args.Phase, err)
	}
	w.logger.InfoContext(ctx, "refresh-ahead started", "phase", job.Args.Phase, "workflows", n, "spread", job.Args.Spread)
	return nil
}

// RefreshSpread is the fan-out spread for a refresh on schedule s: a tenth of its period, at
// most a minute.
func RefreshSpread(next func(time.Time) time.Time) time.Duration {
	now := time.Now()
	a := next(now)
	return min(next(a).Sub(a)/10, time.Minute)
}
