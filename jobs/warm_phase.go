package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/jobcontract"
	"github.com/cachewarm/cachewarm/internal/warm"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// WarmPhaseArgs is one phase of one tenant's workflow. Next lists the phases that follow it;
// completing this job inserts the first of them in the same transaction, with Chained set.
type WarmPhaseArgs struct {
	WorkflowID int64           `json:"workflow_id"`
	TenantID   string          `json:"tenant_id"`
	Phase      catalog.Phase   `json:"phase"`
	Next       []catalog.Phase `json:"next,omitempty"`
	// Chained is set on a phase inserted by the completion of the one before: its workflow
	// is recorded as running already.
	Chained bool `json:"chained,omitempty"`
}

// Kind is the permanent job kind.
func (WarmPhaseArgs) Kind() string { return jobcontract.KindWarmPhase }

// InsertOpts puts the phase on the warm queue at its priority (critical 1, high 2, medium 3).
func (a WarmPhaseArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobcontract.QueueWarm, Priority: a.Phase.Priority(), MaxAttempts: jobcontract.MaxAttempts}
}

// PhaseOutcome is what a phase job reports to its workflow when it finishes: on success, or
// on its last attempt with the datasets that still failed. Its observer (metrics) also sees
// every failed attempt, with Retrying set.
type PhaseOutcome struct {
	Args     WarmPhaseArgs
	JobID    int64
	Attempts int
	QueuedAt time.Time
	Started  time.Time
	Results  []warm.Result
	// Retrying is set when observe is told of an attempt that failed and will be retried
	// (for metrics); such an outcome is never recorded in the workflow.
	Retrying bool
	// Skipped, if not empty, says why the phase was not written (the memory budget): it is
	// recorded as skipped, and the workflow goes on to its next phase.
	Skipped string
}

// Budget is the memory budget the phase worker asks before it writes a phase (package
// budget).
type Budget interface {
	// Admit decides whether tenant t's phase p may be written now.
	Admit(ctx context.Context, t cache.Tenant, p catalog.Phase) (Admission, error)
}

// Admission is a Budget's answer.
type Admission struct {
	// Skip, if not empty, says why the phase must not be written.
	Skip string
	// Done, if not nil, is called once when the admitted phase has been written (or failed),
	// with the bytes it wrote: it releases what the admission reserved.
	Done func(ctx context.Context, bytesWritten int64)
}

// Workflow is what the phase worker needs from the workflow service (package workflows).
type Workflow interface {
	// MarkRunning records that the workflow's first phase started at started.
	MarkRunning(ctx context.Context, workflowID int64, started time.Time) error
	// CompletePhase records the outcome inside tx and inserts the next phase, if any.
	CompletePhase(ctx context.Context, tx pgx.Tx, client *river.Client[pgx.Tx], o PhaseOutcome) error
}

// WarmPhaseWorker warms one phase of one tenant.
type WarmPhaseWorker struct {
	river.WorkerDefaults[WarmPhaseArgs]
	pool     *pgxpool.Pool
	warmer   *warm.Warmer
	workflow Workflow
	budget   Budget
	observe  func(PhaseOutcome)
	logger   *slog.Logger
	timeout  time.Duration
}

// NewWarmPhaseWorker returns the worker; timeout bounds one attempt (config.Config.JobTimeout).
// budget, if not nil, is asked before each phase is written (nil: no memory budget). observe,
// if not nil, is called with every finished phase (for metrics).
func NewWarmPhaseWorker(pool *pgxpool.Pool, warmer *warm.Warmer, wf Workflow, budget Budget, timeout time.Duration, observe func(PhaseOutcome), logger *slog.Logger) *WarmPhaseWorker {
	return &WarmPhaseWorker{pool: pool, warmer: warmer, workflow: wf, budget: budget, timeout: timeout, observe: observe, logger: logger}
}

// Timeout bounds one attempt.
func (w *WarmPhaseWorker) Timeout(*river.Job[WarmPhaseArgs]) time.Duration {
	return w.timeout
}

// NextRetry spaces retries with backoff.
func (w *WarmPhaseWorker) NextRetry(job *river.Job[WarmPhaseArgs]) time.Time {
	return time.Now().Add(backoff(job.Attempt))
}

// Work warms the phase. While attempts remain, a failing dataset fails the job (River retries
// it). On the last attempt the phase is recorded as failed instead, and the workflow goes on:
// one bad dataset never blocks the later phases.
func (w *WarmPhaseWorker) Work(ctx context.Context, job *river.Job[WarmPhaseArgs]) error {
	t, err := cache.ParseTenant(job.Args.TenantID)
	if err != nil {
		return river.JobCancel(err)
	}
	started := time.Now()
	stopMarking := func() {}
	if !job.Args.Chained {
		stopMarking = w.markRunningLater(ctx, job.Args.WorkflowID, started)
	}
	adm := w.admit(ctx, t, job.Args.Phase)
	if adm.Skip != "" {
		stopMarking()
		return w.skip(ctx, job, started, adm.Skip)
	}
	results, err := w.warmer.Phase(ctx, t, job.Args.Phase)
	if adm.Done != nil {
		adm.Done(context.WithoutCancel(ctx), warm.Total(results).Bytes)
	}
	stopMarking() // from here on, the phase's completion records the workflow's state
	if err != nil {
		if stopping(ctx) {
			return river.JobSnooze(0)
		}
		return err
	}
	failed := warm.Failed(results)
	if stopping(ctx) {
		return river.JobSnooze(0)
	}
	outcome := PhaseOutcome{Args: job.Args, JobID: job.ID, Attempts: job.Attempt, QueuedAt: job.CreatedAt, Started: started, Results: results}
	if len(failed) > 0 && job.Attempt < job.MaxAttempts {
		if !job.Args.Chained {
			// While its first phase waits for a retry, the workflow shows running.
			w.markRunning(ctx, job.Args.WorkflowID, started)
		}
		if w.observe != nil {
			outcome.Retrying = true
			w.observe(outcome)
		}
		return phaseError(job.Args, failed)
	}
	// The job's own deadline may have passed: record the outcome regardless.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := w.complete(cctx, job, outcome); err != nil {
		return fmt.Errorf("complete phase %s of %s: %w", job.Args.Phase, t, err)
	}
	if w.observe != nil {
		w.observe(outcome)
	}
	return nil
}

// admit asks the budget, if any, whether the phase may be written. A budget that cannot
// answer (Redis's INFO failed) lets the phase through: the write would fail just the same if
// Redis were down, and a warm is never held back by its bookkeeping.
func (w *WarmPhaseWorker) admit(ctx context.Context, t cache.Tenant, p catalog.Phase) Admission {
	if w.budget == nil {
		return Admission{}
	}
	adm, err := w.budget.Admit(ctx, t, p)
	if err != nil {
		w.logger.WarnContext(ctx, "memory budget unknown: writing the phase", "tenant", t, "phase", p, "err", err)
		return Admission{}
	}
	return adm
}

// skip records the phase as skipped (the budget's reason) and completes the job: no retry,
// the workflow goes on to its next phase.
func (w *WarmPhaseWorker) skip(ctx context.Context, job *river.Job[WarmPhaseArgs], started time.Time, reason string) error {
	outcome := PhaseOutcome{Args: job.Args, JobID: job.ID, Attempts: job.Attempt, QueuedAt: job.CreatedAt, Started: started, Skipped: reason}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := w.complete(cctx, job, outcome); err != nil {
		return fmt.Errorf("skip phase %s of %s: %w", job.Args.Phase, job.Args.TenantID, err)
	}
	w.logger.InfoContext(ctx, "phase skipped", "tenant", job.Args.TenantID, "phase", job.Args.Phase, "reason", reason)
	if w.observe != nil {
		w.observe(outcome)
	}
	return nil
}

// markRunningAfter is how long a workflow's first phase runs before the workflow is recorded
// as running. Most first phases finish sooner, and their completion records the workflow as
// running (or finished) in its own transaction: a statement and a commit per workflow saved
// (measured in docs/benchmarks.md, "History of the changes").
const markRunningAfter = 200 * time.Millisecond

// markRunningLater records workflow id as running once its first phase has run for
// markRunningAfter. The returned func, to be called once, cancels that, or waits for it if it
// has begun; Work calls it as soon as the phase's datasets are done.
func (w *WarmPhaseWorker) markRunningLater(ctx context.Context, id int64, started time.Time) (stop func()) {
	done := make(chan struct{})
	t := time.AfterFunc(markRunningAfter, func() {
		defer close(done)
		w.markRunning(ctx, id, started)
	})
	return func() {
		if !t.Stop() {
			<-done
		}
	}
}

// markRunning records workflow id as running, or logs why it could not: that is not fatal,
// as the phase's completion records it too.
func (w *WarmPhaseWorker) markRunning(ctx context.Context, id int64, started time.Time) {
	if err := w.workflow.MarkRunning(ctx, id, started); err != nil && !stopping(ctx) {
		w.logger.WarnContext(ctx, "mark workflow running", "workflow", id, "err", err)
	}
}

func (w *WarmPhaseWorker) complete(ctx context.Context, job *river.Job[WarmPhaseArgs], o PhaseOutcome) error {
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return err
	}
	return pgx.BeginTxFunc(ctx, w.pool, pgx.TxOptions{BeginQuery: completeBegin}, func(tx pgx.Tx) error {
		if err := w.workflow.CompletePhase(ctx, tx, client, o); err != nil {
			return err
		}
		_, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job)
		return err
	})
}

// completeBegin begins a job's completion transaction with generic plans in the same round
// trip. Otherwise PostgreSQL plans River's completion statement (JobSetStateIfRunningMany, a
// large CTE over arrays) afresh for every job, which cost about as much as the statement's
// execution.
//
// A generic plan is made once per connection and kept, so it must not depend on the job
// table's size when it was made: on a table that was nearly empty then (a new install, or the
// first warm after the jobs were cleared) the planner prefers sequential scans of river_job,
// and every later completion scans the whole, growing table. Every statement of the
// transaction looks rows up by key, so sequential scans are ruled out for it. Both measured in
// docs/benchmarks.md, "History of the changes".
const completeBegin = "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan; SET LOCAL enable_seqscan = off"

func phaseError(a WarmPhaseArgs, failed []warm.Result) error {
	msgs := make([]string, len(failed))
	for i, f := range failed {
		msgs[i] = f.Err.Error()
	}
	return fmt.Errorf("phase %s of %s: %d dataset(s) failed: %w", a.Phase, a.TenantID, len(failed), errors.New(strings.Join(msgs, "; ")))
}
