package budget

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cachewarm/cachewarm/internal/redisinfo"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// Warms records warms in cachewarm.warms: every start of workflows (workflows.Service records
// each through Begin), with Redis's evicted_keys when it starts and ends, and its workflows,
// whose skipped phases it reports. The leader closes the warms whose workflows have all ended
// (CloseFinished); `cachewarm warm --wait` closes its own (End).
type Warms struct {
	pool *pgxpool.Pool
	rdb  redis.UniversalClient
}

// NewWarms returns the warm recorder.
func NewWarms(pool *pgxpool.Pool, rdb redis.UniversalClient) *Warms {
	return &Warms{pool: pool, rdb: rdb}
}

// Mark is Redis's eviction counter read just before a warm starts.
type Mark struct {
	Evicted int64
	At      time.Time
}

// Mark reads the eviction counter; call it before starting the warm's workflows.
func (w *Warms) Mark(ctx context.Context) (Mark, error) {
	mem, err := redisinfo.Read(ctx, w.rdb)
	if err != nil {
		return Mark{}, fmt.Errorf("warm: %w", err)
	}
	return Mark{Evicted: mem.EvictedKeys, At: time.Now()}, nil
}

// Begin records, inside tx (the one that starts them), a warm of workflows ids that started
// at m, and returns its id.
func (w *Warms) Begin(ctx context.Context, tx pgx.Tx, m Mark, trigger string, ids []int64) (int64, error) {
	var id int64
	err := tx.QueryRow(ctx, `INSERT INTO cachewarm.warms (trigger, workflow_ids, started_at, evicted_start) VALUES ($1, $2, $3, $4) RETURNING id`,
		trigger, ids, m.At, m.Evicted).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("record warm: %w", err)
	}
	return id, nil
}

// Of returns the id of the latest warm of exactly workflows ids (as Begin recorded them).
func (w *Warms) Of(ctx context.Context, ids []int64) (int64, error) {
	var id int64
	err := w.pool.QueryRow(ctx, `SELECT max(id) FROM cachewarm.warms WHERE workflow_ids = $1::bigint[] HAVING max(id) IS NOT NULL`, ids).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("find the warm of %d workflow(s): %w", len(ids), err)
	}
	return id, nil
}

// End records that warm id ended now, unless the leader closed it already, and returns its
// report.
func (w *Warms) End(ctx context.Context, id int64) (Warm, error) {
	mem, err := redisinfo.Read(ctx, w.rdb)
	if err != nil {
		return Warm{}, fmt.Errorf("warm: %w", err)
	}
	if _, err := w.pool.Exec(ctx, `UPDATE cachewarm.warms SET finished_at = now(), evicted_end = $2 WHERE id = $1 AND finished_at IS NULL`, id, mem.EvictedKeys); err != nil {
		return Warm{}, fmt.Errorf("record warm end: %w", err)
	}
	return readWarm(ctx, w.pool, mem.EvictedKeys, id)
}

// CloseFinished closes every open warm whose workflows have all ended, with Redis's eviction
// counter now, and returns how many it closed. Redis is asked only when there is one to close.
func (w *Warms) CloseFinished(ctx context.Context) (int64, error) {
	var ended bool
	if err := w.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM cachewarm.warms w WHERE `+warmEnded+`)`).Scan(&ended); err != nil {
		return 0, fmt.Errorf("close finished warms: %w", err)
	}
	if !ended {
		return 0, nil
	}
	mem, err := redisinfo.Read(ctx, w.rdb)
	if err != nil {
		return 0, fmt.Errorf("close finished warms: %w", err)
	}
	tag, err := w.pool.Exec(ctx, `UPDATE cachewarm.warms w SET finished_at = now(), evicted_end = $1 WHERE `+warmEnded, mem.EvictedKeys)
	if err != nil {
		return 0, fmt.Errorf("close finished warms: %w", err)
	}
	return tag.RowsAffected(), nil
}

// RunCloser closes finished warms every interval until ctx ends (a leader's task: one
// process at a time). While closing fails (Redis or the database down), it logs that once.
func (w *Warms) RunCloser(ctx context.Context, interval time.Duration, logger *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	failing := false
	for {
		_, err := w.CloseFinished(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && !failing:
			logger.WarnContext(ctx, "warm reports: closing finished warms fails (retrying every interval)", "err", err)
		case err == nil && failing:
			logger.InfoContext(ctx, "warm reports: closing finished warms works again")
		}
		failing = err != nil
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// warmEnded: open warm w has no queued or running workflow left.
const warmEnded = `w.finished_at IS NULL AND NOT EXISTS (
    SELECT 1 FROM cachewarm.workflow_runs r WHERE r.id = ANY (w.workflow_ids) AND r.state IN ('queued', 'running'))`

// Warm is what a warm did to the memory: evictions while it ran, phases it skipped.
type Warm struct {
	ID         int64      `json:"id"`
	Trigger    string     `json:"trigger"`
	Workflows  int        `json:"workflows"`
	StartedAt  time.Time  `json:"startedAt"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
	// Evicted counts the keys Redis evicted while the warm ran (so far, if it runs).
	Evicted int64 `json:"evicted"`
	// Skipped are the tenant x phases the memory budget skipped or removed.
	Skipped []Skip `json:"skipped"`
	// PartialBySkips counts the warm's workflows that ended partial only because the memory
	// budget skipped phases (no dataset failed).
	PartialBySkips int `json:"partialBySkips"`
}

// Skip is one tenant x phase the memory budget did not write, or removed.
type Skip struct {
	Tenant string `json:"tenant"`
	Phase  string `json:"phase"`
	Reason string `json:"reason"`
}

// LastWarm returns the latest warm recorded, or nil if none was; evictedNow is Redis's
// evicted_keys now, counted against a warm still running.
func LastWarm(ctx context.Context, pool *pgxpool.Pool, evictedNow int64) (*Warm, error) {
	w, err := readWarm(ctx, pool, evictedNow, 0)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &w, nil
}

// readWarm reads warm id (0: the latest). Its skipped phases are those of its workflows, and
// the phases of other workflows removed while it ran to make room for a more demanded tenant.
func readWarm(ctx context.Context, pool *pgxpool.Pool, evictedNow, id int64) (Warm, error) {
	var w Warm
	var ids []int64
	var start int64
	var end *int64
	err := pool.QueryRow(ctx, `
SELECT id, trigger, workflow_ids, started_at, finished_at, evicted_start, evicted_end FROM cachewarm.warms
WHERE $1 = 0 OR id = $1 ORDER BY id DESC LIMIT 1`, id).Scan(&w.ID, &w.Trigger, &ids, &w.StartedAt, &w.FinishedAt, &start, &end)
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return w, err
		}
		return w, fmt.Errorf("read warm: %w", err)
	}
	w.Workflows = len(ids)
	last := evictedNow
	if end != nil {
		last = *end
	}
	// A Redis restarted since counts from 0 again: evictions cannot be negative.
	w.Evicted = max(last-start, 0)
	rows, err := pool.Query(ctx, `
SELECT r.tenant_id, p.phase, coalesce(p.skip_reason, '') FROM cachewarm.workflow_phases p
JOIN cachewarm.workflow_runs r ON r.id = p.workflow_id
WHERE p.state = 'skipped' AND (p.workflow_id = ANY($1::bigint[]) OR p.skipped_at BETWEEN $2 AND coalesce($3, now()))
ORDER BY r.tenant_id, array_position(ARRAY['critical', 'high', 'medium'], p.phase), p.skip_reason`, ids, w.StartedAt, w.FinishedAt)
	if err != nil {
		return w, fmt.Errorf("read warm: skipped phases: %w", err)
	}
	w.Skipped, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Skip])
	if err != nil {
		return w, fmt.Errorf("read warm: skipped phases: %w", err)
	}
	err = pool.QueryRow(ctx, `
SELECT count(*) FROM cachewarm.workflow_runs r
WHERE r.id = ANY($1::bigint[]) AND r.state = 'partial'
  AND NOT EXISTS (SELECT 1 FROM cachewarm.workflow_phases p WHERE p.workflow_id = r.id AND p.state = 'failed')`, ids).Scan(&w.PartialBySkips)
	if err != nil {
		return w, fmt.Errorf("read warm: %w", err)
	}
	return w, nil
}

// Summary is the warm's line for `cachewarm warm --wait`.
func (w Warm) Summary() string {
	made := 0
	for _, s := range w.Skipped {
		if s.Reason != ReasonBudget {
			made++
		}
	}
	return fmt.Sprintf("memory: %d key(s) evicted during the warm; %d tenant x phase(s) skipped by the memory budget (%d removed to make room for more demanded tenants)",
		w.Evicted, len(w.Skipped), made)
}
