// Package cli is the cachewarm command line: migrate, worker, warm, invalidate, status, seed
// and demo. Run is its entry point, testable without a process.
package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/config"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/spf13/cobra"

	"github.com/cachewarm/cachewarm/migrations"
)

// Run runs the command line args with the environment read through lookup, writing to
// stdout and stderr. It returns the error it has already reported on stderr.
func Run(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) error {
	app := &app{lookup: lookup, stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "cachewarm",
		Short:         "Keep a multi-tenant ERP's Redis cache warm from PostgreSQL",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(app.migrateCmd(), app.workerCmd(), app.warmCmd(), app.invalidateCmd(), app.statusCmd(), app.seedCmd(), app.demoCmd(), app.datasetsCmd())
	err := root.ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "cachewarm:", err)
	}
	return err
}

// app carries what every command needs.
type app struct {
	lookup         func(string) (string, bool)
	stdout, stderr io.Writer
}

func (a *app) logger() *slog.Logger {
	level := slog.LevelInfo
	if v, _ := a.lookup("CACHEWARM_LOG_LEVEL"); v != "" {
		_ = level.UnmarshalText([]byte(v))
	}
	return slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
}

func (a *app) config() (config.Config, error) { return config.Load(a.lookup) }

// setup loads the configuration and the datasets it names.
func (a *app) setup() (config.Config, *catalog.Catalog, error) {
	cfg, err := a.config()
	if err != nil {
		return cfg, nil, err
	}
	cat, err := openCatalog(cfg)
	return cfg, cat, err
}

// connect loads the configuration and connects to both services.
func (a *app) connect(ctx context.Context, maxConns int) (config.Config, *pgxpool.Pool, redis.UniversalClient, error) {
	cfg, err := a.config()
	if err != nil {
		return cfg, nil, nil, err
	}
	pool, rdb, err := config.Connect(ctx, cfg, maxConns)
	return cfg, pool, rdb, err
}

// insertClient is a River client that only inserts jobs (no queues, no workers).
func insertClient(pool *pgxpool.Pool, logger *slog.Logger) (*river.Client[pgx.Tx], error) {
	c, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Schema: migrations.Schema, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	return c, nil
}

// openCatalog loads the datasets directory cfg names (the built-in demo datasets when none).
// A broken file is refused with every problem as file:line: message.
func openCatalog(cfg config.Config) (*catalog.Catalog, error) {
	c, err := catalog.Open(cfg.DatasetsDir)
	if err != nil {
		return nil, fmt.Errorf("datasets:\n%w", err)
	}
	return c, nil
}

// splitList splits comma-separated flag values: --phase critical,high --phase medium.
func splitList(values []string) []string {
	var out []string
	for _, v := range values {
		for p := range strings.SplitSeq(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// isTerminal reports whether w is a terminal (for the progress bar).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// quietLogger logs warnings and errors only, for commands that tell their own story.
func (a *app) quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
