// Package capture turns the changes that the change triggers append to cachewarm.changes
// into data version bumps and re-warm jobs, outside the ERP's transactions.
//
// # Why the order keeps no stale overwrite
//
// A writer's transaction C appends (table, tenant) and commits. The collector's transaction B
// can only delete that row after C committed, so B's snapshot sees C's data. B bumps the
// tenant x dataset version from V to V' > V and inserts the re-warm job J in the same
// transaction. J reads the data and the version in one snapshot taken after B committed: it
// sees C's data and V' (or a later version with later data). A warm that read before B
// carries a version of at most V, so whatever order the writes reach Redis in, J's value
// (version V') is never overwritten by it, and J always follows the change. Two warms that
// both read before B carry the same version V and may land in either order, one of them
// before C's data; J, which always comes after them, ends that window.
package capture

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/cachewarm/cachewarm/internal/capture/logical"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// lockID is the session advisory lock that makes one worker at a time the collector:
// "cwcollec" read as bytes.
const lockID = 0x6377636f6c6c6563

// Tenant is one tenant whose datasets a collection found changed.
type Tenant struct {
	ID       string
	Datasets []string
	// Valid is false for an id that is not a valid tenant id: it was skipped.
	Valid bool
	// ChangedAt is when the oldest of its changes was made.
	ChangedAt time.Time
}

// Collect consumes every change committed so far, in one transaction of pool: it deletes
// them, bumps the versions of the tenant x datasets they map to and queues their re-warm
// jobs (deduplicated against jobs still waiting), so that a change is neither lost nor done
// twice. It returns the tenants it found.
func Collect(ctx context.Context, db interface {
	Begin(context.Context) (pgx.Tx, error)
}) ([]Tenant, error) {
	var out []Tenant
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		// Durable even on a connection that commits asynchronously: the changes it deletes
		// must not come back without their jobs, nor the jobs without the deletion.
		if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = on`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT tenant_id, datasets, valid, changed_at FROM cachewarm.collect_changes()`)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Tenant, error) {
			var t Tenant
			err := r.Scan(&t.ID, &t.Datasets, &t.Valid, &t.ChangedAt)
			return t, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("collect changes: %w", err)
	}
	return out, nil
}

// Collector runs [Collect] whenever changes are waiting. Every worker runs one; a session
// advisory lock makes one of them collect at a time, and another takes over within
// [Collector.Retry] when its process goes away.
type Collector struct {
	pool   *pgxpool.Pool
	logger *slog.Logger
	// Interval is how often the collector looks for changes (a read that costs microseconds
	// on an empty table): half of it is the average wait a change adds to change-to-fresh.
	Interval time.Duration
	// Retry is how often a worker that is not the collector tries to become it.
	Retry time.Duration
	// Observe, if not nil, sees every collection's tenants.
	Observe func([]Tenant)
	// Leading, if not nil, runs while this process is the collector, with a context that
	// ends when it stops being it: the logical mode's streamer, which one process at a time
	// may run.
	Leading func(ctx context.Context)
	// wake asks the collector to look now rather than at its next interval.
	wake chan struct{}
	// vacuumEvery is how many collected tenants make the collector vacuum the table, so that
	// looking at it stays cheap where autovacuum is off or slow.
	vacuumEvery int
}

// NewCollector returns a collector on pool that looks every interval.
func NewCollector(pool *pgxpool.Pool, interval time.Duration, logger *slog.Logger) *Collector {
	return &Collector{pool: pool, logger: logger, Interval: interval, Retry: time.Second, vacuumEvery: 10_000, wake: make(chan struct{}, 1)}
}

// Wake makes the collector look for changes now. It never blocks.
func (c *Collector) Wake() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Record appends changes of the logical mode's stream to cachewarm.changes, as the change
// triggers do, and wakes the collector. It returns once they are committed (durably, even on
// a connection that commits asynchronously): the streamer confirms their WAL position only
// then.
func (c *Collector) Record(ctx context.Context, changes []logical.Change) error {
	tables := make([]string, len(changes))
	tenants := make([]*string, len(changes))
	for i, ch := range changes {
		tables[i] = ch.Table
		if !ch.All {
			tenants[i] = &ch.Tenant
		}
	}
	err := pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = on`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `
INSERT INTO cachewarm.changes (relid, tenant_id)
SELECT ct.relid, ch.tenant
FROM unnest($1::text[], $2::text[]) AS ch(tbl, tenant)
JOIN cachewarm.capture_tables ct ON ct.name = ch.tbl`, tables, tenants)
		return err
	})
	if err != nil {
		return fmt.Errorf("record changes: %w", err)
	}
	c.Wake()
	return nil
}

// Run collects until ctx ends. It holds one connection of the pool while it runs.
func (c *Collector) Run(ctx context.Context) error {
	for {
		err := c.run(ctx)
		if ctx.Err() != nil {
			return nil
		}
		c.logger.WarnContext(ctx, "change collector: retrying", "err", err)
		if !sleep(ctx, c.Retry) {
			return nil
		}
	}
}

// run waits to become the collector, then collects until ctx ends or the connection fails.
func (c *Collector) run(ctx context.Context) error {
	conn, err := c.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer func() {
		// The session lock must not stay with a connection going back to the pool.
		conn.Conn().Close(context.WithoutCancel(ctx))
		conn.Release()
	}()
	for {
		var locked bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, int64(lockID)).Scan(&locked); err != nil {
			return err
		}
		if locked {
			break
		}
		if !sleep(ctx, c.Retry) {
			return ctx.Err()
		}
	}
	c.logger.InfoContext(ctx, "change collector: collecting", "interval", c.Interval)
	if c.Leading != nil {
		leading, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.Leading(leading)
		}()
		defer func() {
			stop()
			<-done
		}()
	}
	collected := 0
	for {
		var waiting bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM cachewarm.changes)`).Scan(&waiting); err != nil {
			return err
		}
		if waiting {
			tenants, err := Collect(ctx, conn)
			if err != nil {
				return err
			}
			c.report(ctx, tenants)
			if collected += len(tenants); collected >= c.vacuumEvery {
				collected = 0
				if _, err := conn.Exec(ctx, `VACUUM cachewarm.changes`); err != nil {
					c.logger.WarnContext(ctx, "change collector: vacuum", "err", err)
				}
			}
			continue // more may have come meanwhile
		}
		if !c.sleepOrWake(ctx) {
			return ctx.Err()
		}
	}
}

// sleepOrWake waits the interval or a Wake, or until ctx ends; it reports whether ctx is
// still live.
func (c *Collector) sleepOrWake(ctx context.Context) bool {
	t := time.NewTimer(c.Interval)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-c.wake:
	}
	return true
}

// report logs skipped tenant ids and passes the collection on.
func (c *Collector) report(ctx context.Context, tenants []Tenant) {
	for _, t := range tenants {
		if !t.Valid {
			c.logger.WarnContext(ctx, "change collector: skipped a change of an invalid tenant id", "tenant", t.ID, "datasets", t.Datasets)
		}
	}
	if c.Observe != nil && len(tenants) > 0 {
		c.Observe(tenants)
	}
}

// sleep waits d, or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
