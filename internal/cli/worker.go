package cli

import (
	"github.com/cachewarm/cachewarm/internal/config"
	"github.com/cachewarm/cachewarm/worker"
	"github.com/spf13/cobra"
)

func (a *app) workerCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "worker",
		Short: "Run the workers, periodic refreshes, the startup warm and the HTTP server (stops gracefully on SIGTERM)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, cat, err := a.setup()
			if err != nil {
				return err
			}
			pool, rdb, err := config.ConnectWorker(ctx, cfg)
			if err != nil {
				return err
			}
			defer pool.Close()
			defer rdb.Close()
			logger := a.logger()
			w, err := worker.New(worker.Deps{Config: cfg, Pool: pool, Redis: rdb, Catalog: cat, Logger: logger})
			if err != nil {
				return err
			}
			return w.Run(ctx, worker.Options{})
		},
	}
}
