package demodata

import (
	"context"
	_ "embed"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"
)

//go:embed schema.sql
var schemaSQL string

//go:embed indexes.sql
var indexesSQL string

// DefaultSchema is the schema Seed loads into when Options.Schema is empty.
const DefaultSchema = "public"

// reservedSchema is cachewarm's own schema, which Seed never touches.
const reservedSchema = "cachewarm"

// batchTenants is how many tenants one COPY per table carries: large enough to amortise the
// round trips, small enough to keep a batch's rows (about 11,000 per tenant) cheap in memory.
const batchTenants = 4

// maxLoaders caps the connections loading at once; more does not help on a small machine.
const maxLoaders = 2

// Options configures Seed.
type Options struct {
	// Tenants is the number of tenants to create, t001 to TenantID(Tenants). Zero creates the
	// empty tables only.
	Tenants int
	// Seed selects the generated data; the same seed and tenant give the same rows.
	Seed int64
	// Schema is the schema to (re)create the tables in; empty means DefaultSchema. It is created
	// if missing. The schema "cachewarm" is refused.
	Schema string
	// Progress, if not nil, is called after each batch of tenants is loaded with the number of
	// tenants loaded so far and Tenants. Calls are serialised and done only grows.
	Progress func(done, total int)
	// Today is the day that calendar-relative data (periods, rates, pricing rules, GL entries)
	// is built around; the zero value means the current UTC day. Only its UTC date is used.
	Today time.Time
}

// Result reports what Seed loaded.
type Result struct {
	// Schema is the schema the tables were created in.
	Schema string
	// Tenants is the number of tenants loaded.
	Tenants int
	// Rows is the number of rows loaded per table name.
	Rows map[string]int64
	// Duration is the wall time of the whole seed, indexes and ANALYZE included.
	Duration time.Duration
}

// TotalRows returns the number of rows loaded across all tables.
func (r Result) TotalRows() int64 {
	var n int64
	for _, c := range r.Rows {
		n += c
	}
	return n
}

// TenantID returns the id of tenant k (1-based): "t" and k zero-padded to at least 3 digits
// (t001, t042, t999, t1000). It panics if k < 1.
func TenantID(k int) string {
	if k < 1 {
		panic(fmt.Sprintf("demodata: tenant index %d, want >= 1", k))
	}
	return fmt.Sprintf("t%03d", k)
}

// Tables returns the names of the demo tables, in creation order.
func Tables() []string {
	specs := tableSpecs()
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = s.name
	}
	return out
}

// Seed drops and re-creates the demo ERP tables in opts.Schema and loads opts.Tenants tenants of
// deterministic data into them with COPY, then adds keys and indexes and analyzes the tables.
// Existing tables of the same names in the schema are dropped with CASCADE, so their triggers
// (cachewarm's change triggers included: run migrate again after a re-seed) and any view over
// them go too; no other table is dropped or written. Seed uses up to two connections of pool at
// once. It is not atomic: after an error the tables may be partly loaded, and seeding again
// starts over.
func Seed(ctx context.Context, pool *pgxpool.Pool, opts Options) (Result, error) {
	start := time.Now()
	schema, today, err := opts.normalize()
	if err != nil {
		return Result{}, err
	}
	specs := tableSpecs()
	if err := createTables(ctx, pool, schema, specs); err != nil {
		return Result{}, err
	}
	counts, err := load(ctx, pool, schema, opts, today, specs)
	if err != nil {
		return Result{}, err
	}
	if err := createIndexes(ctx, pool, schema); err != nil {
		return Result{}, err
	}
	if err := analyze(ctx, pool, schema, specs); err != nil {
		return Result{}, err
	}
	res := Result{Schema: schema, Tenants: opts.Tenants, Rows: make(map[string]int64, len(specs))}
	for i, s := range specs {
		res.Rows[s.name] = counts[i]
	}
	res.Duration = time.Since(start)
	return res, nil
}

// normalize validates opts and returns the schema and the day to build around.
func (o Options) normalize() (schema string, today time.Time, err error) {
	if o.Tenants < 0 {
		return "", time.Time{}, fmt.Errorf("demodata: %d tenants, want 0 or more", o.Tenants)
	}
	schema = o.Schema
	if schema == "" {
		schema = DefaultSchema
	}
	if strings.EqualFold(schema, reservedSchema) {
		return "", time.Time{}, fmt.Errorf("demodata: schema %q is reserved for cachewarm's own objects", schema)
	}
	t := o.Today
	if t.IsZero() {
		t = time.Now()
	}
	t = t.UTC()
	return schema, time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), nil
}

// inSchema runs fn in a transaction whose search_path is schema alone, so unqualified names in
// the embedded SQL resolve there and nowhere else.
func inSchema(ctx context.Context, pool *pgxpool.Pool, schema string, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL search_path TO "+pgx.Identifier{schema}.Sanitize()); err != nil {
			return fmt.Errorf("set search_path: %w", err)
		}
		return fn(tx)
	})
}

// createTables creates the schema if needed, drops the demo tables and creates them empty.
func createTables(ctx context.Context, pool *pgxpool.Pool, schema string, specs [numTables]tableSpec) error {
	if _, err := pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize()); err != nil {
		return fmt.Errorf("demodata: create schema %s: %w", schema, err)
	}
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = pgx.Identifier{s.name}.Sanitize()
	}
	err := inSchema(ctx, pool, schema, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "DROP TABLE IF EXISTS "+strings.Join(names, ", ")+" CASCADE"); err != nil {
			return fmt.Errorf("drop tables: %w", err)
		}
		if _, err := tx.Exec(ctx, schemaSQL); err != nil {
			return fmt.Errorf("create tables: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("demodata: schema %s: %w", schema, err)
	}
	return nil
}

// load generates and copies the tenants' rows, batchTenants tenants per COPY, on up to
// maxLoaders connections at once. It returns the row counts per table.
func load(ctx context.Context, pool *pgxpool.Pool, schema string, opts Options, today time.Time,
	specs [numTables]tableSpec) ([numTables]int64, error) {
	var (
		mu     sync.Mutex
		counts [numTables]int64
		done   int
	)
	batches := make(chan int) // first tenant index of each batch
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(batches)
		for first := 1; first <= opts.Tenants; first += batchTenants {
			select {
			case batches <- first:
			case <-ctx.Done():
				return nil
			}
		}
		return nil
	})
	loaders := min(maxLoaders, int(pool.Config().MaxConns), (opts.Tenants+batchTenants-1)/batchTenants)
	for range loaders {
		g.Go(func() error {
			var rows rowSet
			var local [numTables]int64
			for first := range batches {
				last := min(first+batchTenants-1, opts.Tenants)
				for k := first; k <= last; k++ {
					generateTenant(&rows, opts.Seed, k, today)
				}
				for t, spec := range specs {
					if len(rows[t]) == 0 {
						continue
					}
					n, err := pool.CopyFrom(ctx, pgx.Identifier{schema, spec.name}, spec.columns, pgx.CopyFromRows(rows[t]))
					if err != nil {
						return fmt.Errorf("demodata: copy %s of tenants %s-%s: %w", spec.name, TenantID(first), TenantID(last), err)
					}
					local[t] += n
				}
				rows.reset()
				mu.Lock()
				done += last - first + 1
				if opts.Progress != nil {
					opts.Progress(done, opts.Tenants)
				}
				mu.Unlock()
			}
			mu.Lock()
			for t := range local {
				counts[t] += local[t]
			}
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return counts, err
	}
	return counts, nil
}

// createIndexes runs the statement blocks of indexes.sql, two at a time.
func createIndexes(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(maxLoaders)
	for _, block := range sqlBlocks(indexesSQL) {
		g.Go(func() error {
			err := inSchema(ctx, pool, schema, func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, block)
				return err
			})
			if err != nil {
				return fmt.Errorf("demodata: %s (schema %s): %w", firstLine(block), schema, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// analyze updates the planner statistics of every demo table.
func analyze(ctx context.Context, pool *pgxpool.Pool, schema string, specs [numTables]tableSpec) error {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = pgx.Identifier{schema, s.name}.Sanitize()
	}
	if _, err := pool.Exec(ctx, "ANALYZE "+strings.Join(names, ", ")); err != nil {
		return fmt.Errorf("demodata: analyze %s: %w", schema, err)
	}
	return nil
}

// sqlBlocks splits SQL text into its blank-line-separated blocks, leaving out blocks that hold
// only comments.
func sqlBlocks(text string) []string {
	var out []string
	for _, block := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n\n") {
		block = strings.TrimSpace(block)
		hasSQL := false
		for _, line := range strings.Split(block, "\n") {
			if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "--") {
				hasSQL = true
				break
			}
		}
		if hasSQL {
			out = append(out, block)
		}
	}
	return out
}

// firstLine returns the first line of s.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
