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
	"syscall"
	"testing"
	"time"

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
	poolCfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		b.Fatal(err)
	}
	poolCfg.ConnConfig.RuntimeParams["application_name"] = "cachewarm-sink"
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
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
	noopSink := os.Getenv("CW_BENCH_SINK") == "noop"
	window := 5 * time.Millisecond
	if d, err := time.ParseDuration(os.Getenv("CW_BENCH_WINDOW")); err == nil {
		window = d
	}
	sink := func(ctx context.Context, changes []logical.Change) error {
		if noopSink {
			return nil
		}
		// One statement, one round trip, its own transaction.
		names, tenants, all := make([]string, len(changes)), make([]string, len(changes)), make([]bool, len(changes))
		for i, c := range changes {
			names[i], tenants[i], all[i] = c.Table, c.Tenant, c.All
		}
		_, err := pool.Exec(ctx, "INSERT INTO captured_changes (table_name, tenant, all_tenants) SELECT * FROM unnest($1::text[], $2::text[], $3::bool[])",
			names, tenants, all)
		return err
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
		s, err := logical.NewStreamer(logical.Config{ConnString: dbURL, Tables: tables, Sink: sink, BatchWindow: window})
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
	// run runs pgbench and returns its TPS and the CPU seconds per 1,000 of its transactions
	// spent by: the server's processes serving the ERP, the WAL sender decoding for the slot,
	// the sink's sessions, and this process (the streamer).
	run := func(script string, capturing bool) (float64, cpuShare) {
		path := filepath.Join(dir, "script.sql")
		if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
			b.Fatal(err)
		}
		var sender int
		var sinkPIDs []int
		if capturing {
			slot, err := logical.Inspect(ctx, pool)
			if err != nil {
				b.Fatal(err)
			}
			sender = slot.ActivePID
			// Make every pooled sink session exist before measuring.
			conns := make([]*pgxpool.Conn, 0, 4)
			for range 4 {
				c, err := pool.Acquire(ctx)
				if err != nil {
					b.Fatal(err)
				}
				conns = append(conns, c)
			}
			for _, c := range conns {
				sinkPIDs = append(sinkPIDs, int(c.Conn().PgConn().PID()))
				c.Release()
			}
		}
		server0, sender0, sink0 := serverCPU(b, pg.PID()), procCPU(sender), sumCPU(sinkPIDs)
		self0 := selfCPU()
		cmd := exec.Command(pgbench, "-n", "-c", "8", "-j", "2", "-T", strconv.Itoa(seconds), "-f", path, dbURL)
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("pgbench: %v\n%s", err, out)
		}
		self1 := selfCPU()
		server1, sender1, sink1 := serverCPU(b, pg.PID()), procCPU(sender), sumCPU(sinkPIDs)
		m := tpsRe.FindSubmatch(out)
		if m == nil {
			b.Fatalf("pgbench printed no tps:\n%s", out)
		}
		tps, _ := strconv.ParseFloat(string(m[1]), 64)
		per := 1000 / (tps * float64(seconds)) * 1000 // ms per 1,000 transactions
		senderCPU, sinkCPU := sender1-sender0, sink1-sink0
		return tps, cpuShare{
			erp:      (server1 - server0 - senderCPU - sinkCPU) * per,
			sender:   senderCPU * per,
			sink:     sinkCPU * per,
			streamer: (self1 - self0) * per,
		}
	}

	b.ResetTimer()
	sinkName := "inserts the changes in a transaction"
	if noopSink {
		sinkName = "no-op"
	}
	fmt.Printf("pgbench -n -c 8 -j 2 -T %d, %d interleaved rounds, median TPS (all runs); sink %s, batch window %s\n",
		seconds, rounds, sinkName, window)
	fmt.Printf("| workload | without capture | with logical capture | share kept |\n|---|---:|---:|---:|\n")
	var cpuLines []string
	for i, w := range benchWorkloads {
		var without, with []float64
		var cpuWithout, cpuWith []cpuShare
		runWithout := func() {
			tps, c := run(w.script, false)
			without, cpuWithout = append(without, tps), append(cpuWithout, c)
		}
		runWith := func() {
			captureOn()
			tps, c := run(w.script, true)
			with, cpuWith = append(with, tps), append(cpuWith, c)
			captureOff()
		}
		for r := range rounds {
			// Alternate which goes first, so drift over time favours neither.
			if r%2 == 0 {
				runWithout()
				runWith()
			} else {
				runWith()
				runWithout()
			}
		}
		mw, mc := median(without), median(with)
		fmt.Printf("| %s | %.0f %v | %.0f %v | %.0f%% |\n", w.name, mw, rounded(without), mc, rounded(with), 100*mc/mw)
		b.ReportMetric(100*mc/mw, fmt.Sprintf("%%kept_w%d", i+1))
		cw, cc := medianShare(cpuWithout), medianShare(cpuWith)
		capture := cc.sender + cc.sink + cc.streamer
		cpuLines = append(cpuLines, fmt.Sprintf("| %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f%% |", w.name, cw.erp, cc.erp,
			cc.sender, cc.sink, cc.streamer, 100*cw.erp/(cw.erp+capture)))
	}
	fmt.Printf("\nCPU ms per 1,000 ERP transactions (medians): if CPU-bound, the share kept is about ERP/(ERP+capture)\n")
	fmt.Printf("| workload | ERP without | ERP with | WAL sender | sink sessions | streamer | ERP/(ERP+capture) |\n|---|---:|---:|---:|---:|---:|---:|\n")
	fmt.Println(strings.Join(cpuLines, "\n"))
	if load, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Printf("load average at the end: %s", load)
	}
	var n int64
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM captured_changes").Scan(&n); err != nil {
		b.Fatal(err)
	}
	fmt.Printf("changes the sink recorded: %d\n", n)
}

// cpuShare is CPU milliseconds per 1,000 ERP transactions.
type cpuShare struct{ erp, sender, sink, streamer float64 }

func medianShare(v []cpuShare) cpuShare {
	pick := func(f func(cpuShare) float64) float64 {
		xs := make([]float64, len(v))
		for i, c := range v {
			xs[i] = f(c)
		}
		return median(xs)
	}
	return cpuShare{
		erp:      pick(func(c cpuShare) float64 { return c.erp }),
		sender:   pick(func(c cpuShare) float64 { return c.sender }),
		sink:     pick(func(c cpuShare) float64 { return c.sink }),
		streamer: pick(func(c cpuShare) float64 { return c.streamer }),
	}
}

// procStat returns a process's CPU seconds from /proc/<pid>/stat: its own (utime+stime) and
// that of its children it has waited for (cutime+cstime), and its parent's pid.
func procStat(pid int) (own, children float64, ppid int, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, 0, false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 15 {
		return 0, 0, 0, false
	}
	num := func(i int) float64 { n, _ := strconv.ParseFloat(f[i], 64); return n / 100 } // USER_HZ
	ppid, _ = strconv.Atoi(f[1])
	return num(11) + num(12), num(13) + num(14), ppid, true
}

func procCPU(pid int) float64 {
	if pid == 0 {
		return 0
	}
	own, _, _, _ := procStat(pid)
	return own
}

func sumCPU(pids []int) float64 {
	var t float64
	for _, p := range pids {
		t += procCPU(p)
	}
	return t
}

// serverCPU is the CPU seconds of the postmaster and every process it started, running or
// exited (an exited backend's time is in the postmaster's children time).
func serverCPU(b *testing.B, postmaster int) float64 {
	for {
		// A backend reaped during the scan would be counted twice or not at all: scan again
		// until the postmaster's children time did not move.
		_, before, _, ok := procStat(postmaster)
		if !ok {
			b.Fatalf("no postmaster %d", postmaster)
		}
		entries, err := os.ReadDir("/proc")
		if err != nil {
			b.Fatal(err)
		}
		var live float64
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			if o, _, ppid, ok := procStat(pid); ok && ppid == postmaster {
				live += o
			}
		}
		own, after, _, _ := procStat(postmaster)
		if after == before {
			return own + after + live
		}
	}
}

// selfCPU is this process's CPU seconds (the streamer and the sink's client side).
func selfCPU() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
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
