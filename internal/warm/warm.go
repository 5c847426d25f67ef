// Package warm runs dataset queries and streams their rows into Redis: the unit of work every
// job kind of cachewarm is built from.
//
// A dataset is read in one statement that also reads its data version (so both come from one
// snapshot), and its rows go straight into pipelined, version-guarded writes
// (rediswrite.Writer), which also tell the applications' L1 tiers: a tenant's data is never
// held in memory whole.
package warm

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/rediswrite"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Warmer warms datasets of tenants. It is safe for concurrent use.
type Warmer struct {
	pool    *pgxpool.Pool
	writer  *rediswrite.Writer
	keys    cache.Keys
	catalog *catalog.Catalog
	logger  *slog.Logger
	// pageBufs holds *[]byte storage for assembling list pages and lists, reused across
	// datasets: grown anew for every dataset, it was a third of a warm's allocations.
	pageBufs sync.Pool
}

// New returns a Warmer that reads through pool and writes through writer, building keys with
// keys.
func New(pool *pgxpool.Pool, writer *rediswrite.Writer, keys cache.Keys, cat *catalog.Catalog, logger *slog.Logger) *Warmer {
	return &Warmer{pool: pool, writer: writer, keys: keys, catalog: cat, logger: logger}
}

// Catalog returns the warmer's dataset catalog.
func (w *Warmer) Catalog() *catalog.Catalog { return w.catalog }

// Keys returns the warmer's key builder.
func (w *Warmer) Keys() cache.Keys { return w.keys }

// Result is the outcome of warming one dataset of one tenant.
type Result struct {
	Dataset string
	// Version is the data version the values were read at.
	Version int64
	rediswrite.WriteStats
	// Removed is the number of keys deleted because the warm no longer wrote them (their
	// rows were deleted or no longer qualify).
	Removed int
	// Query is the time spent reading from PostgreSQL, Duration the whole warm.
	Query, Duration time.Duration
	// Err is why the dataset failed, nil if it did not.
	Err error
}

// Failed returns the results that failed.
func Failed(results []Result) []Result {
	var out []Result
	for _, r := range results {
		if r.Err != nil {
			out = append(out, r)
		}
	}
	return out
}

// Total adds up results' write statistics.
func Total(results []Result) rediswrite.WriteStats {
	var s rediswrite.WriteStats
	for _, r := range results {
		s.Add(r.WriteStats)
	}
	return s
}

// Datasets warms the named datasets of tenant t one after another. A failing dataset does
// not stop the others: each result carries its own error. It returns an error only when the
// work could not start (an unknown dataset name, the database unreachable).
//
// The datasets' queries go to PostgreSQL together, pipelined on one connection, and their rows
// are read and written in turn: one round trip for all of them instead of one each, which took
// a tenth off PostgreSQL's CPU for the critical phase. Each query still reads its own snapshot,
// as when sent alone. The pipeline is one implicit transaction: a query that fails aborts the
// rest of it, so after any failure the datasets left are read one by one; and the tables' share
// locks are held until its last query has been read, so DDL on them waits for a phase, not for
// a query.
func (w *Warmer) Datasets(ctx context.Context, t cache.Tenant, names []string) ([]Result, error) {
	datasets := make([]catalog.Dataset, 0, len(names))
	for _, n := range names {
		d, err := w.catalog.Lookup(n)
		if err != nil {
			return nil, err
		}
		datasets = append(datasets, d)
	}
	if _, err := w.pool.Exec(ctx, ensureVersionsSQL, t.String(), names); err != nil {
		return nil, fmt.Errorf("warm %s: versions: %w", t, err)
	}
	pipe, err := w.sendQueries(ctx, t, datasets)
	if err != nil {
		return nil, fmt.Errorf("warm %s: %w", t, err)
	}
	defer pipe.close()
	results := make([]Result, 0, len(datasets))
	for i, d := range datasets {
		if err := ctx.Err(); err != nil {
			// Timed out or stopping between two datasets: the rest fail as not warmed, so a
			// caller never takes a cut-short run for a complete one.
			for _, rest := range datasets[i:] {
				results = append(results, Result{Dataset: rest.Name, Err: fmt.Errorf("warm %s/%s: not started: %w", t, rest.Name, err)})
			}
			break
		}
		open := pipe.next
		if pipe.closed() { // after a failure: this dataset's query is sent again, alone
			open = func() (pgx.Rows, error) { return w.pool.Query(ctx, datasetQuery(d), t.String(), d.Name) }
		}
		r := w.dataset(ctx, t, d, open)
		if r.Err != nil {
			w.logger.WarnContext(ctx, "dataset failed", "tenant", t.String(), "dataset", d.Name, "err", r.Err)
			pipe.close()
		}
		results = append(results, r)
	}
	return results, nil
}

// pipeline is the dataset queries of one Datasets call, sent together on one connection.
type pipeline struct {
	conn    *pgxpool.Conn // nil once closed
	results pgx.BatchResults
}

// sendQueries sends the queries of datasets for t, in order, on one connection of the pool.
func (w *Warmer) sendQueries(ctx context.Context, t cache.Tenant, datasets []catalog.Dataset) (*pipeline, error) {
	conn, err := w.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	b := &pgx.Batch{}
	for _, d := range datasets {
		b.Queue(datasetQuery(d), t.String(), d.Name)
	}
	return &pipeline{conn: conn, results: conn.SendBatch(ctx, b)}, nil
}

// next is the rows of the next query.
func (p *pipeline) next() (pgx.Rows, error) { return p.results.Query() }

// closed reports whether the pipeline was closed: the results of its queries not read by then
// are gone.
func (p *pipeline) closed() bool { return p.conn == nil }

// close reads and drops the results not read yet and gives the connection back to the pool.
// It may be called more than once.
func (p *pipeline) close() {
	if p.closed() {
		return
	}
	_ = p.results.Close() // the error, if any, is the failed dataset's, already reported
	p.conn.Release()
	p.conn = nil
}

// datasetQuery is d's query wrapped in datasetSQL.
func datasetQuery(d catalog.Dataset) string { return fmt.Sprintf(datasetSQL, d.SQL) }

// Phase warms every dataset of phase p for tenant t.
func (w *Warmer) Phase(ctx context.Context, t cache.Tenant, p catalog.Phase) ([]Result, error) {
	ds := w.catalog.Phase(p)
	names := make([]string, len(ds))
	for i, d := range ds {
		names[i] = d.Name
	}
	return w.Datasets(ctx, t, names)
}

// dataset reads d for t from the rows open returns and writes its keys.
func (w *Warmer) dataset(ctx context.Context, t cache.Tenant, d catalog.Dataset, open func() (pgx.Rows, error)) Result {
	start := time.Now()
	res := Result{Dataset: d.Name}
	res.Err = w.stream(ctx, t, d, &res, open)
	if res.Err != nil {
		res.Err = fmt.Errorf("warm %s/%s: %w", t, d.Name, res.Err)
	}
	res.Duration = time.Since(start)
	return res
}

func (w *Warmer) stream(ctx context.Context, t cache.Tenant, d catalog.Dataset, res *Result, open func() (pgx.Rows, error)) error {
	queryStart := time.Now()
	rows, err := open()
	if err != nil {
		return err
	}
	defer rows.Close()
	var batch *rediswrite.Batch
	defer func() {
		if batch != nil {
			_ = batch.Wait() // on an early return: no write left running behind the job
		}
	}()
	dec := d.Decoder(1)
	var queryTime time.Duration
	written := map[string]bool{} // every key this warm wrote, for pruning the others
	asm := d.Assemble(func(prefix, suffix string, value []byte) error {
		key := w.keys.Join(prefix, t, suffix)
		written[key] = true
		return batch.Add(ctx, key, value)
	})
	storage, _ := w.pageBufs.Get().(*[]byte)
	if storage == nil {
		storage = new([]byte)
	}
	asm.SetStorage(*storage)
	defer func() {
		*storage = asm.Storage()
		w.pageBufs.Put(storage)
	}()
	for rows.Next() {
		readStart := time.Now()
		prefix, suffix, value, err := dec.Row(rows)
		if err != nil {
			return err
		}
		if batch == nil { // the first row: the version, the same on every row
			if err := scanVersion(rows, &res.Version); err != nil {
				return err
			}
			batch = w.writer.NewBatch(t, d.Name, res.Version, d.TTL)
			queryTime += time.Since(queryStart)
		} else {
			queryTime += time.Since(readStart)
		}
		if err := asm.Add(prefix, suffix, value); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if n := dec.Skipped(); n > 0 {
		w.logger.WarnContext(ctx, "rows left out: a key placeholder's column is NULL", "tenant", t.String(), "dataset", d.Name, "rows", n)
	}
	if batch == nil {
		res.Query = time.Since(queryStart)
		return nil
	}
	if err := asm.Close(); err != nil {
		return err
	}
	err = batch.Flush(ctx)
	res.WriteStats = batch.Stats()
	res.Query = queryTime
	if err != nil {
		return err
	}
	// Keys of rows deleted since the last warm (or no longer selected) would otherwise stay,
	// stale, until their TTL: remove what this complete read did not write.
	res.Removed, err = batch.Prune(ctx, written)
	return err
}

// scanVersion reads the data version, the first column of a row of datasetSQL.
func scanVersion(rows pgx.Rows, v *int64) error {
	dest := make([]any, len(rows.FieldDescriptions()))
	dest[0] = v
	return rows.Scan(dest...)
}

const (
	// ensureVersionsSQL gives each tenant x dataset a version row on its first warm, set to
	// the clock: versions then only grow, even if this database is new and Redis still holds
	// versions written from an older one.
	//
	// It inserts only rows it does not see: ON CONFLICT alone would wait for any open
	// transaction that changed the dataset (and so holds its row locked), stalling the warm,
	// and the worker running it, for as long as that transaction lasts.
	ensureVersionsSQL = `
INSERT INTO cachewarm.dataset_versions (tenant_id, dataset, version)
SELECT $1::text, d, cachewarm.clock_version() FROM unnest($2::text[]) AS d
WHERE NOT EXISTS (SELECT 1 FROM cachewarm.dataset_versions v WHERE v.tenant_id = $1::text AND v.dataset = d)
ON CONFLICT (tenant_id, dataset) DO NOTHING`

	// datasetSQL wraps a dataset query so the same statement (so the same snapshot) reads
	// the tenant x dataset version. A query with no row still yields one (its row marker
	// NULL: see catalog.Dataset.Decoder), so the version is known and the dataset's keys can
	// be pruned.
	datasetSQL = `
SELECT v.version, q.*
FROM (SELECT coalesce((SELECT version FROM cachewarm.dataset_versions
                       WHERE tenant_id = $1::text AND dataset = $2::text), 0) AS version) AS v
LEFT JOIN (SELECT true AS cachewarm_row, q0.* FROM (
%s
) AS q0) AS q ON true`
)
