// Package demand predicts which tenants the applications read most, without their help, from
// how recently (LRU policies) or how often (LFU policies) Redis saw their critical keys read
// (docs/memory.md, "Predicted demand").
//
// Every tenant's critical keys are always warm, so two keys per tenant are probed, of the
// critical datasets with one key per tenant (in the demo finance:coa:<tenant> and
// crm:stages:<tenant>; hash tags honoured): OBJECT IDLETIME and PTTL under LRU and other
// policies, OBJECT FREQ under LFU ones, pipelined; none of them touches the key. A write resets the idle time, and cachewarm's own re-warms write, so under LRU a key
// counts as read only when it has been idle for less time than it has been written (its PTTL
// says when: keys are written with their dataset's full TTL). The ranking is kept in
// cachewarm.tenant_demand, smoothed over samples: a sample that cannot tell (a key written
// since the last sample and not read since) keeps the previous score.
package demand

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/redisinfo"
	"github.com/cachewarm/cachewarm/migrations"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// Score is one tenant's predicted demand: higher is read more.
type Score struct {
	Tenant    string    `json:"tenant"`
	Score     float64   `json:"score"`
	SampledAt time.Time `json:"sampledAt"`
}

// Sampler samples the demand of every active tenant and keeps the ranking.
type Sampler struct {
	pool     *pgxpool.Pool
	rdb      redis.UniversalClient
	keys     cache.Keys
	probes   []probe
	interval time.Duration
	logger   *slog.Logger
}

// probe is one critical key of every tenant: how to build it and the TTL it is written with.
type probe struct {
	key func(cache.Tenant) string
	ttl time.Duration
}

// probesPerTenant is how many keys of each tenant a sample probes.
const probesPerTenant = 2

// New returns a sampler; interval is CACHEWARM_DEMAND_SAMPLE (also the window within which a
// key written and not read since tells nothing). It probes the keys of cat's critical datasets
// that hold one key per tenant (see probeDatasets).
func New(pool *pgxpool.Pool, rdb redis.UniversalClient, keys cache.Keys, cat *catalog.Catalog, interval time.Duration, logger *slog.Logger) *Sampler {
	s := &Sampler{pool: pool, rdb: rdb, keys: keys, interval: interval, logger: logger}
	for _, d := range probeDatasets(cat) {
		prefix, suffix := d.Key.Prefix, d.Key.Suffix(nil)
		s.probes = append(s.probes, probe{key: func(t cache.Tenant) string { return keys.Join(prefix, t, suffix) }, ttl: d.TTL})
	}
	return s
}

// probeDatasets picks the (at most probesPerTenant) critical datasets whose key has no
// placeholder but the tenant, so that each holds exactly one key per tenant, always warm.
// Lists come first, as they are written even without a row ([]), then keys that end with the
// tenant; in the demo datasets: chart_of_accounts and pipeline_stages.
func probeDatasets(cat *catalog.Catalog) []catalog.Dataset {
	var picked []catalog.Dataset
	for _, d := range cat.Phase(catalog.PhaseCritical) {
		if len(d.Key.Placeholders()) == 0 {
			picked = append(picked, d)
		}
	}
	rank := func(d catalog.Dataset) int {
		r := 0
		if d.Value != catalog.ValueList {
			r += 2
		}
		if d.Key.Suffix(nil) != "" {
			r++
		}
		return r
	}
	slices.SortStableFunc(picked, func(a, b catalog.Dataset) int { return cmp.Compare(rank(a), rank(b)) })
	return picked[:min(len(picked), probesPerTenant)]
}

// CommandsPerTenant is how many Redis commands a sample sends per tenant under an LRU (lfu
// false) or LFU policy, besides one INFO per master: one or two per probed key.
func (s *Sampler) CommandsPerTenant(lfu bool) int {
	if lfu {
		return len(s.probes)
	}
	return 2 * len(s.probes)
}

// Run samples every interval until ctx ends. The worker runs it on its leader only.
func (s *Sampler) Run(ctx context.Context) {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		if _, err := s.Sample(ctx); err != nil && ctx.Err() == nil {
			s.logger.WarnContext(ctx, "demand sample", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sample probes every active tenant's critical keys once and updates cachewarm.tenant_demand;
// it returns how many tenants it scored.
func (s *Sampler) Sample(ctx context.Context) (int, error) {
	if len(s.probes) == 0 {
		return 0, nil // no critical dataset holds one key per tenant: nothing to probe
	}
	ids, err := migrations.ActiveTenants(ctx, s.pool)
	if err != nil {
		return 0, fmt.Errorf("demand: %w", err)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	mem, err := redisinfo.Read(ctx, s.rdb)
	if err != nil {
		return 0, fmt.Errorf("demand: %w", err)
	}
	obs, err := s.observe(ctx, ids, mem.LFU())
	if err != nil {
		return 0, err
	}
	var tenants []string
	var values []float64
	for i, id := range ids {
		if obs[i].known {
			tenants, values = append(tenants, id), append(values, obs[i].value)
		}
	}
	if _, err := s.pool.Exec(ctx, upsertSQL, tenants, values); err != nil {
		return 0, fmt.Errorf("demand: record: %w", err)
	}
	return len(tenants), nil
}

// upsertSQL records observations $2 of tenants $1, averaged with the previous score.
const upsertSQL = `
INSERT INTO cachewarm.tenant_demand AS d (tenant_id, score, sampled_at)
SELECT t, v, now() FROM unnest($1::text[], $2::float8[]) AS o(t, v)
ON CONFLICT (tenant_id) DO UPDATE SET score = (d.score + excluded.score) / 2, sampled_at = excluded.sampled_at`

// observation is what one sample says of one tenant.
type observation struct {
	known bool
	value float64
}

func (s *Sampler) observe(ctx context.Context, ids []string, lfu bool) ([]observation, error) {
	type probed struct {
		idle *redis.DurationCmd
		freq *redis.IntCmd
		pttl *redis.DurationCmd
		ttl  time.Duration
	}
	cmds := make([][]probed, len(ids))
	pipe := s.rdb.Pipeline()
	for i, id := range ids {
		t, err := cache.ParseTenant(id)
		if err != nil {
			continue
		}
		for _, p := range s.probes {
			key := p.key(t)
			pr := probed{ttl: p.ttl}
			if lfu {
				pr.freq = pipe.ObjectFreq(ctx, key)
			} else {
				pr.idle = pipe.ObjectIdleTime(ctx, key)
				pr.pttl = pipe.PTTL(ctx, key)
			}
			cmds[i] = append(cmds[i], pr)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("demand: probe: %w", err)
	}
	out := make([]observation, len(ids))
	for i := range ids {
		read, written := false, false
		best := 0.0
		for _, pr := range cmds[i] {
			if lfu {
				f, err := pr.freq.Result()
				if err != nil {
					continue // missing: never warmed, or evicted
				}
				out[i].known = true
				best = max(best, float64(f))
				continue
			}
			idle, err := pr.idle.Result()
			if err != nil {
				continue
			}
			pttl, err := pr.pttl.Result()
			if err != nil || pttl <= 0 {
				continue
			}
			sinceWrite := pr.ttl - pttl
			// OBJECT IDLETIME counts whole seconds: idle at least a second shorter than
			// the time since the write means a read came after it.
			if idle+time.Second < sinceWrite {
				read = true
				best = max(best, 1/(1+idle.Seconds()/60))
			} else if sinceWrite <= s.interval+time.Second {
				written = true // written lately and not read since: tells nothing yet
			}
			out[i].known = true
		}
		if !lfu && !read && written {
			out[i].known = false
		}
		out[i].value = best
	}
	return out, nil
}

// Scores returns every ranked tenant's score.
func Scores(ctx context.Context, pool *pgxpool.Pool) (map[string]float64, error) {
	rows, err := pool.Query(ctx, `SELECT tenant_id, score FROM cachewarm.tenant_demand`)
	if err != nil {
		return nil, fmt.Errorf("demand scores: %w", err)
	}
	out := map[string]float64{}
	var id string
	var score float64
	_, err = pgx.ForEachRow(rows, []any{&id, &score}, func() error {
		out[id] = score
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("demand scores: %w", err)
	}
	return out, nil
}

// Top returns the n most demanded tenants, most first.
func Top(ctx context.Context, pool *pgxpool.Pool, n int) ([]Score, error) {
	rows, err := pool.Query(ctx, `SELECT tenant_id, score, sampled_at FROM cachewarm.tenant_demand ORDER BY score DESC, tenant_id LIMIT $1`, n)
	if err != nil {
		return nil, fmt.Errorf("demand ranking: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Score])
	if err != nil {
		return nil, fmt.Errorf("demand ranking: %w", err)
	}
	return out, nil
}
