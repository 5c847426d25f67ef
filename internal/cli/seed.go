package cli

import (
	"fmt"
	"time"

	"github.com/cachewarm/cachewarm/internal/demodata"
	"github.com/spf13/cobra"
)

func (a *app) seedCmd() *cobra.Command {
	var (
		tenants int
		seed    int64
	)
	cmd := &cobra.Command{
		Use:   "seed [--tenants N] [--seed S]",
		Short: "Load the deterministic demo ERP data into the public schema (replacing it)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if tenants < 1 {
				return fmt.Errorf("--tenants must be at least 1, got %d", tenants)
			}
			_, pool, rdb, err := a.connect(ctx, 4)
			if err != nil {
				return err
			}
			defer pool.Close()
			defer rdb.Close()
			res, err := demodata.Seed(ctx, pool, demodata.Options{Tenants: tenants, Seed: seed, Progress: a.seedProgress(tenants)})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "seeded %d tenant(s), %d rows in schema %s in %s\n", res.Tenants, res.TotalRows(), res.Schema, res.Duration.Round(time.Millisecond))
			return nil
		},
	}
	cmd.Flags().IntVar(&tenants, "tenants", 10, "number of tenants (t001, t002, ...)")
	cmd.Flags().Int64Var(&seed, "seed", 1, "random seed: the same seed and tenant count give the same data")
	return cmd
}

// seedProgress reports seeding progress: a bar on a terminal, plain lines otherwise.
func (a *app) seedProgress(total int) func(done, total int) {
	p := newCountProgress(a.stdout, isTerminal(a.stdout), total, "seeding tenants")
	return func(done, _ int) { p.set(done) }
}
