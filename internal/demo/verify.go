package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/demodata"
	"github.com/cachewarm/cachewarm/internal/jsjson"
	"github.com/cachewarm/cachewarm/internal/rediswrite"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

type verified struct{ Keys int }

// verify runs every dataset query of every tenant and checks that Redis holds each key it
// produces, with that value and a TTL. It first waits for change-driven re-warms to finish.
func verify(ctx context.Context, pool *pgxpool.Pool, rdb redis.UniversalClient, cat *catalog.Catalog, keys cache.Keys, format cache.Format, tenants int, progress func(done, total int)) (verified, error) {
	if err := waitIdle(ctx, pool, 30*time.Second); err != nil {
		return verified{}, err
	}
	var v verified
	var problems []string
	for k := 1; k <= tenants; k++ {
		t := cache.MustTenant(demodata.TenantID(k))
		for _, d := range cat.All() {
			n, bad, err := verifyDataset(ctx, pool, rdb, keys, format, t, d)
			if err != nil {
				return v, err
			}
			v.Keys += n
			problems = append(problems, bad...)
		}
		if progress != nil {
			progress(k, tenants)
		}
	}
	if len(problems) > 0 {
		return v, fmt.Errorf("demo: %d key(s) failed verification, first: %s", len(problems), strings.Join(problems[:min(5, len(problems))], "; "))
	}
	return v, nil
}

func verifyDataset(ctx context.Context, pool *pgxpool.Pool, rdb redis.UniversalClient, keys cache.Keys, format cache.Format, t cache.Tenant, d catalog.Dataset) (int, []string, error) {
	entries, err := d.Entries(ctx, pool, t.String())
	if err != nil {
		return 0, nil, fmt.Errorf("demo: verify: %w", err)
	}
	wantKeys := make([]string, len(entries))
	wantVals := make([][]byte, len(entries))
	for i, e := range entries {
		wantKeys[i], wantVals[i] = keys.Join(e.Prefix, t, e.Suffix), e.Value
	}
	pipe := rdb.Pipeline()
	gets := make([]*redis.StringCmd, len(wantKeys))
	ttls := make([]*redis.DurationCmd, len(wantKeys))
	for i, k := range wantKeys {
		gets[i] = pipe.Get(ctx, k)
		ttls[i] = pipe.PTTL(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return 0, nil, fmt.Errorf("demo: verify %s/%s: %w", t, d.Name, err)
	}
	var bad []string
	for i, k := range wantKeys {
		raw, err := gets[i].Bytes()
		if err != nil {
			bad = append(bad, k+": missing")
			continue
		}
		got, err := rediswrite.Decode(format, raw)
		if err != nil {
			bad = append(bad, k+": "+err.Error())
			continue
		}
		if !jsjson.Equal(got, wantVals[i]) {
			bad = append(bad, k+": value differs from the query's")
			continue
		}
		if ttl := ttls[i].Val(); ttl <= 0 || ttl > d.TTL {
			bad = append(bad, fmt.Sprintf("%s: TTL %s, want up to %s", k, ttl, d.TTL))
		}
	}
	return len(wantKeys), bad, nil
}

func containsJSONString(doc []byte, s string) bool {
	b, _ := json.Marshal(s)
	return bytes.Contains(doc, b)
}

// waitIdle waits until no cachewarm job is waiting or running.
func waitIdle(ctx context.Context, pool *pgxpool.Pool, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var busy int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM cachewarm.river_job WHERE state IN ('available', 'running', 'scheduled', 'retryable', 'pending') AND kind <> 'cachewarm.refresh'`).Scan(&busy); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		if busy == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("demo: %d job(s) still busy after %s", busy, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const timingRounds = 25

type timing struct {
	Dataset, Key    string
	Bytes           int
	Miss, Hit, Read time.Duration
}

// hitVsMiss measures, for a few datasets of t001, the median time to build the value in
// PostgreSQL (the query a cache miss runs), to GET it from Redis (a hit), and to GET and parse
// it into Go values.
func hitVsMiss(ctx context.Context, pool *pgxpool.Pool, rdb redis.UniversalClient, cat *catalog.Catalog) ([]timing, error) {
	t := cache.MustTenant("t001")
	var out []timing
	for _, name := range []string{"chart_of_accounts", "financial_periods", "pipeline_stages", "kit_definitions", "pricing_rules", "trial_balance"} {
		d, err := cat.Lookup(name)
		if err != nil {
			return nil, err
		}
		var key string
		misses := make([]time.Duration, 0, timingRounds)
		for range timingRounds {
			start := time.Now()
			entries, err := d.Entries(ctx, pool, t.String())
			if err != nil {
				return nil, fmt.Errorf("demo: time %s: %w", name, err)
			}
			if len(entries) > 0 {
				key = cache.Keys{}.Join(entries[0].Prefix, t, entries[0].Suffix)
			}
			misses = append(misses, time.Since(start))
		}
		hits := make([]time.Duration, 0, timingRounds)
		reads := make([]time.Duration, 0, timingRounds)
		var size int
		for range timingRounds {
			start := time.Now()
			raw, err := rdb.Get(ctx, key).Bytes()
			if err != nil {
				return nil, fmt.Errorf("demo: read %s: %w", key, err)
			}
			hits = append(hits, time.Since(start))
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				return nil, fmt.Errorf("demo: parse %s: %w", key, err)
			}
			reads = append(reads, time.Since(start))
			size = len(raw)
		}
		out = append(out, timing{Dataset: name, Key: key, Bytes: size, Miss: median(misses), Hit: median(hits), Read: median(reads)})
	}
	return out, nil
}

func median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/2]
}
