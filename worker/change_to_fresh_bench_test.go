package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/fixture"
	"github.com/cachewarm/cachewarm/workflows"
)

// BenchmarkChangeToFresh measures how long an UPDATE of one account's name takes to be readable
// in finance:coa:{t}, through the change trigger, River and the re-warm, with an otherwise idle
// worker: until a GET returns the new name (redis-*), and until an application's cache.Wrap with
// L1 on, holding the old value in memory, returns it (l1-*: the worker's invalidation message
// included). Each iteration is one UPDATE (timed from just before it is sent, so its commit is
// included), then both are polled every 0.5 ms. Run it with a fixed count:
//
//	go test ./worker -run '^$' -bench ChangeToFresh -benchtime 50x
func BenchmarkChangeToFresh(b *testing.B) {
	env := fixture.New(b, 2)
	w := env.StartWorker(b, env.Config(b, nil), nil)
	ctx := context.Background()
	if _, err := w.Workflows().Start(ctx, w.Client(), workflows.Request{Tenants: []string{"t001"}, Phases: []catalog.Phase{catalog.PhaseCritical}, Trigger: "bench"}); err != nil {
		b.Fatal(err)
	}
	env.WaitWorkflows(b, time.Minute)
	app := cache.New(env.Redis, cache.WithL1(cache.L1Options{TTL: time.Hour}))
	b.Cleanup(func() { _ = app.Close() })
	const key = "finance:coa:t001"
	viaL1 := func() string {
		v, err := cache.Wrap(ctx, app, key, cache.TTLStatic, func(context.Context) (json.RawMessage, error) {
			return nil, fmt.Errorf("%s is not warm", key)
		})
		if err != nil {
			b.Fatal(err)
		}
		return string(v)
	}
	redisLat := make([]time.Duration, 0, b.N)
	l1Lat := make([]time.Duration, 0, b.N)

	b.ResetTimer()
	for i := range b.N {
		name := fmt.Sprintf("fresh-%d-%d", i, time.Now().UnixNano())
		want := `"name":"` + name + `"`
		viaL1() // the old value, in memory
		start := time.Now()
		if _, err := env.Pool.Exec(ctx, `UPDATE chart_of_accounts SET name = $1 WHERE tenant_id = 't001' AND id = 1`, name); err != nil {
			b.Fatal(err)
		}
		var inRedis, inL1 time.Duration
		for inRedis == 0 || inL1 == 0 {
			if time.Since(start) > 10*time.Second {
				b.Fatalf("update %d not fresh after 10 s (redis %v, l1 %v)", i, inRedis, inL1)
			}
			if inRedis == 0 && strings.Contains(env.Redis.Get(ctx, key).Val(), want) {
				inRedis = time.Since(start)
			}
			if inL1 == 0 && strings.Contains(viaL1(), want) {
				inL1 = time.Since(start)
			}
			time.Sleep(500 * time.Microsecond)
		}
		redisLat = append(redisLat, inRedis)
		l1Lat = append(l1Lat, inL1)
		b.StopTimer()
		time.Sleep(50 * time.Millisecond) // idle between changes: each one meets an idle worker
		b.StartTimer()
	}
	b.StopTimer()
	report := func(lat []time.Duration, prefix string) {
		slices.Sort(lat)
		pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
		b.ReportMetric(float64(pct(0.50).Microseconds())/1000, prefix+"p50-ms")
		b.ReportMetric(float64(pct(0.95).Microseconds())/1000, prefix+"p95-ms")
		b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, prefix+"max-ms")
	}
	report(redisLat, "redis-")
	report(l1Lat, "l1-")
}
