package budget

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/demand"
	"github.com/cachewarm/cachewarm/internal/redisinfo"
	"github.com/cachewarm/cachewarm/internal/rediswrite"
	"github.com/cachewarm/cachewarm/jobs"
	"github.com/cachewarm/cachewarm/migrations"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// Overhead is how much Redis memory a byte of value written costs, keys, index sets,
// version keys and Redis's per-key structures included: used_memory's growth over the
// bytes_written of the same warm, measured on the demo data (docs/memory.md, "Memory budget").
const Overhead = 1.6

// Reasons recorded for skipped phases.
const (
	// ReasonBudget: the phase did not fit and no less-demanded tenant had room to give.
	ReasonBudget = "memory budget"
	// ReasonMadeRoom prefixes the tenant a removed phase made room for.
	ReasonMadeRoom = "memory budget: made room for "
)

// estimatesTTL is how long the gate keeps the phase sizes it read from the workflow tables.
const estimatesTTL = 5 * time.Second

// Remover deletes a tenant's keys of datasets, tenant-exact, through their index sets
// (rediswrite.Writer.Invalidate).
type Remover interface {
	Invalidate(ctx context.Context, t cache.Tenant, datasets []string) (int, error)
}

// Gate is the memory budget the phase jobs ask before they write (jobs.Budget). It is safe
// for concurrent use; its decisions in one process are serialised, and what it admitted and
// is not yet written is reserved against the budget.
type Gate struct {
	pool    *pgxpool.Pool
	rdb     redis.UniversalClient
	limit   Limit
	cat     *catalog.Catalog
	remover Remover
	metrics *Metrics
	logger  *slog.Logger

	mu        sync.Mutex
	reserved  map[string]int64 // by tenant/phase
	estimates map[string]int64 // latest bytes_written by tenant/phase
	readAt    time.Time
	evicted   int64 // the highest evicted_keys seen, for the per-phase deltas
	// maxMemory is Redis's maxmemory at infoAt, the last INFO read.
	maxMemory int64
	infoAt    time.Time
	// released is closed (and replaced) whenever a reservation is released.
	released chan struct{}
	// learning is closed when the phase admitted while no size of it was known finishes.
	learning map[catalog.Phase]chan struct{}
}

var _ jobs.Budget = (*Gate)(nil)

// NewGate returns the gate for limit. remover deletes the phases it removes to make room for
// more demanded tenants; metrics, if not nil, counts skipped phases and evictions.
func NewGate(pool *pgxpool.Pool, rdb redis.UniversalClient, limit Limit, cat *catalog.Catalog, remover Remover, metrics *Metrics, logger *slog.Logger) *Gate {
	return &Gate{pool: pool, rdb: rdb, limit: limit, cat: cat, remover: remover, metrics: metrics, logger: logger,
		reserved: map[string]int64{}, learning: map[catalog.Phase]chan struct{}{}, released: make(chan struct{})}
}

func slot(t string, p catalog.Phase) string { return t + "/" + string(p) }

// errNoEvictions stands for the INFO a phase's end skips when Redis has no maxmemory.
var errNoEvictions = errors.New("no maxmemory: no evictions to count")

// Admit decides whether tenant t's phase p is written now (see docs/memory.md). The critical
// phase always is. Another is when used_memory, what this process reserved for phases it
// admitted and has not finished, and the phase's estimated size fit the budget; a phase whose
// keys are in Redis already is rewritten in place and needs nothing more. Otherwise, if
// tenants less demanded than t have non-critical phases in Redis, enough of them are removed
// (least demanded first, medium before high) and recorded as skipped; failing that the phase
// is skipped.
func (g *Gate) Admit(ctx context.Context, t cache.Tenant, p catalog.Phase) (jobs.Admission, error) {
	for {
		adm, wait, err := g.admit(ctx, t, p)
		if wait == nil {
			return adm, err
		}
		select {
		case <-ctx.Done():
			return jobs.Admission{}, ctx.Err()
		case <-wait:
		}
	}
}

// admit is Admit, or the channel to wait on before asking again: while no size of phase p is
// known (no tenant's has been written yet), one such phase at a time is admitted, so that
// the first phases of a first warm cannot overshoot the budget together.
func (g *Gate) admit(ctx context.Context, t cache.Tenant, p catalog.Phase) (jobs.Admission, <-chan struct{}, error) {
	if p == catalog.PhaseCritical {
		if maxMemory, ok := g.recentMaxMemory(); ok {
			return jobs.Admission{Done: g.done(t, p, 0, nil, maxMemory > 0)}, nil, nil
		}
	}
	mem, err := redisinfo.Read(ctx, g.rdb)
	if err != nil {
		return jobs.Admission{}, nil, fmt.Errorf("memory budget: %w", err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.evicted = max(g.evicted, mem.EvictedKeys)
	g.maxMemory, g.infoAt = mem.MaxMemory, time.Now()
	budget := g.limit.Of(mem.MaxMemory)
	if p == catalog.PhaseCritical || budget == 0 {
		return jobs.Admission{Done: g.done(t, p, 0, nil, mem.MaxMemory > 0)}, nil, nil
	}
	present, err := g.present(ctx, t, p)
	if err != nil {
		return jobs.Admission{}, nil, err
	}
	if present {
		return jobs.Admission{Done: g.done(t, p, 0, nil, mem.MaxMemory > 0)}, nil, nil
	}
	if err := g.readEstimates(ctx); err != nil {
		return jobs.Admission{}, nil, err
	}
	est, known := g.estimate(t.String(), p)
	if ch, ok := g.learning[p]; !known && ok {
		return jobs.Admission{}, ch, nil
	}
	need := int64(float64(est) * Overhead)
	var reserved int64
	for _, r := range g.reserved {
		reserved += r
	}
	excess := mem.UsedMemory + reserved + need - budget
	if excess > 0 && reserved > 0 {
		// Phases in flight will soon say what they really took: decide then, on
		// used_memory rather than on estimates.
		return jobs.Admission{}, g.released, nil
	}
	var learned chan struct{}
	if !known {
		learned = make(chan struct{})
		g.learning[p] = learned
	}
	if excess > 0 {
		victims, err := g.plan(ctx, t, excess)
		if err == nil && victims == nil {
			g.logger.InfoContext(ctx, "memory budget: the phase does not fit", "tenant", t, "phase", p,
				"used_memory", mem.UsedMemory, "reserved", reserved, "estimate", need, "budget", budget)
			g.metrics.skipped(p)
		}
		for _, v := range victims {
			if err == nil {
				err = g.makeRoom(ctx, v, t)
			}
		}
		if err != nil || victims == nil {
			if learned != nil {
				delete(g.learning, p)
				close(learned)
			}
			if err != nil {
				return jobs.Admission{}, nil, err
			}
			return jobs.Admission{Skip: ReasonBudget}, nil, nil
		}
	}
	g.reserved[slot(t.String(), p)] += need
	return jobs.Admission{Done: g.done(t, p, need, learned, mem.MaxMemory > 0)}, nil, nil
}

// criticalInfoAge is how old an INFO read may be for a critical phase's admission, which is
// unconditional and needs only to know whether Redis can evict (maxmemory), for the eviction
// count at the phase's end: a cold start's re-warm admits a critical phase per tenant at once,
// and saves an INFO round trip for each.
const criticalInfoAge = time.Second

// recentMaxMemory returns maxmemory as last read, if that was within criticalInfoAge.
func (g *Gate) recentMaxMemory() (int64, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.maxMemory, !g.infoAt.IsZero() && time.Since(g.infoAt) < criticalInfoAge
}

// done returns the Done of an admission of tenant t's phase p that reserved need: it releases
// it, learns the phase's size, ends the learning of the phase's size if learned is not nil,
// and, when Redis has a maxmemory (evicts is set: without one Redis never evicts, and the
// INFO round trip is saved), counts the evictions seen since the last look.
func (g *Gate) done(t cache.Tenant, p catalog.Phase, need int64, learned chan struct{}, evicts bool) func(context.Context, int64) {
	return func(ctx context.Context, written int64) {
		var mem redisinfo.Memory
		err := errNoEvictions
		if evicts {
			mem, err = redisinfo.Read(ctx, g.rdb)
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		s := slot(t.String(), p)
		if need > 0 {
			if g.reserved[s] -= need; g.reserved[s] <= 0 {
				delete(g.reserved, s)
			}
			close(g.released)
			g.released = make(chan struct{})
		}
		if written > 0 && g.estimates != nil {
			g.estimates[s] = written
		}
		if learned != nil {
			delete(g.learning, p)
			close(learned)
		}
		if err == nil && mem.EvictedKeys > g.evicted {
			g.metrics.evicted(mem.EvictedKeys - g.evicted)
			g.evicted = mem.EvictedKeys
		}
	}
}

// present reports whether any of tenant t's phase p keys are in Redis: any of its datasets'
// index sets exists.
func (g *Gate) present(ctx context.Context, t cache.Tenant, p catalog.Phase) (bool, error) {
	ds := g.cat.Phase(p)
	if len(ds) == 0 {
		return false, nil
	}
	pipe := g.rdb.Pipeline()
	cmds := make([]*redis.IntCmd, len(ds))
	for i, d := range ds {
		cmds[i] = pipe.Exists(ctx, rediswrite.IndexKey(t, d.Name))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return false, fmt.Errorf("memory budget: look up %s %s: %w", t, p, err)
	}
	for _, c := range cmds {
		if c.Val() > 0 {
			return true, nil
		}
	}
	return false, nil
}

// estimatesSQL: every tenant x phase's bytes_written from its latest completed run.
const estimatesSQL = `
SELECT DISTINCT ON (r.tenant_id, p.phase) r.tenant_id, p.phase, p.bytes_written
FROM cachewarm.workflow_phases p JOIN cachewarm.workflow_runs r ON r.id = p.workflow_id
WHERE p.state = 'completed' AND p.bytes_written > 0
ORDER BY r.tenant_id, p.phase, p.finished_at DESC`

func (g *Gate) readEstimates(ctx context.Context) error {
	if g.estimates != nil && time.Since(g.readAt) < estimatesTTL {
		return nil
	}
	rows, err := g.pool.Query(ctx, estimatesSQL)
	if err != nil {
		return fmt.Errorf("memory budget: phase sizes: %w", err)
	}
	defer rows.Close()
	est := map[string]int64{}
	for rows.Next() {
		var t, p string
		var b int64
		if err := rows.Scan(&t, &p, &b); err != nil {
			return fmt.Errorf("memory budget: phase sizes: %w", err)
		}
		est[slot(t, catalog.Phase(p))] = b
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("memory budget: phase sizes: %w", err)
	}
	for s, b := range g.estimates {
		if _, ok := est[s]; !ok {
			est[s] = b // learned in this process, not committed yet
		}
	}
	g.estimates, g.readAt = est, time.Now()
	return nil
}

// estimate is tenant t's phase p size in bytes written: its latest completed run's, else the
// average of that phase over the other tenants; known is false when no tenant has one yet.
func (g *Gate) estimate(t string, p catalog.Phase) (bytes int64, known bool) {
	if b, ok := g.estimates[slot(t, p)]; ok {
		return b, true
	}
	var sum, n int64
	for s, b := range g.estimates {
		if len(s) > len(p) && s[len(s)-len(p)-1:] == "/"+string(p) {
			sum, n = sum+b, n+1
		}
	}
	if n == 0 {
		return 0, false
	}
	return sum / n, true
}

// victim is a tenant x phase to remove to make room.
type victim struct {
	tenant cache.Tenant
	phase  catalog.Phase
}

// plan returns the phases of tenants less demanded than t to remove to free excess bytes,
// least demanded first and medium before high, or nil if they cannot free enough. Tenants
// without a score rank below every scored one; a tenant without a score takes room from no one.
func (g *Gate) plan(ctx context.Context, t cache.Tenant, excess int64) ([]victim, error) {
	scores, err := demand.Scores(ctx, g.pool)
	if err != nil {
		return nil, fmt.Errorf("memory budget: %w", err)
	}
	mine, ok := scores[t.String()]
	if !ok || mine <= 0 {
		return nil, nil // unranked, or not read: takes room from no one
	}
	ids, err := migrations.ActiveTenants(ctx, g.pool)
	if err != nil {
		return nil, fmt.Errorf("memory budget: %w", err)
	}
	score := func(id string) float64 {
		if s, ok := scores[id]; ok {
			return s
		}
		return -1
	}
	var less []string
	for _, id := range ids {
		if score(id) < mine {
			less = append(less, id)
		}
	}
	slices.SortFunc(less, func(a, b string) int {
		return cmp.Or(cmp.Compare(score(a), score(b)), cmp.Compare(b, a))
	})
	var out []victim
	var freed int64
	for _, id := range less {
		ct, err := cache.ParseTenant(id)
		if err != nil {
			continue
		}
		for _, p := range []catalog.Phase{catalog.PhaseMedium, catalog.PhaseHigh} {
			if _, busy := g.reserved[slot(id, p)]; busy {
				continue
			}
			in, err := g.present(ctx, ct, p)
			if err != nil {
				return nil, err
			}
			if !in {
				continue
			}
			out = append(out, victim{ct, p})
			est, _ := g.estimate(id, p)
			freed += int64(float64(est) * Overhead)
			if freed >= excess {
				return out, nil
			}
		}
	}
	return nil, nil
}

// recordRemovedSQL marks tenant $1's latest completed phase $2 as skipped with reason $3, and
// its workflow, if it ended completed, partial.
const recordRemovedSQL = `
WITH target AS (
    SELECT p.workflow_id FROM cachewarm.workflow_phases p JOIN cachewarm.workflow_runs r ON r.id = p.workflow_id
    WHERE r.tenant_id = $1 AND p.phase = $2 AND p.state = 'completed'
    ORDER BY p.finished_at DESC LIMIT 1),
skipped AS (
    UPDATE cachewarm.workflow_phases p SET state = 'skipped', skip_reason = $3, skipped_at = now()
    FROM target WHERE p.workflow_id = target.workflow_id AND p.phase = $2
    RETURNING p.workflow_id)
UPDATE cachewarm.workflow_runs r SET state = 'partial'
FROM skipped WHERE r.id = skipped.workflow_id AND r.state = 'completed'`

// makeRoom removes v's keys, tenant-exact, and records the removal as a skip for t.
func (g *Gate) makeRoom(ctx context.Context, v victim, t cache.Tenant) error {
	var names []string
	for _, d := range g.cat.Phase(v.phase) {
		names = append(names, d.Name)
	}
	n, err := g.remover.Invalidate(ctx, v.tenant, names)
	if err != nil {
		return fmt.Errorf("memory budget: make room for %s: %w", t, err)
	}
	if _, err := g.pool.Exec(ctx, recordRemovedSQL, v.tenant.String(), string(v.phase), ReasonMadeRoom+t.String()); err != nil {
		return fmt.Errorf("memory budget: record %s %s removed: %w", v.tenant, v.phase, err)
	}
	g.metrics.skipped(v.phase)
	g.logger.InfoContext(ctx, "memory budget: removed a less demanded tenant's phase", "removed_tenant", v.tenant, "phase", v.phase, "keys", n, "for", t)
	return nil
}
