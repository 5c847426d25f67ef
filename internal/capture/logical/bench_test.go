package logical_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cachewarm/cachewarm/internal/capture/logical"
	"github.com/cachewarm/cachewarm/internal/testenv"
)

// benchWorkloads are the ERP's write workloads of issue 14, one statement per transaction.
var benchWorkloads = []struct{ name, script string }{
	{"INSERT gl_entries, random tenant of 20", "\\set t random(1, 20)\nINSERT INTO gl_entries (tenant_id, amount) VALUES ('tenant' || :t, 1);\n"},
	{"INSERT gl_entries, all on one tenant", "INSERT INTO gl_entries (tenant_id, amount) VALUES ('tenant1', 1);\n"},
	{"UPDATE vendors, random tenant of 20", "\\set t random(1, 20)\n\\set v random(1, 100)\nUPDATE vendors SET name = md5(random()::text) WHERE tenant_id = 'tenant' || :t AND id = :v;\n"},
}

// BenchmarkWriteThroughput measures the share of the ERP's write throughput kept with the
// logical capture running (publication, slot, a streamer whose sink inserts the changes into a
// table in its own transaction) against the same database without it, on a private server
// with wal_level=logical: pgbench -n -c 8 -j 2 -T $CW_BENCH_SECONDS (8), runs interleaved,
// $CW_BENCH_ROUNDS (3) of each; it prints the median TPS of each. Run it with
//
//	go test -run '^$' -bench WriteThroughput -benchtime 1x ./internal/capture/logical/
func BenchmarkWriteThroughput(b *testing.B) {
	rounds := envInt("CW_BENCH_ROUNDS", 3)
	seconds := envInt("CW_BENCH_SECONDS", 8)
	pgbench, err := exec.LookPath("pgbench")
	if err != nil {
		out, cfgErr := exec.Command("pg_config", "--bindir").Output()
		if cfgErr != nil {
			b.Fatalf("no pgbench: %v; install it with: apt-get install postgresql", err)
		}
		pgbench = filepath.Join(strings.TrimSpace(string(out)), "pgbench")
	}
	pg := testenv.NewPrivatePostgres(b, testenv.PrivatePostgresOptions{})
	dbURL := pg.NewDB(b)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	_, err = pool.Exec(ctx, `
		CREATE TABLE gl_entries (id bigserial, tenant_id text NOT NULL, amount numeric, PRIMARY KEY (tenant_id, id));
		CREATE TABLE vendors (tenant_id text NOT NULL, id int NOT NULL, name text, PRIMARY KEY (tenant_id, id));
		INSERT INTO vendors SELECT 'tenant' || t, v, 'v' FROM generate_series(1, 20) t, generate_series(1, 100) v;
		CREATE TABLE captured_changes (id bigserial PRIMARY KEY, table_name text, tenant text, all_tenants bool)`)
	if err != nil {
		b.Fatal(err)
	}
	tables := []logical.Table{{Name: "public.gl_entries", TenantColumn: "tenant_id"}, {Name: "public.vendors", TenantColumn: "tenant_id"}}
	sink := func(ctx context.Context, changes []logical.Change) error {
		batch := &pgx.Batch{}
		for _, c := range changes {
			batch.Queue("INSERT INTO captured_changes (table_name, tenant, all_tenants) VALUES ($1, $2, $3)", c.Table, c.Tenant, c.All)
		}
		return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return tx.SendBatch(ctx, batch).Close() })
	}
	dir := b.TempDir()

	captureOff := func() {}
	captureOn := func() {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Release()
		if err := logical.Setup(ctx, conn.Conn(), tables); err != nil {
			b.Fatal(err)
		}
		s, err := logical.NewStreamer(logical.Config{ConnString: dbURL, Tables: tables, Sink: sink})
		if err != nil {
			b.Fatal(err)
		}
		sctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- s.Run(sctx) }()
		for s.State() != logical.Streaming {
			time.Sleep(10 * time.Millisecond)
		}
		captureOff = func() {
			cancel()
			<-done
			// The slot is released when its WAL sender has exited.
			for {
				_, err := pool.Exec(ctx, "SELECT pg_drop_replication_slot($1)", logical.SlotName)
				if err == nil {
					break
				}
				if !strings.Contains(err.Error(), "is active") {
					b.Fatal(err)
				}
				time.Sleep(10 * time.Millisecond)
			}
			if _, err := pool.Exec(ctx, "DROP PUBLICATION "+logical.PublicationName); err != nil {
				b.Fatal(err)
			}
		}
	}

	tpsRe := regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)
	run := func(script string) float64 {
		path := filepath.Join(dir, "script.sql")
		if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command(pgbench, "-n", "-c", "8", "-j", "2", "-T", strconv.Itoa(seconds), "-f", path, dbURL)
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("pgbench: %v\n%s", err, out)
		}
		m := tpsRe.FindSubmatch(out)
		if m == nil {
			b.Fatalf("pgbench printed no tps:\n%s", out)
		}
		tps, _ := strconv.ParseFloat(string(m[1]), 64)
		return tps
	}

	b.ResetTimer()
	fmt.Printf("pgbench -n -c 8 -j 2 -T %d, %d interleaved rounds, median TPS (all runs)\n", seconds, rounds)
	fmt.Printf("| workload | without capture | with logical capture | share kept |\n|---|---:|---:|---:|\n")
	for i, w := range benchWorkloads {
		var without, with []float64
		for r := range rounds {
			// Alternate which goes first, so drift over time favours neither.
			if r%2 == 0 {
				without = append(without, run(w.script))
				captureOn()
				with = append(with, run(w.script))
				captureOff()
			} else {
				captureOn()
				with = append(with, run(w.script))
				captureOff()
				without = append(without, run(w.script))
			}
		}
		mw, mc := median(without), median(with)
		fmt.Printf("| %s | %.0f %v | %.0f %v | %.0f%% |\n", w.name, mw, rounded(without), mc, rounded(with), 100*mc/mw)
		b.ReportMetric(100*mc/mw, fmt.Sprintf("%%kept_w%d", i+1))
	}
	var n int64
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM captured_changes").Scan(&n); err != nil {
		b.Fatal(err)
	}
	fmt.Printf("changes the sink recorded: %d\n", n)
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func rounded(v []float64) []int {
	r := make([]int, len(v))
	for i, x := range v {
		r[i] = int(x + 0.5)
	}
	return r
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}
