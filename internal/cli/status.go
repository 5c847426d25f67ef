package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/budget"
	"github.com/cachewarm/cachewarm/internal/capture/logical"
	"github.com/cachewarm/cachewarm/internal/coldstart"
	"github.com/cachewarm/cachewarm/migrations"
	"github.com/cachewarm/cachewarm/workflows"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"
)

func (a *app) statusCmd() *cobra.Command {
	var (
		tenant string
		failed bool
		limit  int
	)
	cmd := &cobra.Command{
		Use:   "status [--tenant ID] [--failed]",
		Short: "Show recent workflows, their phases, attempts and last errors (from the job and workflow tables)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if tenant != "" {
				if _, err := cache.ParseTenant(tenant); err != nil {
					return err
				}
			}
			cfg, pool, rdb, err := a.connect(ctx, 2)
			if err != nil {
				return err
			}
			defer pool.Close()
			defer rdb.Close()
			if err := a.printCapture(ctx, pool, cfg.ChangeCapture); err != nil {
				return err
			}
			mem, err := budget.NewReporter(pool, rdb, cfg.MemoryBudget).Status(ctx, 5)
			if err != nil {
				return err
			}
			for _, l := range mem.Lines() {
				fmt.Fprintln(a.stdout, l)
			}
			if err := a.printColdStart(ctx, pool); err != nil {
				return err
			}
			list, err := workflows.New(pool, a.logger()).List(ctx, workflows.Filter{Tenant: tenant, Failed: failed, Limit: limit})
			if err != nil {
				return err
			}
			if len(list) == 0 {
				fmt.Fprintln(a.stdout, "no workflows")
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "WORKFLOW\tTENANT\tTRIGGER\tSTATE\tCREATED\tDURATION\tKEYS\tPHASES (state attempts)\tLAST ERROR")
			for _, s := range list {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", s.ID, s.Tenant, s.Trigger, s.State,
					s.CreatedAt.Local().Format(time.DateTime), duration(s), s.Keys, phaseCells(s), lastError(s))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "only this tenant's workflows")
	cmd.Flags().BoolVar(&failed, "failed", false, "only workflows that ended partial, failed or cancelled")
	cmd.Flags().IntVar(&limit, "limit", 20, "how many workflows to show")
	return cmd
}

// printCapture prints how changes are captured and what waits: the changes not collected
// yet, and in the logical mode the replication slot's state and lag.
func (a *app) printCapture(ctx context.Context, pool *pgxpool.Pool, mode string) error {
	var waiting int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM cachewarm.changes`).Scan(&waiting); err != nil {
		return fmt.Errorf("change capture: %w", err)
	}
	line := fmt.Sprintf("change capture: %s, %d change(s) waiting for the collector", mode, waiting)
	if mode == migrations.CaptureLogical {
		slot, err := logical.Inspect(ctx, pool)
		switch {
		case err != nil:
			return fmt.Errorf("change capture: %w", err)
		case slot.Lost():
			line += "; replication slot lost (the worker recreates it and re-warms every tenant)"
		default:
			lag, err := logical.Lag(ctx, pool)
			if err != nil {
				return fmt.Errorf("change capture: %w", err)
			}
			line += fmt.Sprintf("; replication slot lag %d bytes", lag)
		}
	}
	fmt.Fprintln(a.stdout, line)
	return nil
}

// printColdStart prints the latest cold start (Redis came back empty) and whether its
// re-warm is done; nothing when there has been none.
func (a *app) printColdStart(ctx context.Context, pool *pgxpool.Pool) error {
	s, err := coldstart.Latest(ctx, pool)
	if err != nil || s == nil {
		return err
	}
	line := fmt.Sprintf("last cold start: %s, Redis %s came back empty (%d keys before), %d tenants re-warmed",
		s.DetectedAt.Local().Format(time.DateTime), s.Node, s.KeysBefore, s.Tenants)
	switch {
	case s.FinishedAt != nil:
		line += fmt.Sprintf("; re-warm done in %s", s.FinishedAt.Sub(s.DetectedAt).Round(time.Millisecond))
	case s.Done():
		line += "; re-warm done"
	default:
		line += fmt.Sprintf("; re-warm running: %d of %d tenants done", max(s.Tenants-s.Active, 0), s.Tenants)
	}
	fmt.Fprintln(a.stdout, line)
	return nil
}

func duration(s workflows.Summary) string {
	if s.StartedAt == nil {
		return "-"
	}
	end := time.Now()
	if s.FinishedAt != nil {
		end = *s.FinishedAt
	}
	return end.Sub(*s.StartedAt).Round(time.Millisecond).String()
}

func phaseCells(s workflows.Summary) string {
	cells := make([]string, 0, len(s.Phases))
	for _, name := range s.Phases {
		cell := name + " pending"
		for _, p := range s.PhaseDetail {
			if p.Phase == name {
				cell = fmt.Sprintf("%s %s %d", name, p.State, p.Attempt)
			}
		}
		cells = append(cells, cell)
	}
	return strings.Join(cells, ", ")
}

func lastError(s workflows.Summary) string {
	msg := ""
	if len(s.Failures) > 0 {
		f := s.Failures[len(s.Failures)-1]
		msg = f.Error
	}
	for _, p := range s.PhaseDetail {
		if p.LastError != "" {
			msg = p.LastError
		}
	}
	if len(msg) > 120 {
		msg = msg[:117] + "..."
	}
	return msg
}
