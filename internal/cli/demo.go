package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/cachewarm/cachewarm/internal/demo"
	"github.com/cachewarm/cachewarm/workflows"
	"github.com/spf13/cobra"
)

func (a *app) demoCmd() *cobra.Command {
	var (
		tenants  int
		seed     int64
		database string
		redisDB  int
	)
	cmd := &cobra.Command{
		Use:   "demo [--tenants N]",
		Short: "The whole story on one machine: seed, migrate, worker, warm with progress, change trigger, hit vs miss, verify, summary",
		Long: `demo runs cachewarm end to end against the configured PostgreSQL and Redis servers, in a
database of its own (--database, created if missing) and a Redis DB of its own (--redis-db), so it
never touches anyone's data.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tenants < 1 {
				return fmt.Errorf("--tenants must be at least 1, got %d", tenants)
			}
			cfg, err := a.config()
			if err != nil {
				return err
			}
			terminal := isTerminal(a.stdout)
			return demo.Run(cmd.Context(), demo.Options{
				Config: cfg, Tenants: tenants, Seed: seed, Database: database, RedisDB: redisDB,
				Out: a.stdout, Logger: a.quietLogger(),
				Progress: func(label string, total int) func(int) {
					p := newCountProgress(a.stdout, terminal, total, "   "+label)
					return p.set
				},
				Wait: func(ctx context.Context, svc *workflows.Service, ids []int64) error {
					wctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
					defer cancel()
					sum, err := waitForWorkflows(wctx, svc, ids, newProgress(a.stdout, terminal, len(ids)))
					if err != nil {
						return err
					}
					fmt.Fprintln(a.stdout, "   "+sum.String())
					if sum.Failed > 0 {
						return fmt.Errorf("%d workflow(s) did not complete", sum.Failed)
					}
					return nil
				},
			})
		},
	}
	cmd.Flags().IntVar(&tenants, "tenants", 50, "number of demo tenants")
	cmd.Flags().Int64Var(&seed, "seed", 1, "random seed of the demo data")
	cmd.Flags().StringVar(&database, "database", "cachewarm_demo", "the demo's own database (created if missing)")
	cmd.Flags().IntVar(&redisDB, "redis-db", 15, "the demo's own Redis DB number")
	return cmd
}
