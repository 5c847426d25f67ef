package cli

import (
	"errors"
	"fmt"

	"github.com/cachewarm/cachewarm/cache"
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
		skipped           int
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
			parsed := make([]cache.Tenant, 0, len(tenants))
			for _, id := range tenants {
				t, err := cache.ParseTenant(id)
				if err != nil {
					return err
				}
				parsed = append(parsed, t)
			}
			cfg, err := a.config()
			if err != nil {
				return err
			}
			cat, err := openCatalog(cfg)
			if err != nil {
				return err
			}
			names := splitList(datasets)
			for _, n := range names {
				if _, err := cat.Lookup(n); err != nil {
					return fmt.Errorf("%w (known: %v)", err, cat.Names())
				}
			}
			cfg, pool, rdb, err := a.connect(ctx, 4)
			if err != nil {
				return err
			}
			defer pool.Close()
			defer rdb.Close()
			svc := workflows.New(pool, a.logger())
			if allTenants {
				ids, err := svc.ActiveTenants(ctx)
				if err != nil {
					return err
				}
				for _, id := range ids {
					t, err := cache.ParseTenant(id)
					if err != nil {
						// One bad row must not stop the others: its keys could not be named
						// anyway (no warm writes them), so there is nothing to remove.
						skipped++
						fmt.Fprintf(a.stderr, "tenant %q skipped: %v\n", id, err)
						a.logger().WarnContext(ctx, "invalidate: tenant skipped", "tenant", fmt.Sprintf("%q", id), "err", err)
						continue
					}
					parsed = append(parsed, t)
				}
			} else {
				for _, t := range parsed {
					ok, err := svc.TenantExists(ctx, t.String())
					if err != nil {
						return err
					}
					if !ok {
						return fmt.Errorf("%w: %q (not an active tenant: see tenants.sql)", workflows.ErrUnknownTenant, t)
					}
				}
			}
			w := warm.New(pool, rediswrite.New(rdb, cfg.ValueFormat, cache.Keys{HashTag: cfg.HashTags}), cache.Keys{HashTag: cfg.HashTags}, cat, a.logger())
			total, jobs := 0, 0
			skippedNote := ""
			if skipped > 0 {
				skippedNote = fmt.Sprintf(" (%d skipped: not a valid tenant id)", skipped)
			}
			for _, t := range parsed {
				res, err := w.Invalidate(ctx, t, names, !noRewarm, "invalidate")
				if err != nil {
					return err
				}
				total += res.Deleted
				jobs += res.Rewarm
				fmt.Fprintf(a.stdout, "tenant %s: %d key(s) removed, %d re-warm job(s) queued\n", t, res.Deleted, res.Rewarm)
			}
			fmt.Fprintf(a.stdout, "invalidated %d tenant(s)%s: %d key(s) removed, %d re-warm job(s) queued\n", len(parsed), skippedNote, total, jobs)
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&tenants, "tenant", nil, "tenant id (repeatable)")
	cmd.Flags().StringArrayVar(&datasets, "dataset", nil, "dataset name (repeatable; default: every dataset)")
	cmd.Flags().BoolVar(&allTenants, "all-tenants", false, "invalidate every active tenant")
	cmd.Flags().BoolVar(&noRewarm, "no-rewarm", false, "remove the keys without queueing a re-warm")
	return cmd
}
