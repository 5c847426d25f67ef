package migrations

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/jackc/pgx/v5"
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

// installTriggers records the catalog in cachewarm.datasets and (re)creates the change
// triggers on every declared source table that exists, and on no other table. It returns the
// tables it covered.
func installTriggers(ctx context.Context, tx pgx.Tx, cat *catalog.Catalog, logger *slog.Logger) ([]string, error) {
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

	rows, err := tx.Query(ctx, `
SELECT format('DROP TRIGGER %I ON %s', t.tgname, t.tgrelid::regclass)
FROM pg_trigger t WHERE t.tgname LIKE $1 || '%' AND NOT t.tgisinternal`, triggerPrefix)
	if err != nil {
		return nil, fmt.Errorf("find change triggers: %w", err)
	}
	drops, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("find change triggers: %w", err)
	}
	for _, d := range drops {
		if _, err := tx.Exec(ctx, d); err != nil {
			return nil, fmt.Errorf("drop change trigger: %w", err)
		}
	}

	var covered []string
	for _, table := range slices.Sorted(maps.Keys(fs)) {
		f := fs[table]
		var rel *string
		var hasColumn bool
		err := tx.QueryRow(ctx, `
SELECT to_regclass($1)::text,
       EXISTS (SELECT 1 FROM pg_attribute a
               WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped)`, table, f.column).Scan(&rel, &hasColumn)
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
		args := append([]string{f.column}, slices.Sorted(slices.Values(f.datasets))...)
		quoted := make([]string, len(args))
		for i, a := range args {
			quoted[i] = "'" + strings.ReplaceAll(a, "'", "''") + "'"
		}
		for _, ev := range []struct{ op, ref string }{
			{"INSERT", "NEW TABLE AS new_rows"},
			{"UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"},
			{"DELETE", "OLD TABLE AS old_rows"},
		} {
			name := triggerPrefix + strings.ToLower(ev.op)
			sql := fmt.Sprintf(`CREATE TRIGGER %s AFTER %s ON %s REFERENCING %s FOR EACH STATEMENT EXECUTE FUNCTION cachewarm.source_changed(%s)`,
				pgx.Identifier{name}.Sanitize(), ev.op, *rel, ev.ref, strings.Join(quoted, ", "))
			if _, err := tx.Exec(ctx, sql); err != nil {
				return nil, fmt.Errorf("create %s trigger on %s: %w", ev.op, table, err)
			}
		}
		covered = append(covered, *rel)
	}
	return covered, nil
}
