package migrations

import (
	"context"
	"fmt"
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

// installTriggers records the catalog in cachewarm.datasets and (re)creates the change
// triggers on every source table that exists (resolved through the search_path). It returns
// the tables it covered.
func installTriggers(ctx context.Context, tx pgx.Tx, cat *catalog.Catalog) ([]string, error) {
	if _, err := tx.Exec(ctx, `DELETE FROM cachewarm.datasets`); err != nil {
		return nil, fmt.Errorf("sync datasets: %w", err)
	}
	feeds := map[string][]string{} // table -> datasets
	for _, d := range cat.All() {
		tables := d.Tables
		if tables == nil {
			tables = []string{} // a dataset no table feeds (pgx would send nil as NULL)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO cachewarm.datasets (name, phase, tables) VALUES ($1, $2, $3)`, d.Name, string(d.Phase), tables); err != nil {
			return nil, fmt.Errorf("sync dataset %s: %w", d.Name, err)
		}
		for _, t := range d.Tables {
			feeds[t] = append(feeds[t], d.Name)
		}
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
	for _, table := range slices.Sorted(maps.Keys(feeds)) {
		var rel *string
		var col string
		err := tx.QueryRow(ctx, `
SELECT to_regclass($1)::text,
       coalesce((SELECT a.attname::text FROM pg_attribute a
        WHERE a.attrelid = to_regclass($1) AND a.attname IN ('tenant_id', 'id') AND NOT a.attisdropped
        ORDER BY a.attname = 'tenant_id' DESC LIMIT 1), '')`, table).Scan(&rel, &col)
		if err != nil {
			return nil, fmt.Errorf("look up table %s: %w", table, err)
		}
		if rel == nil {
			continue // not created yet: the next migrate after seeding installs it
		}
		if col == "" {
			return nil, fmt.Errorf("table %s has no tenant_id column", table)
		}
		if table != "tenants" && col != "tenant_id" {
			return nil, fmt.Errorf("table %s has no tenant_id column", table)
		}
		args := append([]string{col}, slices.Sorted(slices.Values(feeds[table]))...)
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
