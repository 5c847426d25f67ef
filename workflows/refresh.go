package workflows

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/jobcontract"
	"github.com/cachewarm/cachewarm/jobs"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

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
