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
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/budget"
	"github.com/cachewarm/cachewarm/internal/catalog"
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
	// TriggerColdStart is a full re-warm after Redis (or one cluster master) came back empty:
	// a restart without persistence, FLUSHALL, a failover to an empty replica.
	TriggerColdStart = "cold-start"
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
	warms  *budget.Warms
}

// Option configures a Service.
type Option func(*Service)

// RecordWarms records every start of workflows as a warm in cachewarm.warms (budget.Warms):
// what Redis evicted while it ran and the phases the memory budget skipped, as `status`,
// /health and /metrics report of the last warm. Without it nothing is recorded.
func RecordWarms(w *budget.Warms) Option {
	return func(s *Service) { s.warms = w }
}

// New returns a Service on pool.
func New(pool *pgxpool.Pool, logger *slog.Logger, opts ...Option) *Service {
	s := &Service{pool: pool, logger: logger}
	for _, o := range opts {
		o(s)
	}
	return s
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

// Start validates req and starts its workflows in one transaction: all or nothing. With All,
// the tenants' workflows are inserted in order of predicted demand (cachewarm.tenant_demand,
// package demand), most read first, so the warm reaches them first.
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
	slices.SortFunc(started, func(a, b Run) int { return cmp.Compare(a.Tenant, b.Tenant) })
	if err := s.recordWarm(ctx, tx, req.Trigger, started); err != nil {
		return nil, err
	}
	return started, nil
}

// recordWarm records the start of runs as a warm, if the Service records warms. A Redis that
// does not answer INFO leaves the warm unrecorded rather than failing it: the warm itself
// would fail the same way, and is retried.
func (s *Service) recordWarm(ctx context.Context, tx pgx.Tx, trigger string, runs []Run) error {
	if s.warms == nil || len(runs) == 0 {
		return nil
	}
	m, err := s.warms.Mark(ctx)
	if err != nil {
		s.logger.WarnContext(ctx, "warm not recorded: no eviction counter", "trigger", trigger, "err", err)
		return nil
	}
	ids := make([]int64, len(runs))
	for i, r := range runs {
		ids[i] = r.ID
	}
	_, err = s.warms.Begin(ctx, tx, m, trigger, ids)
	return err
}

func (s *Service) resolveTenants(ctx context.Context, tx pgx.Tx, req Request) ([]string, error) {
	if req.All {
		rows, err := tx.Query(ctx, demandTenantsSQL)
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
