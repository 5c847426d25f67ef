// Package writepath measures what cachewarm's change capture costs the ERP's own writes: the
// same pgbench workloads against three databases of one private PostgreSQL server (the demo
// schema, 20 tenants): without cachewarm, with the triggers mode, and with the logical mode
// streaming its slot into the change log. The runs are interleaved, in an order that rotates
// every round, so that drift over time favours none of them.
//
//	go test -run '^$' -bench WritePath -benchtime 1x ./test/writepath/   (make bench-writes)
//
// WRITEPATH_ROUNDS (3) and WRITEPATH_SECONDS (8) set the rounds and each run's length.
package writepath

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cachewarm/cachewarm/internal/capture"
	"github.com/cachewarm/cachewarm/internal/capture/logical"
	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/demodata"
	"github.com/cachewarm/cachewarm/internal/testenv"
	"github.com/cachewarm/cachewarm/migrations"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const tenants = 20

// workloads are the ERP's single-row write statements, one per transaction.
var workloads = []struct{ name, script string }{
	{"INSERT one gl_entries row, random tenant of 20", `\set t random(1, 20)
INSERT INTO gl_entries (tenant_id, id, journal_id, line_no, entry_date, period_id, account_id, debit, credit, currency, source, created_at)
VALUES ('t' || lpad(:t::text, 3, '0'), (random() * 1e15)::bigint, 1, 1, current_date, 1, 1, 1.00, 0, 'USD', 'bench', now());
`},
	{"INSERT one gl_entries row, all on one tenant", `INSERT INTO gl_entries (tenant_id, id, journal_id, line_no, entry_date, period_id, account_id, debit, credit, currency, source, created_at)
VALUES ('t001', (random() * 1e15)::bigint, 1, 1, current_date, 1, 1, 1.00, 0, 'USD', 'bench', now());
`},
	{"UPDATE one vendors row, random tenant of 20", `\set t random(1, 20)
\set v random(1, 100)
UPDATE vendors SET rating = rating WHERE tenant_id = 't' || lpad(:t::text, 3, '0') AND id = :v;
`},
}

// target is one of the three databases.
type target struct {
	name string
	url  string
	pool *pgxpool.Pool
	// start, for the logical mode, starts streaming and returns what stops it.
	start func() (stop func())
}

// BenchmarkWritePath prints, per workload, the median TPS of each database and the share of
// the ERP's throughput each mode keeps, then the server CPU per 1,000 ERP transactions (the
// ERP's backends, and the WAL sender decoding for the logical mode), which says where the
// time goes when the machine is CPU-bound.
func BenchmarkWritePath(b *testing.B) {
	rounds, seconds := envInt("WRITEPATH_ROUNDS", 3), envInt("WRITEPATH_SECONDS", 8)
	pgbench := pgbenchPath(b)
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	pg := testenv.NewPrivatePostgres(b, testenv.PrivatePostgresOptions{Settings: map[string]string{
		"shared_buffers": "128MB", "max_connections": "60", "autovacuum": "off",
	}})
	cat, err := catalog.Default()
	if err != nil {
		b.Fatal(err)
	}

	setup := func(name, mode string) *target {
		url := pg.NewDB(b)
		pool, err := pgxpool.New(ctx, url)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(pool.Close)
		if _, err := demodata.Seed(ctx, pool, demodata.Options{Tenants: tenants, Seed: 1}); err != nil {
			b.Fatalf("seed %s: %v", name, err)
		}
		if mode != "" {
			if _, err := migrations.MigrateCapture(ctx, pool, cat, mode, logger); err != nil {
				b.Fatalf("migrate %s: %v", name, err)
			}
		}
		if _, err := pool.Exec(ctx, `VACUUM ANALYZE`); err != nil {
			b.Fatal(err)
		}
		return &target{name: name, url: url, pool: pool, start: func() func() { return func() {} }}
	}
	base := setup("without cachewarm", "")
	triggers := setup("triggers", migrations.CaptureTriggers)
	logicalDB := setup("logical", migrations.CaptureLogical)
	logicalDB.start = func() func() { return streamInto(b, logicalDB, logger) }
	targets := []*target{base, triggers, logicalDB}

	dir := b.TempDir()
	tpsRe := regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)
	// run returns the TPS and the server CPU ms per 1,000 transactions: the ERP's backends
	// (everything but the WAL sender) and the WAL sender.
	run := func(t *target, script string) (tps, erpCPU, senderCPU float64) {
		stop := t.start()
		defer stop()
		sender := 0
		if t == logicalDB {
			slot, err := logical.Inspect(ctx, t.pool)
			if err != nil {
				b.Fatal(err)
			}
			sender = slot.ActivePID
		}
		path := filepath.Join(dir, "script.sql")
		if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
			b.Fatal(err)
		}
		server0, sender0 := serverCPU(b, pg.PID()), procCPU(sender)
		out, err := exec.Command(pgbench, "-n", "-c", "8", "-j", "2", "-T", strconv.Itoa(seconds), "-f", path, t.url).CombinedOutput()
		if err != nil {
			b.Fatalf("pgbench: %v\n%s", err, out)
		}
		server1, sender1 := serverCPU(b, pg.PID()), procCPU(sender)
		m := tpsRe.FindSubmatch(out)
		if m == nil {
			b.Fatalf("pgbench printed no tps:\n%s", out)
		}
		tps, _ = strconv.ParseFloat(string(m[1]), 64)
		per := 1e6 / (tps * float64(seconds)) // ms per 1,000 transactions, from seconds
		return tps, (server1 - server0 - (sender1 - sender0)) * per, (sender1 - sender0) * per
	}

	b.ResetTimer()
	fmt.Printf("pgbench -n -c 8 -j 2 -T %d, %d tenants, one private server (wal_level=logical), %d interleaved rounds, medians\n\n",
		seconds, tenants, rounds)
	fmt.Println("| workload | without cachewarm | triggers | share kept | logical | share kept |")
	fmt.Println("|---|---:|---:|---:|---:|---:|")
	var cpuLines []string
	for i, w := range workloads {
		tps := make(map[*target][]float64)
		erp := make(map[*target][]float64)
		var sender []float64
		for r := range rounds {
			for k := range targets {
				t := targets[(k+r)%len(targets)]
				x, e, s := run(t, w.script)
				tps[t], erp[t] = append(tps[t], x), append(erp[t], e)
				if t == logicalDB {
					sender = append(sender, s)
				}
			}
			for _, t := range []*target{triggers, logicalDB} {
				// What a collector would have consumed, so rounds start alike.
				if _, err := t.pool.Exec(ctx, `TRUNCATE cachewarm.changes`); err != nil {
					b.Fatal(err)
				}
			}
		}
		mb, mt, ml := median(tps[base]), median(tps[triggers]), median(tps[logicalDB])
		fmt.Printf("| %s | %.0f | %.0f | %.0f%% | %.0f | %.0f%% |\n", w.name, mb, mt, 100*mt/mb, ml, 100*ml/mb)
		b.ReportMetric(100*mt/mb, fmt.Sprintf("%%kept_triggers_w%d", i+1))
		b.ReportMetric(100*ml/mb, fmt.Sprintf("%%kept_logical_w%d", i+1))
		cpuLines = append(cpuLines, fmt.Sprintf("| %s | %.0f | %.0f | %.0f | %.0f |", w.name,
			median(erp[base]), median(erp[triggers]), median(erp[logicalDB]), median(sender)))
	}
	fmt.Println("\nServer CPU, ms per 1,000 ERP transactions (medians)")
	fmt.Println("| workload | without cachewarm | triggers | logical: ERP backends | logical: WAL sender |")
	fmt.Println("|---|---:|---:|---:|---:|")
	fmt.Println(strings.Join(cpuLines, "\n"))
	if load, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Printf("load average at the end: %s", load)
	}
}

// streamInto starts the logical mode's streamer on t, recording into t's change log as the
// worker does (capture.Collector.Record), waits until it streams, and returns what stops it.
func streamInto(b *testing.B, t *target, logger *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	tables, err := migrations.CapturedTables(ctx, t.pool)
	if err != nil {
		b.Fatal(err)
	}
	collector := capture.NewCollector(t.pool, time.Second, logger)
	s, err := logical.NewStreamer(logical.Config{ConnString: t.url, Tables: tables, Sink: collector.Record, Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for s.State() != logical.Streaming {
		if time.Now().After(deadline) {
			b.Fatal("the streamer did not start streaming within 30 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return func() {
		cancel()
		if err := <-done; err != nil {
			b.Fatalf("streamer: %v", err)
		}
	}
}

func pgbenchPath(b *testing.B) string {
	if p, err := exec.LookPath("pgbench"); err == nil {
		return p
	}
	out, err := exec.Command("pg_config", "--bindir").Output()
	if err != nil {
		b.Fatalf("no pgbench: install it with: apt-get install postgresql")
	}
	return filepath.Join(strings.TrimSpace(string(out)), "pgbench")
}

// procStat returns a process's CPU seconds from /proc/<pid>/stat: its own (utime+stime) and
// that of its children it has waited for (cutime+cstime), and its parent's pid.
func procStat(pid int) (own, children float64, ppid int, ok bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, 0, false
	}
	s := string(data)
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

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}
