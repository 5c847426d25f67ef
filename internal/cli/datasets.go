package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/config"
	"github.com/spf13/cobra"
)

func (a *app) datasetsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "datasets",
		Short: "List the datasets (phase, TTL, keys, tables) of CACHEWARM_DATASETS_DIR or the built-in demo",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, cat, err := a.setup()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "DATASET\tPHASE\tTTL\tVALUE\tKEYS\tTABLES")
			for _, d := range cat.All() {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.Name, d.Phase, d.TTL, d.Value,
					strings.Join(d.KeyPatterns(), " "), tableList(d.Tables, d.TenantColumn))
			}
			tn := cat.Tenants()
			fmt.Fprintf(tw, "(tenants)\t\t\t\t\t%s\n", tableList(tn.Tables, tn.TenantColumn))
			return tw.Flush()
		},
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "check",
		Short: "Run every dataset query once, in a transaction that is rolled back; report each problem as file:line",
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
			if err := catalog.Check(ctx, pool, cat); err != nil {
				return fmt.Errorf("datasets check failed:\n%w", err)
			}
			fmt.Fprintf(a.stdout, "%d dataset(s) and the tenants query checked: no problem\n", len(cat.All()))
			return nil
		},
	})
	return cmd
}

// tableList names tables with their tenant column: "vendors(tenant_id), ...".
func tableList(tables []string, column string) string {
	out := make([]string, len(tables))
	for i, t := range tables {
		out[i] = t + "(" + column + ")"
	}
	return strings.Join(out, ", ")
}
