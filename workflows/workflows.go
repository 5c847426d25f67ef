// Package workflows starts and tracks tenant warm workflows.
//
// A workflow warms one tenant's phases in order (critical, then high, then medium). Each
// phase is one River job (jobs.WarmPhaseArgs); completing a phase records it and inserts the
// next phase in the same transaction that completes the job, so a crash can neither lose nor
// duplicate a step. Runs are recorded in cachewarm.workflow_runs (one per workflow) and
// cachewarm.workflow_phases (one per finished phase).
//
// A tenant has at most one queued or running workflow (a partial unique index): starting
// another returns the active one instead of queueing a duplicate.
package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/jobcontract"
	"github.com/cachewarm/cachewarm/internal/warm"
	"github.com/cachewarm/cachewarm/jobs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
)

// Triggers: what started a workflow.
const (
	TriggerStartup = "startup"
	TriggerRefresh = "refresh"
	TriggerCLI     = "cli"
	TriggerAPI     = "api"
	TriggerDemo    = "demo"
	// TriggerSlotLost is a full re-warm after PostgreSQL dropped or invalidated the logical
	// mode's replication slot: changes may have been lost.
	TriggerSlotLost = "slot-lost"
)

// States of a workflow run.
const (
	StateQueued    = "queued"
	StateRunning   = "running"
	StateCompleted = "completed"
	StatePartial   = "partial"
	StateFailed    = "failed"
	StateCancelled = "cancelled"
)

// ErrUnknownTenant is returned (wrapped) when a request names a tenant the database does not
// have, or an inactive one.
var ErrUnknownTenant = errors.New("unknown tenant")

// Service starts workflows and records their progress. It is safe for concurrent use.
type Service struct {
	pool   *pgxpool.Pool
	logger *slog.Logger
}

// New returns a Service on pool.
func New(pool *pgxpool.Pool, logger *slog.Logger) *Service {
	return &Service{pool: pool, logger: logger}
}

// Request asks for workflows.
type Request struct {
	// Tenants names tenants to warm; with All, every active tenant is warmed instead.
	Tenants []string
	All     bool
	// Phases to run, in workflow order (see catalog.ParsePhases); empty is an error.
	Phases []catalog.Phase
	// Trigger records what asked (TriggerCLI, ...).
	Trigger string
	// Spread, if positive, delays each workflow's start by a random time up to Spread, so a
	// fan-out over many tenants does not stampede the database.
	Spread time.Duration
}

// Run identifies a workflow.
type Run struct {
	ID     int64  `json:"id"`
	Tenant string `json:"tenant"`
	// Existing is true when the tenant already had an active workflow, which is returned
	// instead of a new one.
	Existing bool `json:"existing,omitempty"`
}

// Start validates req and starts its workflows in one transaction: all or nothing.
func (s *Service) Start(ctx context.Context, client *river.Client[pgx.Tx], req Request) ([]Run, error) {
	var runs []Run
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Durable even on a worker's asynchronously committing connections: the caller is
		// told these workflows exist.
		if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = on`); err != nil {
			return err
		}
		var err error
		runs, err = s.StartTx(ctx, tx, client, req)
		return err
	})
	return runs, err
}

// StartTx is Start inside the caller's transaction: the workflows begin when it commits.
func (s *Service) StartTx(ctx context.Context, tx pgx.Tx, client *river.Client[pgx.Tx], req Request) ([]Run, error) {
	if len(req.Phases) == 0 {
		return nil, errors.New("start workflows: no phase given")
	}
	tenants, err := s.resolveTenants(ctx, tx, req)
	if err != nil {
		return nil, err
	}
	if len(tenants) == 0 {
		return nil, nil
	}
	phases := make([]string, len(req.Phases))
	for i, p := range req.Phases {
		phases[i] = string(p)
	}
	rows, err := tx.Query(ctx, insertRunsSQL, tenants, req.Trigger, phases)
	if err != nil {
		return nil, fmt.Errorf("start workflows: %w", err)
	}
	started, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Run])
	if err != nil {
		return nil, fmt.Errorf("start workflows: %w", err)
	}
	params := make([]river.InsertManyParams, len(started))
	for i, r := range started {
		args := jobs.WarmPhaseArgs{WorkflowID: r.ID, TenantID: r.Tenant, Phase: req.Phases[0], Next: req.Phases[1:]}
		opts := args.InsertOpts()
		if req.Spread > 0 {
			opts.ScheduledAt = time.Now().Add(rand.N(req.Spread))
		}
		params[i] = river.InsertManyParams{Args: args, InsertOpts: &opts}
	}
	if len(params) > 0 {
		if _, err := client.InsertManyTx(ctx, tx, params); err != nil {
			return nil, fmt.Errorf("start workflows: insert jobs: %w", err)
		}
	}
	if len(started) < len(tenants) {
		existing, err := s.activeRuns(ctx, tx, tenants, started)
		if err != nil {
			return nil, err
		}
		started = append(started, existing...)
	}
	slices.SortFunc(started, func(a, b Run) int { return cmpString(a.Tenant, b.Tenant) })
	return started, nil
}

func (s *Service) resolveTenants(ctx context.Context, tx pgx.Tx, req Request) ([]string, error) {
	if req.All {
		rows, err := tx.Query(ctx, activeTenantsSQL)
		if err != nil {
			return nil, fmt.Errorf("list active tenants: %w", err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, fmt.Errorf("list active tenants: %w", err)
		}
		return ids, nil
	}
	if len(req.Tenants) == 0 {
		return nil, errors.New("start workflows: no tenant given (name tenants or ask for all)")
	}
	want := slices.Compact(slices.Sorted(slices.Values(req.Tenants)))
	for _, id := range want {
		if _, err := cache.ParseTenant(id); err != nil {
			return nil, err
		}
	}
	rows, err := tx.Query(ctx, knownTenantsSQL, want)
	if err != nil {
		return nil, fmt.Errorf("look up tenants: %w", err)
	}
	known, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("look up tenants: %w", err)
	}
	if len(known) < len(want) {
		var missing []string
		for _, id := range want {
			if !slices.Contains(known, id) {
				missing = append(missing, id)
			}
		}
		return nil, fmt.Errorf("%w: %v (not an active tenant: see tenants.sql)", ErrUnknownTenant, missing)
	}
	return want, nil
}

func (s *Service) activeRuns(ctx context.Context, tx pgx.Tx, tenants []string, started []Run) ([]Run, error) {
	skip := make([]string, 0, len(started))
	for _, r := range started {
		skip = append(skip, r.Tenant)
	}
	rows, err := tx.Query(ctx, activeRunsSQL, tenants, skip)
	if err != nil {
		return nil, fmt.Errorf("find active workflows: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Run])
}

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

// CompletePhase records a finished phase inside tx, then either inserts the next phase (and
// wakes the workers at once: River debounces its own insert notifications, which would leave
// the next step waiting for the poll) or, after the last phase, closes the workflow as
// completed, partial (some datasets failed) or failed (every phase failed).
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
		o.QueuedAt, o.Started, keys, bytes, string(fj), nextJob); err != nil {
		return fmt.Errorf("record phase: %w", err)
	}
	if nextJob == nil {
		if _, err := tx.Exec(ctx, finishSQL, id); err != nil {
			return fmt.Errorf("finish workflow %d: %w", id, err)
		}
	}
	return nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// StartRefresh starts a one-phase workflow (trigger refresh) for every active tenant, each
// delayed by up to spread, and returns how many started. A tenant already running a workflow
// that includes phase p is left to it. One whose active workflow does not include p (another
// phase's refresh: schedules such as @every 6h and @every 3h fire together; or a warm from the
// API) gets p's datasets re-warmed by a dataset job, delayed likewise: skipping it would leave
// its keys unrenewed for a whole period, or restore nothing after a flush. It satisfies
// jobs.StartFunc.
func (s *Service) StartRefresh(ctx context.Context, client *river.Client[pgx.Tx], p catalog.Phase, spread time.Duration) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		runs, err := s.StartTx(ctx, tx, client, Request{All: true, Phases: []catalog.Phase{p}, Trigger: TriggerRefresh, Spread: spread})
		if err != nil {
			return err
		}
		var busy []int64
		for _, r := range runs {
			if r.Existing {
				busy = append(busy, r.ID)
			} else {
				n++
			}
		}
		if len(busy) == 0 {
			return nil
		}
		return s.refreshBusy(ctx, tx, client, busy, p, spread)
	})
	return n, err
}

// refreshBusy queues a re-warm of phase p's datasets for the tenants of the active workflows
// ids that do not include p and have no such re-warm waiting yet. The re-warms go on the warm
// queue at p's priority, like the workflows they stand in for: the change queue stays free for
// changes.
func (s *Service) refreshBusy(ctx context.Context, tx pgx.Tx, client *river.Client[pgx.Tx], ids []int64, p catalog.Phase, spread time.Duration) error {
	var names []string
	if err := tx.QueryRow(ctx, phaseDatasetsSQL, string(p)).Scan(&names); err != nil {
		return fmt.Errorf("refresh %s: datasets: %w", p, err)
	}
	if len(names) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, busyWithoutPhaseSQL, ids, string(p), names)
	if err != nil {
		return fmt.Errorf("refresh %s: %w", p, err)
	}
	tenants, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tenants) == 0 {
		return err
	}
	params := make([]river.InsertManyParams, len(tenants))
	for i, t := range tenants {
		args := jobs.WarmDatasetsArgs{TenantID: t, Datasets: names, Reason: TriggerRefresh}
		opts := args.InsertOpts()
		opts.Queue, opts.Priority = jobcontract.QueueWarm, p.Priority()
		if spread > 0 {
			opts.ScheduledAt = time.Now().Add(rand.N(spread))
		}
		params[i] = river.InsertManyParams{Args: args, InsertOpts: &opts}
	}
	if _, err := client.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("refresh %s: insert re-warms: %w", p, err)
	}
	return nil
}

// ActiveTenants returns the ids of the active tenants (tenants.sql), in order.
func (s *Service) ActiveTenants(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, activeTenantsSQL)
	if err != nil {
		return nil, fmt.Errorf("list active tenants: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list active tenants: %w", err)
	}
	return ids, nil
}

// TenantExists reports whether id is an active tenant.
func (s *Service) TenantExists(ctx context.Context, id string) (bool, error) {
	var ok bool
	if err := s.pool.QueryRow(ctx, tenantExistsSQL, id).Scan(&ok); err != nil {
		return false, fmt.Errorf("look up tenant %s: %w", id, err)
	}
	return ok, nil
}

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
