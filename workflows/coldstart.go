package workflows

import (
	"context"
	"fmt"
	"slices"

	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/jobcontract"
	"github.com/cachewarm/cachewarm/jobs"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// ColdRewarm is what StartColdTx queued.
type ColdRewarm struct {
	// Runs are the workflows of every active tenant: new ones (trigger cold-start), and the
	// ones already active for busy tenants (Existing).
	Runs []Run
	// Jobs are the dataset re-warms queued for busy tenants (see StartColdTx).
	Jobs []int64
}

// StartColdTx starts, inside tx, a workflow of phases (in order, critical first: River's
// priorities run every tenant's critical phase before any high one) for every active tenant,
// after Redis came back empty. A tenant already running a workflow keeps it (one workflow per
// tenant), but that workflow will not write again what it wrote before Redis emptied, nor the
// phases it does not include: for such a tenant, each of phases that its workflow has already
// started (or does not include) gets its datasets re-warmed by a dataset job on the warm
// queue at the phase's priority.
func (s *Service) StartColdTx(ctx context.Context, tx pgx.Tx, client *river.Client[pgx.Tx], phases []catalog.Phase) (ColdRewarm, error) {
	var out ColdRewarm
	runs, err := s.StartTx(ctx, tx, client, Request{All: true, Phases: phases, Trigger: TriggerColdStart})
	if err != nil {
		return out, err
	}
	out.Runs = runs
	var busy []int64
	for _, r := range runs {
		if r.Existing {
			busy = append(busy, r.ID)
		}
	}
	if len(busy) == 0 {
		return out, nil
	}
	rows, err := tx.Query(ctx, busyProgressSQL, busy)
	if err != nil {
		return out, fmt.Errorf("cold start: busy workflows: %w", err)
	}
	type progress struct {
		Tenant string
		State  string
		Phases []string
		Done   []string
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[progress])
	if err != nil {
		return out, fmt.Errorf("cold start: busy workflows: %w", err)
	}
	datasets := map[catalog.Phase][]string{}
	var params []river.InsertManyParams
	for _, b := range list {
		for _, p := range rewarmPhases(phases, b.State, b.Phases, b.Done) {
			names, ok := datasets[p]
			if !ok {
				if err := tx.QueryRow(ctx, phaseDatasetsSQL, string(p)).Scan(&names); err != nil {
					return out, fmt.Errorf("cold start: datasets of %s: %w", p, err)
				}
				datasets[p] = names
			}
			if len(names) == 0 {
				continue
			}
			args := jobs.WarmDatasetsArgs{TenantID: b.Tenant, Datasets: names, Reason: TriggerColdStart}
			opts := args.InsertOpts()
			opts.Queue, opts.Priority = jobcontract.QueueWarm, p.Priority()
			params = append(params, river.InsertManyParams{Args: args, InsertOpts: &opts})
		}
	}
	if len(params) == 0 {
		return out, nil
	}
	res, err := client.InsertManyTx(ctx, tx, params)
	if err != nil {
		return out, fmt.Errorf("cold start: insert dataset re-warms: %w", err)
	}
	for _, r := range res {
		out.Jobs = append(out.Jobs, r.Job.ID)
	}
	return out, nil
}

// rewarmPhases returns the phases of want that an active workflow (its state, phases in
// order and the phases it has finished) will not write after now: those it has finished, the
// one it may be running (its keys written before Redis emptied are gone), and those it does
// not include. A queued workflow has started nothing: it writes all of its phases.
func rewarmPhases(want []catalog.Phase, state string, phases, done []string) []catalog.Phase {
	var pending []string // phases the workflow has yet to start
	if state == StateQueued {
		pending = phases
	} else {
		for i, p := range phases {
			if !slices.Contains(done, p) {
				pending = phases[i+1:] // p itself may be running
				break
			}
		}
	}
	var out []catalog.Phase
	for _, p := range want {
		if !slices.Contains(pending, string(p)) {
			out = append(out, p)
		}
	}
	return out
}
