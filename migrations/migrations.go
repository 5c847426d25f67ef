// Package migrations installs cachewarm's database objects in the schema cachewarm: River's
// tables (through rivermigrate), cachewarm's own numbered migrations (through goose's provider
// API), the functions that insert jobs (rendered from package jobcontract on every run), and
// change capture on the ERP's source tables.
package migrations

import (
	"context"
	"embed"
	"fmt"
	"log/slog"

	"github.com/cachewarm/cachewarm/internal/capture/logical"
	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/jobcontract"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// Schema is the PostgreSQL schema that holds every object cachewarm owns.
const Schema = "cachewarm"

//go:embed *.sql
var files embed.FS

// lockID is the advisory lock that serialises concurrent migrate runs (many workers starting
// at once). It is "cachewarm" read as bytes, truncated to 63 bits.
const lockID = 0x6361636865776172

// Result says what Migrate did.
type Result struct {
	// River and Own are the migration versions applied by this run (empty when up to date).
	River, Own []int64
	// Triggered lists the source tables whose changes are captured: by change triggers, or
	// in the logical mode by the publication.
	Triggered []string
}

// The change capture modes (CACHEWARM_CHANGE_CAPTURE).
const (
	// CaptureTriggers captures changes with statement-level triggers (any PostgreSQL).
	CaptureTriggers = "triggers"
	// CaptureLogical captures changes from the WAL through a publication and a logical
	// replication slot (wal_level=logical): no trigger at all.
	CaptureLogical = "logical"
)

// Migrate is [MigrateCapture] with the triggers mode.
func Migrate(ctx context.Context, pool *pgxpool.Pool, cat *catalog.Catalog, logger *slog.Logger) (Result, error) {
	return MigrateCapture(ctx, pool, cat, CaptureTriggers, logger)
}

// MigrateCapture brings the database to the latest version: it creates the schema, applies
// River's and cachewarm's migrations, and installs change capture in mode on whichever
// declared source tables exist: the change triggers, or (logical) the publication and slot
// named cachewarm, with no trigger. In the logical mode it refuses, saying what to set, a
// server whose wal_level is not logical, before changing anything. It is idempotent and safe
// to run from several processes at once.
func MigrateCapture(ctx context.Context, pool *pgxpool.Pool, cat *catalog.Catalog, mode string, logger *slog.Logger) (Result, error) {
	var res Result
	switch mode {
	case CaptureTriggers:
	case CaptureLogical:
		if err := logical.CheckWALLevel(ctx, pool); err != nil {
			return res, fmt.Errorf("migrate: %w", err)
		}
	default:
		return res, fmt.Errorf("migrate: change capture %q: want triggers or logical", mode)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return res, fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(lockID)); err != nil {
		return res, fmt.Errorf("migrate: lock: %w", err)
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(lockID))
	}()

	// Only when it is missing: CREATE SCHEMA IF NOT EXISTS needs the CREATE right on the
	// database even when the schema exists, which a dedicated role that owns it need not have.
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regnamespace($1) IS NOT NULL", Schema).Scan(&exists); err != nil {
		return res, fmt.Errorf("migrate: look up schema: %w", err)
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{Schema}.Sanitize()); err != nil {
			return res, fmt.Errorf("migrate: create schema %s (or create it beforehand, owned by the role that runs migrate): %w", Schema, err)
		}
	}

	migrator, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Schema: Schema, Logger: logger})
	if err != nil {
		return res, fmt.Errorf("migrate river: %w", err)
	}
	rr, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return res, fmt.Errorf("migrate river: %w", err)
	}
	for _, v := range rr.Versions {
		res.River = append(res.River, int64(v.Version))
	}

	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	provider, err := goose.NewProvider(goose.DialectPostgres, db, files,
		goose.WithTableName(Schema+".goose_db_version"),
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		return res, fmt.Errorf("migrate cachewarm: %w", err)
	}
	own, err := provider.Up(ctx)
	if err != nil {
		return res, fmt.Errorf("migrate cachewarm: %w", err)
	}
	for _, r := range own {
		res.Own = append(res.Own, r.Source.Version)
	}
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if err := installFunctions(ctx, tx); err != nil {
			return err
		}
		if err := installTenants(ctx, tx, cat.Tenants()); err != nil {
			return err
		}
		res.Triggered, err = installTriggers(ctx, tx, cat, mode == CaptureTriggers, logger)
		return err
	})
	if err != nil {
		return res, fmt.Errorf("migrate: %w", err)
	}
	if mode == CaptureLogical {
		if err := installPublication(ctx, pool); err != nil {
			return res, fmt.Errorf("migrate: change capture: %w", err)
		}
	}
	logger.InfoContext(ctx, "migrated", "triggers_on", res.Triggered, "schema", Schema, "river_versions", res.River, "cachewarm_versions", res.Own)
	return res, nil
}

// installFunctions (re)creates the SQL functions that insert jobs, rendered from the job
// contract (package jobcontract): they follow the Go code of the binary that runs migrate.
func installFunctions(ctx context.Context, tx pgx.Tx) error {
	stmts, err := jobcontract.Functions()
	if err != nil {
		return err
	}
	for _, stmt := range stmts {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("install the job functions: %w\n%s", err, stmt)
		}
	}
	return nil
}
