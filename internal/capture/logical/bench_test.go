package logical_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cachewarm/cachewarm/internal/capture/logical"
	"github.com/cachewarm/cachewarm/internal/testenv"
)

// BenchmarkCommitToSink measures how long after an ERP transaction's commit returns its change
// reaches the sink, one transaction at a time on an idle private server (the streamer's share
// of change-to-fresh): p50 and p95 over b.N transactions. Run it with
//
//	go test -run '^$' -bench CommitToSink -benchtime 300x ./internal/capture/logical/
func BenchmarkCommitToSink(b *testing.B) {
	pg := testenv.NewPrivatePostgres(b, testenv.PrivatePostgresOptions{})
	dbURL := pg.NewDB(b)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, "CREATE TABLE gl_entries (id bigserial, tenant_id text NOT NULL, amount numeric, PRIMARY KEY (tenant_id, id))"); err != nil {
		b.Fatal(err)
	}
	tables := []logical.Table{{Name: "public.gl_entries", TenantColumn: "tenant_id"}}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		b.Fatal(err)
	}
	err = logical.Setup(ctx, conn.Conn(), tables)
	conn.Release()
	if err != nil {
		b.Fatal(err)
	}
	arrived := make(chan time.Time, 1)
	s, err := logical.NewStreamer(logical.Config{ConnString: dbURL, Tables: tables, Sink: func(context.Context, []logical.Change) error {
		arrived <- time.Now()
		return nil
	}})
	if err != nil {
		b.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(sctx) }()
	defer func() {
		cancel()
		<-done
	}()
	for s.State() != logical.Streaming {
		time.Sleep(10 * time.Millisecond)
	}
	lat := make([]float64, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		if _, err := pool.Exec(ctx, "INSERT INTO gl_entries (tenant_id, amount) VALUES ($1, 1)", fmt.Sprintf("t%d", i)); err != nil {
			b.Fatal(err)
		}
		committed := time.Now()
		select {
		case at := <-arrived:
			lat = append(lat, float64(at.Sub(committed).Microseconds())/1000)
		case <-time.After(time.Minute):
			b.Fatal("no change reached the sink within a minute")
		}
	}
	slices.Sort(lat)
	b.ReportMetric(lat[len(lat)/2], "p50_ms")
	b.ReportMetric(lat[len(lat)*95/100], "p95_ms")
}
