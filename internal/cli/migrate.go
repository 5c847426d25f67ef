package cli

import (
	"fmt"

	"github.com/cachewarm/cachewarm/internal/config"
	"github.com/cachewarm/cachewarm/migrations"
	"github.com/spf13/cobra"
)

func (a *app) migrateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply River's and cachewarm's migrations and install the change triggers (idempotent)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, cat, err := a.setup()
			if err != nil {
				return err
			}
			pool, rdb, err := config.Connect(ctx, cfg, 2)
			if err != nil {
				return err
			}
			defer pool.Close()
			defer rdb.Close()
			res, err := migrations.MigrateCapture(ctx, pool, cat, cfg.ChangeCapture, a.logger())
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "migrated schema %s: %d River and %d cachewarm migration(s) applied; change capture (%s) on %d table(s)\n",
				migrations.Schema, len(res.River), len(res.Own), cfg.ChangeCapture, len(res.Triggered))
			return nil
		},
	}
}
