package migrations

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/cachewarm/cachewarm/internal/capture/logical"
	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// triggerPrefix names the change triggers; migrate drops and re-creates every trigger with
// this prefix, so a dataset added to (or removed from) the catalog is reflected on the next
// migrate.
const triggerPrefix = "cachewarm_change_"

// feed is a source table of the catalog: its tenant column and the datasets it feeds.
type feed struct {
	column   string
	datasets []string
}

// Feeds maps each table the catalog declares (as declared) to its tenant column and the
// datasets it feeds. The tables of tenants.sql feed every dataset: a tenant row that changes
// re-warms the tenant whole. A table declared with two tenant columns is an error.
func feeds(cat *catalog.Catalog) (map[string]*feed, error) {
	out := map[string]*feed{}
	add := func(table, column, dataset, file string) error {
		f, ok := out[table]
		if !ok {
			f = &feed{column: column}
			out[table] = f
		}
		if f.column != column {
			return fmt.Errorf("%s: table %s has tenant column %s here and %s in another file", file, table, column, f.column)
		}
		if !slices.Contains(f.datasets, dataset) {
			f.datasets = append(f.datasets, dataset)
		}
		return nil
	}
	for _, d := range cat.All() {
		for _, t := range d.Tables {
			if err := add(t, d.TenantColumn, d.Name, d.File); err != nil {
				return nil, err
			}
		}
	}
	tn := cat.Tenants()
	for _, t := range tn.Tables {
		for _, d := range cat.All() {
			if err := add(t, tn.TenantColumn, d.Name, tn.File); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// ActiveTenants returns the ids of the active tenants, in order: cachewarm.active_tenants(),
// which installTenants makes from tenants.sql.
func ActiveTenants(ctx context.Context, pool *pgxpool.Pool) ([]string, error) {
	rows, err := pool.Query(ctx, `SELECT t.id FROM cachewarm.active_tenants() AS t(id) ORDER BY t.id`)
	if err != nil {
		return nil, fmt.Errorf("list active tenants: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list active tenants: %w", err)
	}
	return ids, nil
}

// installTenants replaces cachewarm.active_tenants() with tenants.sql's query.
func installTenants(ctx context.Context, tx pgx.Tx, tn catalog.Tenants) error {
	sql := fmt.Sprintf(`CREATE OR REPLACE FUNCTION cachewarm.active_tenants() RETURNS SETOF text
LANGUAGE plpgsql STABLE AS $cachewarm_tenants$
BEGIN
    RETURN QUERY SELECT q.id::text FROM (
%s
    ) AS q(id);
END
$cachewarm_tenants$`, tn.SQL)
	if _, err := tx.Exec(ctx, sql); err != nil {
		return fmt.Errorf("install %s: %w", tn.File, err)
	}
	return nil
}

// installTriggers records the catalog in cachewarm.datasets and the declared source tables
// that exist in cachewarm.capture_tables, and, with triggers, (re)creates the change triggers
// on them and on no other table (without, it removes every change trigger: the logical mode
// captures changes from the WAL). It returns the tables it covered.
func installTriggers(ctx context.Context, tx pgx.Tx, cat *catalog.Catalog, triggers bool, logger *slog.Logger) ([]string, error) {
	if _, err := tx.Exec(ctx, `DELETE FROM cachewarm.datasets`); err != nil {
		return nil, fmt.Errorf("sync datasets: %w", err)
	}
	for _, d := range cat.All() {
		if _, err := tx.Exec(ctx, `INSERT INTO cachewarm.datasets (name, phase, tables) VALUES ($1, $2, $3)`, d.Name, string(d.Phase), d.Tables); err != nil {
			return nil, fmt.Errorf("sync dataset %s: %w", d.Name, err)
		}
	}
	fs, err := feeds(cat)
	if err != nil {
		return nil, err
	}

	// The triggers there are, kept where they are already right: dropping a trigger takes
	// ownership of its table, which a dedicated migrate role does not have.
	type trigger struct{ table, name string }
	existing := map[trigger]string{} // -> "function/nargs"
	rows, err := tx.Query(ctx, `
SELECT t.tgrelid::regclass::text, t.tgname::text, p.proname::text || '/' || t.tgnargs
FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
WHERE t.tgname LIKE $1 || '%' AND NOT t.tgisinternal`, triggerPrefix)
	if err != nil {
		return nil, fmt.Errorf("find change triggers: %w", err)
	}
	var tr trigger
	var fn string
	if _, err := pgx.ForEachRow(rows, []any{&tr.table, &tr.name, &fn}, func() error { existing[tr] = fn; return nil }); err != nil {
		return nil, fmt.Errorf("find change triggers: %w", err)
	}
	drop := func(tr trigger) error {
		if _, err := tx.Exec(ctx, fmt.Sprintf(`DROP TRIGGER %s ON %s`, pgx.Identifier{tr.name}.Sanitize(), tr.table)); err != nil {
			return fmt.Errorf("drop change trigger %s on %s: %w", tr.name, tr.table, err)
		}
		return nil
	}

	if _, err := tx.Exec(ctx, `DELETE FROM cachewarm.capture_tables`); err != nil {
		return nil, fmt.Errorf("sync captured tables: %w", err)
	}
	functions, err := installCaptureFunctions(ctx, tx, fs)
	if err != nil {
		return nil, err
	}
	var covered []string
	for _, table := range slices.Sorted(maps.Keys(fs)) {
		f := fs[table]
		var rel, qualified *string
		var relid uint32
		var hasColumn bool
		err := tx.QueryRow(ctx, `
SELECT to_regclass($1)::text, coalesce(to_regclass($1)::oid, 0),
       (SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)),
       EXISTS (SELECT 1 FROM pg_attribute a
               WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped)`, table, f.column).Scan(&rel, &relid, &qualified, &hasColumn)
		if err != nil {
			return nil, fmt.Errorf("look up table %s: %w", table, err)
		}
		if rel == nil {
			logger.WarnContext(ctx, "declared table does not exist: no change trigger on it until a migrate after it is created", "table", table)
			continue
		}
		if !hasColumn {
			return nil, fmt.Errorf("table %s has no tenant column %s (set tenant-column in the dataset file)", table, f.column)
		}
		for _, ev := range []struct{ name, when, fn string }{
			{"insert", "AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT", "capture_new_" + f.column},
			{"update", "AFTER UPDATE ON {table} REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT", "capture_new_" + f.column},
			{"move", "AFTER UPDATE ON {table} FOR EACH ROW WHEN (OLD.{column} IS DISTINCT FROM NEW.{column})", "capture_moved_" + f.column},
			{"delete", "AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT", "capture_old_" + f.column},
			{"truncate", "AFTER TRUNCATE ON {table} FOR EACH STATEMENT", "capture_truncate"},
		} {
			tr := trigger{*rel, triggerPrefix + ev.name}
			if !triggers {
				continue // dropped below with the others
			}
			have, ok := existing[tr]
			delete(existing, tr)
			if have == ev.fn+"/0" {
				continue
			}
			if ok {
				if err := drop(tr); err != nil {
					return nil, err
				}
			}
			when := strings.NewReplacer("{table}", *rel, "{column}", pgx.Identifier{f.column}.Sanitize()).Replace(ev.when)
			sql := fmt.Sprintf(`CREATE TRIGGER %s %s EXECUTE FUNCTION cachewarm.%s()`,
				pgx.Identifier{tr.name}.Sanitize(), when, pgx.Identifier{ev.fn}.Sanitize())
			if _, err := tx.Exec(ctx, sql); err != nil {
				return nil, fmt.Errorf("create %s trigger on %s: %w", ev.name, table, err)
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO cachewarm.capture_tables (relid, name, tenant_column, datasets) VALUES ($1, $2, $3, $4)
ON CONFLICT (relid) DO UPDATE SET datasets = (SELECT array_agg(DISTINCT d ORDER BY d) FROM unnest(cachewarm.capture_tables.datasets || excluded.datasets) AS d)`,
			relid, *qualified, f.column, slices.Sorted(slices.Values(f.datasets))); err != nil {
			return nil, fmt.Errorf("record captured table %s: %w", table, err)
		}
		covered = append(covered, *rel)
	}
	for tr := range existing { // on tables no longer declared, or of an older cachewarm
		if err := drop(tr); err != nil {
			return nil, err
		}
	}
	if err := dropUnusedCaptureFunctions(ctx, tx, functions); err != nil {
		return nil, err
	}
	return covered, nil
}

// installCaptureFunctions (re)creates the trigger functions the tables of fs need, three per
// tenant column, and returns the names of all it made (in schema cachewarm).
//
// Each runs inside the ERP writer's transaction, so it does the least that can be done
// there: one INSERT into cachewarm.changes, which has no index, no unique key and no row two
// writers could both need. capture_new_<column> appends the distinct tenants of the rows a
// statement inserted or updated (read once from its transition table, so a 10,000-row
// statement appends one row per tenant); capture_old_<column> those of the rows it deleted.
// An UPDATE keeps no table of old rows: the rare row whose tenant column changed fires
// capture_moved_<column>, a row trigger whose WHEN clause PostgreSQL evaluates without
// calling it for any other row (docs/change-capture.md has the measurements).
//
// They run with the rights of the role that ran migrate (SECURITY DEFINER, with a pinned
// search_path), so the ERP's own role needs no right on schema cachewarm.
func installCaptureFunctions(ctx context.Context, tx pgx.Tx, fs map[string]*feed) ([]string, error) {
	const header = `CREATE OR REPLACE FUNCTION cachewarm.%s() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $cachewarm_capture$
BEGIN
    INSERT INTO cachewarm.changes (relid, tenant_id) %s;
    RETURN NULL;
END
$cachewarm_capture$`
	bodies := map[string]string{"capture_truncate": `VALUES (TG_RELID, NULL)`}
	for _, f := range fs {
		col := pgx.Identifier{f.column}.Sanitize()
		bodies["capture_new_"+f.column] = fmt.Sprintf(`SELECT DISTINCT TG_RELID, n.%[1]s::text FROM new_rows n WHERE n.%[1]s IS NOT NULL`, col)
		bodies["capture_old_"+f.column] = fmt.Sprintf(`SELECT DISTINCT TG_RELID, o.%[1]s::text FROM old_rows o WHERE o.%[1]s IS NOT NULL`, col)
		bodies["capture_moved_"+f.column] = fmt.Sprintf(`SELECT TG_RELID, OLD.%[1]s::text WHERE OLD.%[1]s IS NOT NULL`, col)
	}
	names := slices.Sorted(maps.Keys(bodies))
	for _, name := range names {
		if _, err := tx.Exec(ctx, fmt.Sprintf(header, pgx.Identifier{name}.Sanitize(), bodies[name])); err != nil {
			return nil, fmt.Errorf("create change trigger function %s: %w", name, err)
		}
	}
	return names, nil
}

// dropUnusedCaptureFunctions drops the change trigger functions not in keep: those of tenant
// columns no table has any more, and those of older cachewarm versions.
func dropUnusedCaptureFunctions(ctx context.Context, tx pgx.Tx, keep []string) error {
	rows, err := tx.Query(ctx, `
SELECT format('DROP FUNCTION %s()', p.oid::regproc) FROM pg_proc p
WHERE p.pronamespace = 'cachewarm'::regnamespace AND p.proname LIKE 'capture\_%' AND NOT p.proname = ANY($1::text[])`, keep)
	if err != nil {
		return fmt.Errorf("find unused change trigger functions: %w", err)
	}
	drops, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("find unused change trigger functions: %w", err)
	}
	for _, d := range drops {
		if _, err := tx.Exec(ctx, d); err != nil {
			return fmt.Errorf("drop unused change trigger function: %w", err)
		}
	}
	return nil
}

// installPublication creates or updates the publication and slot of the logical mode for the
// tables capture_tables lists (installTriggers wrote it).
func installPublication(ctx context.Context, pool *pgxpool.Pool) error {
	tables, err := CapturedTables(ctx, pool)
	if err != nil {
		return err
	}
	return logical.Setup(ctx, pool, tables)
}

// CapturedTables returns the source tables whose changes are captured (as migrate recorded
// them) with their tenant columns, for the logical mode's publication and streamer.
func CapturedTables(ctx context.Context, db interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) ([]logical.Table, error) {
	rows, err := db.Query(ctx, `SELECT name, tenant_column FROM cachewarm.capture_tables ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("captured tables: %w", err)
	}
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (logical.Table, error) {
		var t logical.Table
		err := r.Scan(&t.Name, &t.TenantColumn)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("captured tables: %w", err)
	}
	return tables, nil
}
