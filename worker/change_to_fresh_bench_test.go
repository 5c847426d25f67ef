package worker_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/internal/fixture"
)

// BenchmarkChangeToFresh measures how long an UPDATE of one account's name takes to be readable
// in finance:coa:{t}, through the change trigger, River and the re-warm, with an otherwise idle
// worker. Each iteration is one UPDATE (timed from just before it is sent, so its commit is
// included) until a GET returns the new name (polled every 0.5 ms). Run it with a fixed count:
//
//	go test ./worker -run '^$' -bench ChangeToFresh -benchtime 50x
func BenchmarkChangeToFresh(b *testing.B) {
	env := fixture.New(b, 2)
	env.StartWorker(b, env.Config(b, nil), nil)
	ctx := context.Background()
	const key = "finance:coa:t001"
	lat := make([]time.Duration, 0, b.N)

	b.ResetTimer()
	for i := range b.N {
		name := fmt.Sprintf("fresh-%d-%d", i, time.Now().UnixNano())
		start := time.Now()
		if _, err := env.Pool.Exec(ctx, `UPDATE chart_of_accounts SET name = $1 WHERE tenant_id = 't001' AND id = 1`, name); err != nil {
			b.Fatal(err)
		}
		for !strings.Contains(env.Redis.Get(ctx, key).Val(), `"name":"`+name+`"`) {
			if time.Since(start) > 10*time.Second {
				b.Fatalf("update %d not fresh after 10 s", i)
			}
			time.Sleep(500 * time.Microsecond)
		}
		lat = append(lat, time.Since(start))
		b.StopTimer()
		time.Sleep(50 * time.Millisecond) // idle between changes: each one meets an idle worker
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	b.ReportMetric(float64(pct(0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(pct(0.95).Microseconds())/1000, "p95-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
}
