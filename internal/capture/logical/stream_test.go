package logical_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/cachewarm/cachewarm/internal/capture/logical"
	"github.com/cachewarm/cachewarm/internal/testenv"
)

func change(table logical.Table, tenant string) logical.Change {
	return logical.Change{Table: table.Name, Tenant: tenant}
}

func TestStreamMapsChanges(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	// audit_log is published but not captured by this streamer; it must be ignored like any
	// unpublished table.
	b.exec(t, "ALTER TABLE audit_log REPLICA IDENTITY FULL")
	b.mustSetup(t, vendors, suppliers, auditLog)
	col := newCollector()
	start(t, logical.Config{ConnString: b.dbURL, Tables: []logical.Table{vendors, suppliers}, Sink: col.sink})

	steps := []struct {
		name string
		sql  string
		want []logical.Change
	}{
		{"insert", "INSERT INTO vendors VALUES ('t1', 1, 'a'), ('t1', 2, 'b'), ('t2', 1, 'c')",
			[]logical.Change{change(vendors, "t1"), change(vendors, "t2")}},
		{"update", "UPDATE vendors SET name = 'z' WHERE tenant_id = 't2'",
			[]logical.Change{change(vendors, "t2")}},
		{"update moving a row to another tenant", "UPDATE vendors SET tenant_id = 't3' WHERE tenant_id = 't1' AND id = 2",
			[]logical.Change{change(vendors, "t1"), change(vendors, "t3")}},
		{"delete", "DELETE FROM vendors WHERE tenant_id = 't2'",
			[]logical.Change{change(vendors, "t2")}},
		{"other schema, other tenant column, replica identity full", "INSERT INTO purchasing.suppliers (org, name) VALUES ('o1', 'x')",
			[]logical.Change{change(suppliers, "o1")}},
		{"update moving a row to another tenant, identity full", "UPDATE purchasing.suppliers SET org = 'o2'",
			[]logical.Change{change(suppliers, "o1"), change(suppliers, "o2")}},
		{"delete, identity full", "DELETE FROM purchasing.suppliers",
			[]logical.Change{change(suppliers, "o2")}},
		{"uncaptured tables are ignored, whether published or not",
			"INSERT INTO audit_log VALUES ('t9', 'published, not captured'); CREATE TABLE scratch (tenant_id text); " +
				"INSERT INTO scratch VALUES ('t8'); INSERT INTO vendors VALUES ('t4', 1, 'marker')",
			[]logical.Change{change(vendors, "t4")}},
		{"truncate", "TRUNCATE vendors, audit_log",
			[]logical.Change{{Table: vendors.Name, All: true}}},
		{"one transaction, two tables", "BEGIN; INSERT INTO vendors VALUES ('t5', 1, 'a'); INSERT INTO purchasing.suppliers (org) VALUES ('t5'); " +
			"UPDATE vendors SET name = 'b' WHERE tenant_id = 't5'; COMMIT",
			[]logical.Change{change(vendors, "t5"), change(suppliers, "t5")}},
		{"a rolled back transaction changes nothing", "BEGIN; INSERT INTO vendors VALUES ('t6', 1, 'a'); ROLLBACK; INSERT INTO vendors VALUES ('t7', 1, 'a')",
			[]logical.Change{change(vendors, "t7")}},
	}
	for i, step := range steps {
		b.exec(t, step.sql)
		got := col.waitBatch(t, i)
		require.ElementsMatch(t, step.want, got, step.name)
	}
}

func TestStreamLargeUpdateIsOneChangePerTenant(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.exec(t, "INSERT INTO vendors SELECT 'big' || (i % 3), i, 'n' FROM generate_series(1, 10000) i")
	b.mustSetup(t, vendors) // the slot starts after the rows exist
	col := newCollector()
	start(t, logical.Config{ConnString: b.dbURL, Tables: []logical.Table{vendors}, Sink: col.sink})

	b.exec(t, "UPDATE vendors SET name = 'renamed'")
	got := col.waitBatch(t, 0)
	require.ElementsMatch(t, []logical.Change{change(vendors, "big0"), change(vendors, "big1"), change(vendors, "big2")}, got,
		"10,000 rows of 3 tenants in one transaction: 3 changes")
}

func TestStreamRedeliversWhatTheSinkRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.mustSetup(t, vendors)
	col := newCollector()
	var refusals atomic.Int32
	col.fail = func([]logical.Change) error {
		if refusals.Add(1) <= 2 {
			return errors.New("sink down")
		}
		return nil
	}
	start(t, logical.Config{ConnString: b.dbURL, Tables: []logical.Table{vendors}, Sink: col.sink})
	b.exec(t, "INSERT INTO vendors VALUES ('t1', 1, 'a')")
	require.Equal(t, []logical.Change{change(vendors, "t1")}, col.waitBatch(t, 0), "refused twice, then delivered")
	require.EqualValues(t, 3, refusals.Load())
}

func TestStreamRedeliversAfterStopBeforeConfirm(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.mustSetup(t, vendors)

	// The first streamer's sink receives the change but the streamer is stopped (a lost
	// leadership, a killed worker) before the sink returns: nothing was confirmed.
	received := make(chan []logical.Change, 1)
	first := start(t, logical.Config{ConnString: b.dbURL, Tables: []logical.Table{vendors},
		Sink: func(ctx context.Context, changes []logical.Change) error {
			select {
			case received <- changes:
			default:
			}
			<-ctx.Done()
			return ctx.Err()
		}})
	b.exec(t, "INSERT INTO vendors VALUES ('t1', 1, 'a')")
	select {
	case got := <-received:
		require.Equal(t, []logical.Change{change(vendors, "t1")}, got)
	case <-time.After(time.Minute):
		t.Fatal("the first streamer received nothing")
	}
	first.stop(t)

	col := newCollector()
	start(t, logical.Config{ConnString: b.dbURL, Tables: []logical.Table{vendors}, Sink: col.sink})
	require.Equal(t, []logical.Change{change(vendors, "t1")}, col.waitBatch(t, 0), "the unconfirmed change comes again")

	// Once confirmed, a change is not delivered again to the next streamer: the first batch
	// after a restart is the next change.
	b.exec(t, "INSERT INTO vendors VALUES ('t2', 1, 'a')")
	require.Equal(t, []logical.Change{change(vendors, "t2")}, col.waitBatch(t, 1))
}

func TestStreamSurvivesPostgresRestart(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.mustSetup(t, vendors)
	col := newCollector()
	start(t, logical.Config{ConnString: b.dbURL, Tables: []logical.Table{vendors}, Sink: col.sink})

	// The ERP writes one row per transaction, each of a tenant of its own, retrying its
	// connection through the restarts; committed records what it knows was committed.
	ctx, stopWriting := context.WithCancel(context.Background())
	var (
		mu        sync.Mutex
		committed []logical.Change
		written   = make(chan int, 1000)
		wg        sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		var conn *pgx.Conn
		defer func() {
			if conn != nil {
				_ = conn.Close(context.Background())
			}
		}()
		for i := 0; ctx.Err() == nil; i++ {
			if conn == nil || conn.IsClosed() {
				c, err := pgx.Connect(ctx, b.dbURL)
				if err != nil {
					time.Sleep(20 * time.Millisecond)
					continue
				}
				conn = c
			}
			tenant := fmt.Sprintf("w%d", i)
			if _, err := conn.Exec(ctx, "INSERT INTO vendors VALUES ($1, 1, 'x')", tenant); err != nil {
				_ = conn.Close(context.Background())
				conn = nil
				continue
			}
			mu.Lock()
			committed = append(committed, change(vendors, tenant))
			n := len(committed)
			mu.Unlock()
			select {
			case written <- n:
			default:
			}
		}
	}()
	waitCommitted := func(n int) {
		t.Helper()
		timeout := time.After(time.Minute)
		for {
			select {
			case got := <-written:
				if got >= n {
					return
				}
			case <-timeout:
				t.Fatalf("the writer did not reach %d commits", n)
			}
		}
	}
	restartCtx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	waitCommitted(200)
	require.NoError(t, b.pg.Restart(restartCtx, testenv.StopImmediate), "crash while the ERP writes")
	mu.Lock()
	before := len(committed)
	mu.Unlock()
	waitCommitted(before + 200)
	require.NoError(t, b.pg.Restart(restartCtx, testenv.StopFast), "clean restart while the ERP writes")
	mu.Lock()
	before = len(committed)
	mu.Unlock()
	waitCommitted(before + 200)
	stopWriting()
	wg.Wait()

	mu.Lock()
	want := committed
	mu.Unlock()
	col.waitFor(t, fmt.Sprintf("all %d committed changes", len(want)), func(all []logical.Change) bool { return contains(all, want...) })
}

func TestLeaderHandover(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.mustSetup(t, vendors)
	colA, colB := newCollector(), newCollector()
	a := start(t, logical.Config{ConnString: b.dbURL, Tables: []logical.Table{vendors}, Sink: colA.sink})
	a.waitState(t, logical.Streaming)
	standby := start(t, logical.Config{ConnString: b.dbURL, Tables: []logical.Table{vendors}, Sink: colB.sink})
	standby.waitState(t, logical.WaitingForSlot)

	b.exec(t, "INSERT INTO vendors VALUES ('t1', 1, 'a')")
	require.Equal(t, []logical.Change{change(vendors, "t1")}, colA.waitBatch(t, 0), "the leader streams")
	require.Equal(t, logical.WaitingForSlot, standby.s.State(), "the second streamer still waits")

	a.stop(t) // leadership lost
	b.exec(t, "INSERT INTO vendors VALUES ('t2', 1, 'a')")
	colB.waitFor(t, "the second streamer takes over", func(all []logical.Change) bool { return contains(all, change(vendors, "t2")) })
	require.Equal(t, logical.Streaming, standby.s.State())
}

// logBuffer is a slog handler target safe for concurrent writes.
type logBuffer struct{ testenv.SyncBuffer }

func TestSlotDroppedIsRecreated(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.mustSetup(t, vendors)
	b.exec(t, "SELECT pg_drop_replication_slot($1)", logical.SlotName)
	_, err := logical.Lag(context.Background(), b.conn)
	require.ErrorIs(t, err, logical.ErrNoSlot)

	lost := make(chan struct{}, 1)
	var logs logBuffer
	col := newCollector()
	r := start(t, logical.Config{ConnString: b.dbURL, Tables: []logical.Table{vendors}, Sink: col.sink,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		OnSlotLost: func(context.Context) error {
			lost <- struct{}{}
			return nil
		}})
	select {
	case <-lost:
	case <-time.After(time.Minute):
		t.Fatal("OnSlotLost was not called")
	}
	require.Contains(t, logs.String(), "replication slot lost and recreated")
	require.Contains(t, logs.String(), "does not exist (dropped)")
	r.waitState(t, logical.Streaming)
	slot, err := logical.Inspect(context.Background(), b.conn)
	require.NoError(t, err)
	require.True(t, slot.Exists && !slot.Lost())
	_, err = logical.Lag(context.Background(), b.conn)
	require.NoError(t, err)

	b.exec(t, "INSERT INTO vendors VALUES ('t1', 1, 'a')")
	require.Equal(t, []logical.Change{change(vendors, "t1")}, col.waitBatch(t, 0), "the recreated slot streams")
}

func TestSlotInvalidatedIsRecreated(t *testing.T) {
	t.Parallel()
	b := setup(t, map[string]string{"max_slot_wal_keep_size": "1MB", "max_wal_size": "32MB", "min_wal_size": "32MB"})
	b.mustSetup(t, vendors)
	ctx := context.Background()
	// With no streamer, the slot holds WAL until PostgreSQL gives up on it at a checkpoint.
	for i := 0; ; i++ {
		slot, err := logical.Inspect(ctx, b.conn)
		require.NoError(t, err)
		if slot.WALStatus == "lost" {
			break
		}
		require.Less(t, i, 20, "the slot was not invalidated (wal_status %s)", slot.WALStatus)
		b.exec(t, "INSERT INTO audit_log SELECT 'x', repeat('y', 500) FROM generate_series(1, 20000)")
		b.exec(t, "SELECT pg_switch_wal()")
		b.exec(t, "CHECKPOINT")
	}
	lag, err := logical.Lag(ctx, b.conn)
	require.NoError(t, err)
	require.Positive(t, lag)

	lost := make(chan struct{}, 1)
	var logs logBuffer
	col := newCollector()
	start(t, logical.Config{ConnString: b.dbURL, Tables: []logical.Table{vendors}, Sink: col.sink,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		OnSlotLost: func(context.Context) error {
			lost <- struct{}{}
			return nil
		}})
	select {
	case <-lost:
	case <-time.After(time.Minute):
		t.Fatal("OnSlotLost was not called")
	}
	require.Contains(t, logs.String(), "max_slot_wal_keep_size")
	b.exec(t, "INSERT INTO vendors VALUES ('t1', 1, 'a')")
	require.Equal(t, []logical.Change{change(vendors, "t1")}, col.waitBatch(t, 0), "the recreated slot streams")
}

func TestLag(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.mustSetup(t, vendors)
	ctx := context.Background()
	b.exec(t, "INSERT INTO vendors SELECT 't1', i, 'n' FROM generate_series(1, 1000) i")
	lag, err := logical.Lag(ctx, b.conn)
	require.NoError(t, err)
	require.Greater(t, lag, int64(10000), "1,000 unconfirmed rows")

	col := newCollector()
	start(t, logical.Config{ConnString: b.dbURL, Tables: []logical.Table{vendors}, Sink: col.sink})
	col.waitBatch(t, 0)
	deadline := time.Now().Add(time.Minute)
	for {
		lag, err = logical.Lag(ctx, b.conn)
		require.NoError(t, err)
		if lag == 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "lag still %d bytes a minute after the changes were delivered", lag)
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPartitionedTable(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.exec(t, `CREATE TABLE ledger (tenant_id text NOT NULL, id int NOT NULL, amount int, PRIMARY KEY (tenant_id, id)) PARTITION BY HASH (tenant_id);
		CREATE TABLE ledger_0 PARTITION OF ledger FOR VALUES WITH (MODULUS 2, REMAINDER 0);
		CREATE TABLE ledger_1 PARTITION OF ledger FOR VALUES WITH (MODULUS 2, REMAINDER 1);
		CREATE TABLE journal (tenant_id text NOT NULL, id int NOT NULL, posted date NOT NULL, PRIMARY KEY (id, posted)) PARTITION BY RANGE (posted);
		CREATE TABLE journal_2026 PARTITION OF journal FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')`)
	ledger := logical.Table{Name: "public.ledger", TenantColumn: "tenant_id"}
	journal := logical.Table{Name: "public.journal", TenantColumn: "tenant_id"}

	err := logical.Setup(context.Background(), b.conn, []logical.Table{ledger, journal})
	require.ErrorIs(t, err, logical.ErrReplicaIdentity)
	require.ErrorContains(t, err, "partition of public.journal: table journal_2026: tenant column not in the replica identity")
	require.ErrorContains(t, err, "ALTER TABLE public.journal_2026 REPLICA IDENTITY FULL;")
	require.NotContains(t, err.Error(), "ledger", "partitions whose primary key holds the tenant pass")

	b.mustSetup(t, ledger)
	col := newCollector()
	start(t, logical.Config{ConnString: b.dbURL, Tables: []logical.Table{ledger}, Sink: col.sink})
	b.exec(t, "INSERT INTO ledger SELECT 'p' || i, i, 1 FROM generate_series(1, 4) i")
	got := col.waitFor(t, "the partitions' rows, as the partitioned table's", func(all []logical.Change) bool { return len(all) >= 4 })
	require.ElementsMatch(t, []logical.Change{change(ledger, "p1"), change(ledger, "p2"), change(ledger, "p3"), change(ledger, "p4")}, got)
	b.exec(t, "DELETE FROM ledger WHERE tenant_id = 'p3'")
	require.Equal(t, []logical.Change{change(ledger, "p3")}, col.waitBatch(t, col.count()))
}

func TestStopSendsTheLastConfirmation(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.mustSetup(t, vendors)
	ctx := context.Background()
	col := newCollector()
	// Confirmations are held back for an hour: only the one sent at the stop can move the slot.
	r := start(t, logical.Config{ConnString: b.dbURL, Tables: []logical.Table{vendors}, Sink: col.sink, ConfirmInterval: time.Hour})
	r.waitState(t, logical.Streaming)
	for i, tenant := range []string{"t1", "t2"} {
		b.exec(t, "INSERT INTO vendors VALUES ($1, 1, 'a')", tenant)
		require.Equal(t, []logical.Change{change(vendors, tenant)}, col.waitBatch(t, i))
	}
	var written string
	require.NoError(t, b.conn.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&written))
	want, err := pglogrepl.ParseLSN(written)
	require.NoError(t, err)
	deadline := time.Now().Add(time.Minute)
	for r.s.Confirmed() < want {
		require.True(t, time.Now().Before(deadline), "the streamer confirmed %s, not %s, a minute after the sink took it", r.s.Confirmed(), want)
		time.Sleep(5 * time.Millisecond)
	}
	r.stop(t)

	for {
		slot, err := logical.Inspect(ctx, b.conn)
		require.NoError(t, err)
		if !slot.Active {
			got, err := pglogrepl.ParseLSN(slot.ConfirmedLSN)
			require.NoError(t, err)
			require.GreaterOrEqual(t, got, want, "the slot has the last confirmation")
			break
		}
		require.True(t, time.Now().Before(deadline), "the slot is still active a minute after the streamer stopped")
		time.Sleep(5 * time.Millisecond)
	}
}
