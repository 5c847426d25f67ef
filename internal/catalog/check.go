package catalog

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Check runs every query of c once against the database, each in a transaction that is
// rolled back, and returns every problem found, each located in its file: a declared table
// or tenant column that does not exist, a query that fails, a key placeholder that is no
// column, a column type with no JSON rule, a tenants query that does not yield one column.
// Each dataset query runs for the first active tenant (or a made-up id when there is none),
// so that the rows are read and assembled as a warm would. nil means no problem.
func Check(ctx context.Context, pool *pgxpool.Pool, c *Catalog) error {
	var probs Problems
	tn := c.Tenants()
	tenant := "cachewarm-check"
	err := inRollback(ctx, pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, "SELECT q.* FROM (\n"+tn.SQL+"\n) AS q LIMIT 1")
		if err != nil {
			return err
		}
		defer rows.Close()
		if n := len(rows.FieldDescriptions()); n != 1 {
			return fmt.Errorf("the tenants query yields %d columns: want one, the tenant id", n)
		}
		if rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				return err
			}
			if vals[0] != nil {
				tenant = fmt.Sprint(vals[0])
			}
		}
		return rows.Err()
	})
	if err != nil {
		probs = append(probs, Problem{tn.File, 1, err.Error()})
	}
	for _, t := range tn.Tables {
		if p := checkTable(ctx, pool, t, tn.TenantColumn); p != "" {
			probs = append(probs, Problem{tn.File, 1, p})
		}
	}
	for _, d := range c.All() {
		for _, t := range d.Tables {
			if p := checkTable(ctx, pool, t, d.TenantColumn); p != "" {
				probs = append(probs, Problem{d.File, d.line("tables"), p})
			}
		}
		if err := inRollback(ctx, pool, func(tx pgx.Tx) error {
			_, err := d.Entries(ctx, tx, tenant)
			return err
		}); err != nil {
			probs = append(probs, d.problem(err, tenant))
		}
	}
	if len(probs) == 0 {
		return nil
	}
	probs.sort()
	return probs
}

// inRollback runs f in a transaction of pool that is rolled back whatever f does.
func inRollback(ctx context.Context, pool *pgxpool.Pool, f func(pgx.Tx) error) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	return f(tx)
}

// checkTable says what is wrong with table (resolved through the search_path) and its
// tenant column, or "".
func checkTable(ctx context.Context, pool *pgxpool.Pool, table, column string) string {
	var rel *string
	var hasColumn bool
	err := pool.QueryRow(ctx, `
SELECT to_regclass($1)::text,
       EXISTS (SELECT 1 FROM pg_attribute a
               WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped)`,
		table, column).Scan(&rel, &hasColumn)
	switch {
	case err != nil:
		return fmt.Sprintf("table %s: %v", table, err)
	case rel == nil:
		return fmt.Sprintf("table %s does not exist (search_path: check the schema)", table)
	case !hasColumn:
		return fmt.Sprintf("table %s has no tenant column %s (set tenant-column)", table, column)
	}
	return ""
}

// problem locates a query error in d's file: a PostgreSQL error at its position in the
// query, a key placeholder at the key field, anything else at the query's first line.
func (d Dataset) problem(err error, tenant string) Problem {
	line := d.QueryLine
	msg := err.Error()
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr):
		msg = pgErr.Message
		if pgErr.Hint != "" {
			msg += " (" + pgErr.Hint + ")"
		}
		if pos := int(pgErr.Position) - 1 - strings.Index(d.RowsSQL(), d.SQL); pgErr.Position > 0 && pos >= 0 && pos <= len(d.SQL) {
			line += strings.Count(d.SQL[:pos], "\n")
		}
	case strings.Contains(msg, "key placeholder"):
		line = d.line("key")
	case strings.Contains(msg, "column value"), strings.Contains(msg, "value json needs"):
		line = d.line("value")
	}
	msg = strings.TrimPrefix(msg, fmt.Sprintf("query %s for %s: ", d.Name, tenant))
	return Problem{d.File, line, strings.TrimPrefix(msg, fmt.Sprintf("dataset %s: ", d.Name))}
}
