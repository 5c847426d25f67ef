package cli

import (
	"errors"
	"fmt"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/config"
	"github.com/cachewarm/cachewarm/internal/invalidation"
	"github.com/cachewarm/cachewarm/internal/rediswrite"
	"github.com/cachewarm/cachewarm/internal/warm"
	"github.com/cachewarm/cachewarm/workflows"
	"github.com/spf13/cobra"
)

func (a *app) invalidateCmd() *cobra.Command {
	var (
		tenants, datasets []string
		allTenants        bool
		noRewarm          bool
	)
	cmd := &cobra.Command{
		Use:   "invalidate --tenant ID [--dataset NAME]... | --all-tenants [--no-rewarm]",
		Short: "Remove a tenant's keys (all datasets, or those named), then re-warm them unless --no-rewarm",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if allTenants == (len(tenants) > 0) {
				return errors.New("name tenants with --tenant ID, or use --all-tenants (not both)")
			}
			cfg, cat, err := a.setup()
			if err != nil {
				return err
			}
			req := invalidation.Request{
				Tenants: tenants, AllTenants: allTenants, Datasets: splitList(datasets), Rewarm: !noRewarm, Reason: "invalidate",
			}
			if err := req.Check(cat); err != nil { // before connecting
				return err
			}
			pool, rdb, err := config.Connect(ctx, cfg, 4)
			if err != nil {
				return err
			}
			defer pool.Close()
			defer rdb.Close()
			keys := cache.Keys{HashTag: cfg.HashTags}
			svc := invalidation.New(warm.New(pool, rediswrite.New(rdb, cfg.ValueFormat, keys, cfg.L1Channel), keys, cat, a.logger()),
				workflows.New(pool, a.logger()), a.logger())
			rep, err := svc.Invalidate(ctx, req)
			for _, sk := range rep.Skipped {
				fmt.Fprintf(a.stderr, "tenant %q skipped: %v\n", sk.ID, sk.Err)
			}
			for _, res := range rep.Tenants {
				fmt.Fprintf(a.stdout, "tenant %s: %d key(s) removed, %d re-warm job(s) queued\n", res.Tenant, res.Deleted, res.Rewarm)
			}
			if err != nil {
				return err
			}
			skippedNote := ""
			if len(rep.Skipped) > 0 {
				skippedNote = fmt.Sprintf(" (%d skipped: not a valid tenant id)", len(rep.Skipped))
			}
			fmt.Fprintf(a.stdout, "invalidated %d tenant(s)%s: %d key(s) removed, %d re-warm job(s) queued\n", len(rep.Tenants), skippedNote, rep.Deleted, rep.Rewarm)
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&tenants, "tenant", nil, "tenant id (repeatable)")
	cmd.Flags().StringArrayVar(&datasets, "dataset", nil, "dataset name (repeatable; default: every dataset)")
	cmd.Flags().BoolVar(&allTenants, "all-tenants", false, "invalidate every active tenant")
	cmd.Flags().BoolVar(&noRewarm, "no-rewarm", false, "remove the keys without queueing a re-warm")
	return cmd
}
