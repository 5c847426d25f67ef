package warm

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/cachewarm/cachewarm/cache"
)

// Invalidated reports what Invalidate did.
type Invalidated struct {
	Tenant   string   `json:"tenant"`
	Datasets []string `json:"datasets"`
	// Deleted is the number of keys removed; Rewarm the number of re-warm jobs queued (a
	// dataset already waiting for a re-warm is not queued twice).
	Deleted int `json:"deleted"`
	Rewarm  int `json:"rewarmJobs"`
}

// Invalidate removes tenant t's keys of the named datasets (every dataset when names is
// empty) and, if rewarm, queues a re-warm of each. Names are checked before anything is
// removed.
func (w *Warmer) Invalidate(ctx context.Context, t cache.Tenant, names []string, rewarm bool, reason string) (Invalidated, error) {
	if len(names) == 0 {
		names = w.catalog.Names()
	}
	for _, n := range names {
		if _, err := w.catalog.Lookup(n); err != nil {
			return Invalidated{}, err
		}
	}
	res := Invalidated{Tenant: t.String(), Datasets: names}
	var err error
	if res.Deleted, err = w.writer.Invalidate(ctx, t, names); err != nil {
		return res, err
	}
	if rewarm {
		if res.Rewarm, err = w.Enqueue(ctx, t, names, reason); err != nil {
			return res, err
		}
	}
	return res, nil
}

// TenantActive reports whether tenants.sql lists t as active (through
// cachewarm.active_tenants(), which migrate installs from it).
func (w *Warmer) TenantActive(ctx context.Context, t cache.Tenant) (bool, error) {
	var ok bool
	err := w.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM cachewarm.active_tenants() AS a(id) WHERE a.id = $1)`, t.String()).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("look up tenant %s: %w", t, err)
	}
	return ok, nil
}

// Enqueue queues a re-warm job (jobs.WarmDatasetsArgs) for each named dataset of t unless
// one is already waiting, through the same SQL function the change triggers use, and returns
// how many it queued.
func (w *Warmer) Enqueue(ctx context.Context, t cache.Tenant, names []string, reason string) (int, error) {
	var n int
	err := pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		// Durable even on a worker's asynchronously committing connections: the keys are
		// already gone, so the re-warm must not be.
		if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = on`); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT cachewarm.enqueue_dataset_warm($1, $2, $3)`, t.String(), names, reason).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("enqueue re-warm of %s: %w", t, err)
	}
	return n, nil
}
