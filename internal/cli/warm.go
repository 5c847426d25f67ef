package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/budget"
	"github.com/cachewarm/cachewarm/internal/bytesize"
	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/config"
	"github.com/cachewarm/cachewarm/internal/demand"
	"github.com/cachewarm/cachewarm/workflows"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
)

func (a *app) warmCmd() *cobra.Command {
	var (
		tenants, phases []string
		all, wait       bool
		timeout         time.Duration
	)
	cmd := &cobra.Command{
		Use:   "warm [--tenant ID]... [--all] [--phase critical,high,medium] [--wait]",
		Short: "Enqueue warm workflows; with --wait, show progress and fail if any workflow failed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if all == (len(tenants) > 0) {
				return errors.New("name tenants with --tenant ID, or warm every active tenant with --all (not both)")
			}
			for _, id := range tenants {
				if _, err := cache.ParseTenant(id); err != nil {
					return err
				}
			}
			cfg, err := a.config()
			if err != nil {
				return err
			}
			ph, err := phasesOrDefault(cfg, splitList(phases))
			if err != nil {
				return err
			}
			pool, rdb, err := config.Connect(ctx, cfg, 4)
			if err != nil {
				return err
			}
			defer pool.Close()
			defer rdb.Close()
			client, err := insertClient(pool, a.logger())
			if err != nil {
				return err
			}
			warms := budget.NewWarms(pool, rdb)
			svc := workflows.New(pool, a.logger(), workflows.RecordWarms(warms))
			if all {
				a.sampleDemand(ctx, cfg, pool, rdb)
			}
			runs, err := svc.Start(ctx, client, workflows.Request{Tenants: tenants, All: all, Phases: ph, Trigger: workflows.TriggerCLI})
			if err != nil {
				return err
			}
			existing := 0
			for _, r := range runs {
				if r.Existing {
					existing++
				}
			}
			fmt.Fprintf(a.stdout, "enqueued %d workflow(s) (%d tenant(s) already had one queued or running) for phases %v\n", len(runs)-existing, existing, ph)
			if !wait || len(runs) == 0 {
				for _, r := range runs {
					fmt.Fprintf(a.stdout, "  workflow %d  tenant %s\n", r.ID, r.Tenant)
				}
				return nil
			}
			ids := make([]int64, len(runs))
			for i, r := range runs {
				ids[i] = r.ID
			}
			warmID, err := warms.Of(ctx, ids)
			if err != nil {
				return err
			}
			wctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			sum, err := waitForWorkflows(wctx, svc, ids, newProgress(a.stdout, isTerminal(a.stdout), len(ids)))
			if err != nil {
				return fmt.Errorf("waiting for workflows (is a worker running? start one with: cachewarm worker): %w", err)
			}
			fmt.Fprintln(a.stdout, sum.String())
			mem, err := warms.End(ctx, warmID)
			if err != nil {
				return err
			}
			printWarmMemory(a.stdout, mem)
			sum.Failed -= mem.PartialBySkips // a skip is the budget at work, reported above, not a failure
			if sum.Failed > 0 {
				return fmt.Errorf("%d of %d workflow(s) did not complete: see cachewarm status --failed", sum.Failed, len(ids))
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&tenants, "tenant", nil, "tenant id to warm (repeatable)")
	cmd.Flags().BoolVar(&all, "all", false, "warm every active tenant")
	cmd.Flags().StringSliceVar(&phases, "phase", nil, "phases to run: critical,high,medium (default: critical,high and medium when CACHE_WARMING_PHASE3_ENABLED)")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait for the workflows, showing progress; exit non-zero if any failed")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Minute, "with --wait, give up after this long")
	return cmd
}

// sampleDemand ranks the tenants afresh before a warm of every tenant, which starts them in
// demand order (docs/memory.md). A failed sample leaves the previous ranking.
func (a *app) sampleDemand(ctx context.Context, cfg config.Config, pool *pgxpool.Pool, rdb redis.UniversalClient) {
	if cfg.DemandSample <= 0 {
		return
	}
	cat, err := openCatalog(cfg)
	if err != nil {
		return
	}
	keys := cache.Keys{HashTag: cfg.HashTags}
	if _, err := demand.New(pool, rdb, keys, cat, cfg.DemandSample, a.logger()).Sample(ctx); err != nil {
		a.logger().WarnContext(ctx, "demand sample before the warm", "err", err)
	}
}

// printWarmMemory prints the warm's evictions and the tenant x phases the memory budget
// skipped.
func printWarmMemory(out io.Writer, w budget.Warm) {
	fmt.Fprintln(out, w.Summary())
	for _, s := range w.Skipped {
		fmt.Fprintf(out, "  skipped %s %s: %s\n", s.Tenant, s.Phase, s.Reason)
	}
}

// phasesOrDefault parses named phases, or returns the configured default.
func phasesOrDefault(cfg config.Config, names []string) ([]catalog.Phase, error) {
	if len(names) == 0 {
		return cfg.DefaultPhases(), nil
	}
	return catalog.ParsePhases(names)
}

// waitSummary is what waitForWorkflows saw at the end.
type waitSummary struct {
	Workflows, Completed, Failed int
	Keys, Bytes                  int64
	Elapsed                      time.Duration
}

func (s waitSummary) String() string {
	return fmt.Sprintf("%d workflow(s): %d completed, %d partial or failed; %d keys, %s written in %s",
		s.Workflows, s.Completed, s.Failed, s.Keys, bytesize.String(s.Bytes), s.Elapsed.Round(time.Millisecond))
}

// waitForWorkflows polls the workflow tables until every workflow in ids has finished,
// reporting progress. It polls twice a second: each poll reads every workflow of ids, CPU
// taken from the warm it watches.
func waitForWorkflows(ctx context.Context, svc *workflows.Service, ids []int64, p *progress) (waitSummary, error) {
	start := time.Now()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		pr, err := svc.Progress(ctx, ids)
		if err != nil {
			return waitSummary{}, err
		}
		p.update(pr)
		if pr.Finished == len(ids) {
			p.done()
			return waitSummary{Workflows: len(ids), Completed: pr.Completed, Failed: pr.Finished - pr.Completed,
				Keys: pr.Keys, Bytes: pr.Bytes, Elapsed: time.Since(start)}, nil
		}
		select {
		case <-ctx.Done():
			p.done()
			return waitSummary{}, ctx.Err()
		case <-tick.C:
		}
	}
}
