package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/jobcontract"
	"github.com/cachewarm/cachewarm/internal/warm"
	"github.com/riverqueue/river"
)

// WarmDatasetsArgs re-warms some datasets of one tenant: inserted by the change triggers (one
// job per changed tenant x dataset, straight into the job table) and by invalidation.
type WarmDatasetsArgs struct {
	TenantID string   `json:"tenant_id"`
	Datasets []string `json:"datasets"`
	// Reason says what asked for the re-warm: change, invalidate, api, sql.
	Reason string `json:"reason,omitempty"`
}

// Kind is the permanent job kind.
func (WarmDatasetsArgs) Kind() string { return jobcontract.KindWarmDatasets }

// InsertOpts puts the job on the change queue, which a full warm never holds up.
func (WarmDatasetsArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobcontract.QueueChange, Priority: jobcontract.ChangePriority, MaxAttempts: jobcontract.MaxAttempts}
}

// DatasetsOutcome is reported for every finished dataset job (for metrics).
type DatasetsOutcome struct {
	Args WarmDatasetsArgs
	// Inserted is when the job was inserted: for a change, when the changing transaction ran.
	Inserted time.Time
	Results  []warm.Result
}

// WarmDatasetsWorker re-warms datasets of a tenant.
type WarmDatasetsWorker struct {
	river.WorkerDefaults[WarmDatasetsArgs]
	warmer  *warm.Warmer
	observe func(DatasetsOutcome)
	logger  *slog.Logger
	timeout time.Duration
}

// NewWarmDatasetsWorker returns the worker; timeout bounds one attempt
// (config.Config.DatasetJobTimeout); observe, if not nil, sees every finished job.
func NewWarmDatasetsWorker(warmer *warm.Warmer, timeout time.Duration, observe func(DatasetsOutcome), logger *slog.Logger) *WarmDatasetsWorker {
	return &WarmDatasetsWorker{warmer: warmer, timeout: timeout, observe: observe, logger: logger}
}

// Timeout bounds one attempt.
func (w *WarmDatasetsWorker) Timeout(*river.Job[WarmDatasetsArgs]) time.Duration {
	return w.timeout
}

// NextRetry spaces retries with backoff.
func (w *WarmDatasetsWorker) NextRetry(job *river.Job[WarmDatasetsArgs]) time.Time {
	return time.Now().Add(backoff(job.Attempt))
}

// Work re-warms the datasets; any failure fails the job, which River retries.
func (w *WarmDatasetsWorker) Work(ctx context.Context, job *river.Job[WarmDatasetsArgs]) error {
	t, err := cache.ParseTenant(job.Args.TenantID)
	if err != nil {
		return river.JobCancel(err)
	}
	active, err := w.warmer.TenantActive(ctx, t)
	if err != nil {
		return err
	}
	if !active {
		// The tenant went (tenants.sql no longer lists it), or never was: its keys of these
		// datasets go too, rather than being written for no reader.
		res, err := w.warmer.Invalidate(ctx, t, job.Args.Datasets, false, "")
		if err != nil {
			return err
		}
		w.logger.InfoContext(ctx, "tenant not active: keys removed instead of re-warmed", "tenant", t.String(), "datasets", job.Args.Datasets, "keys", res.Deleted)
		return nil
	}
	results, err := w.warmer.Datasets(ctx, t, job.Args.Datasets)
	if stopping(ctx) {
		return river.JobSnooze(0) // cancelled by a shutdown: not a failure
	}
	if err != nil {
		return err
	}
	if w.observe != nil {
		w.observe(DatasetsOutcome{Args: job.Args, Inserted: job.CreatedAt, Results: results})
	}
	if failed := warm.Failed(results); len(failed) > 0 {
		return failed[0].Err
	}
	return nil
}
