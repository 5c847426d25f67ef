package logical_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/cachewarm/cachewarm/internal/capture/logical"
	"github.com/cachewarm/cachewarm/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// erpSchema is a small ERP: two captured tables in two schemas with two tenant column names,
// and a table that is never captured.
const erpSchema = `
CREATE TABLE vendors (tenant_id text NOT NULL, id int NOT NULL, name text, PRIMARY KEY (tenant_id, id));
CREATE SCHEMA purchasing;
CREATE TABLE purchasing.suppliers (id serial PRIMARY KEY, org text NOT NULL, name text);
ALTER TABLE purchasing.suppliers REPLICA IDENTITY FULL;
CREATE TABLE audit_log (tenant_id text, msg text);
`

var (
	vendors   = logical.Table{Name: "public.vendors", TenantColumn: "tenant_id"}
	suppliers = logical.Table{Name: "purchasing.suppliers", TenantColumn: "org"}
	auditLog  = logical.Table{Name: "public.audit_log", TenantColumn: "tenant_id"}
)

// bundle is what a test of the streamer needs: a private server with wal_level=logical, a
// database with the ERP schema, and a connection to it.
type bundle struct {
	pg    *testenv.PrivatePostgres
	dbURL string
	conn  *pgx.Conn
}

func setup(t *testing.T, settings map[string]string) *bundle {
	t.Helper()
	pg := testenv.NewPrivatePostgres(t, testenv.PrivatePostgresOptions{Settings: settings})
	dbURL := pg.NewDB(t)
	b := &bundle{pg: pg, dbURL: dbURL, conn: connect(t, dbURL)}
	b.exec(t, erpSchema)
	return b
}

func connect(t *testing.T, dbURL string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func (b *bundle) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	_, err := b.conn.Exec(context.Background(), sql, args...)
	require.NoError(t, err, sql)
}

// collector is a Sink that records every batch and can be made to fail.
type collector struct {
	mu      sync.Mutex
	batches [][]logical.Change
	fail    func(changes []logical.Change) error // nil: accept
	changed chan struct{}                        // signalled after every batch
}

func newCollector() *collector { return &collector{changed: make(chan struct{}, 1)} }

func (c *collector) sink(ctx context.Context, changes []logical.Change) error {
	c.mu.Lock()
	fail := c.fail
	c.mu.Unlock()
	if fail != nil {
		if err := fail(changes); err != nil {
			return err
		}
	}
	c.mu.Lock()
	c.batches = append(c.batches, slices.Clone(changes))
	c.mu.Unlock()
	select {
	case c.changed <- struct{}{}:
	default:
	}
	return nil
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.batches)
}

func (c *collector) all() []logical.Change {
	c.mu.Lock()
	defer c.mu.Unlock()
	var all []logical.Change
	for _, b := range c.batches {
		all = append(all, b...)
	}
	return all
}

// waitFor waits until cond holds for the changes received so far, failing after a minute.
func (c *collector) waitFor(t *testing.T, what string, cond func(all []logical.Change) bool) []logical.Change {
	t.Helper()
	timeout := time.After(time.Minute)
	for {
		all := c.all()
		if cond(all) {
			return all
		}
		select {
		case <-c.changed:
		case <-timeout:
			t.Fatalf("waited a minute for %s; received %v", what, all)
		}
	}
}

// waitBatch waits for the next batch after the n already received and returns it.
func (c *collector) waitBatch(t *testing.T, n int) []logical.Change {
	t.Helper()
	c.waitFor(t, fmt.Sprintf("batch %d", n+1), func([]logical.Change) bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.batches) > n
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.batches[n]
}

func contains(all []logical.Change, want ...logical.Change) bool {
	for _, w := range want {
		if !slices.Contains(all, w) {
			return false
		}
	}
	return true
}

// runner runs a streamer until stopped.
type runner struct {
	s      *logical.Streamer
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, cfg logical.Config) *runner {
	t.Helper()
	cfg.RetryMin, cfg.RetryMax, cfg.SlotWait = 20*time.Millisecond, 200*time.Millisecond, 20*time.Millisecond
	s, err := logical.NewStreamer(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{s: s, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels the streamer and waits for Run to return; it may be called more than once.
func (r *runner) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok {
			require.NoError(t, err)
			close(r.done)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("streamer did not stop within 30s of its context's end")
	}
}

func (r *runner) waitState(t *testing.T, want logical.State) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for r.s.State() != want {
		if time.Now().After(deadline) {
			t.Fatalf("streamer is %s after a minute, want %s", r.s.State(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (b *bundle) mustSetup(t *testing.T, tables ...logical.Table) {
	t.Helper()
	require.NoError(t, logical.Setup(context.Background(), b.conn, tables))
}

func TestSetupRefusesWithoutLogicalWALLevel(t *testing.T) {
	t.Parallel()
	// The shared server runs with wal_level = replica; where it does not, a private one does.
	conn := connect(t, testenv.NewDB(t))
	ctx := context.Background()
	var level string
	require.NoError(t, conn.QueryRow(ctx, "SHOW wal_level").Scan(&level))
	if level == "logical" {
		pg := testenv.NewPrivatePostgres(t, testenv.PrivatePostgresOptions{Settings: map[string]string{"wal_level": "replica"}})
		conn = connect(t, pg.NewDB(t))
	}
	_, err := conn.Exec(ctx, erpSchema)
	require.NoError(t, err)

	err = logical.Setup(ctx, conn, []logical.Table{vendors})
	t.Logf("refusal: %v", err)
	require.ErrorIs(t, err, logical.ErrWALLevel)
	require.ErrorContains(t, err, "wal_level = replica")
	require.ErrorContains(t, err, "ALTER SYSTEM SET wal_level = logical")
	require.ErrorContains(t, err, "restart PostgreSQL")

	require.ErrorIs(t, logical.CheckWALLevel(ctx, conn), logical.ErrWALLevel, "the worker's start check refuses the same way")
	var pubs int
	require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM pg_publication").Scan(&pubs))
	require.Zero(t, pubs, "a refused Setup creates nothing")
}

func publishedTables(t *testing.T, conn *pgx.Conn) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(),
		"SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1", logical.PublicationName)
	require.NoError(t, err)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return names
}

func TestSetupCreatesPublicationAndSlot(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	require.NoError(t, logical.CheckWALLevel(ctx, b.conn))

	b.mustSetup(t, vendors, suppliers)
	require.Equal(t, []string{"public.vendors", "purchasing.suppliers"}, publishedTables(t, b.conn))
	slot, err := logical.Inspect(ctx, b.conn)
	require.NoError(t, err)
	require.True(t, slot.Exists)
	require.Equal(t, "pgoutput", slot.Plugin)
	require.Equal(t, "logical", slot.Type)
	require.True(t, slot.ThisDatabase)
	require.False(t, slot.Lost())

	b.mustSetup(t, vendors, suppliers)
	again, err := logical.Inspect(ctx, b.conn)
	require.NoError(t, err)
	require.Equal(t, slot.ConfirmedLSN, again.ConfirmedLSN, "a second Setup keeps the slot (and what it has not confirmed)")
	require.Equal(t, []string{"public.vendors", "purchasing.suppliers"}, publishedTables(t, b.conn))

	b.exec(t, "CREATE TABLE gl_entries (tenant_id text NOT NULL, id bigserial, amount numeric, PRIMARY KEY (tenant_id, id))")
	gl := logical.Table{Name: "public.gl_entries", TenantColumn: "tenant_id"}
	b.mustSetup(t, suppliers, gl)
	require.Equal(t, []string{"public.gl_entries", "purchasing.suppliers"}, publishedTables(t, b.conn), "tables added and dropped to match")

	b.mustSetup(t)
	require.Empty(t, publishedTables(t, b.conn), "no tables: an empty publication")
	b.mustSetup(t, vendors)
	require.Equal(t, []string{"public.vendors"}, publishedTables(t, b.conn))

	var ins, upd, del, trunc, viaRoot bool
	require.NoError(t, b.conn.QueryRow(ctx, "SELECT pubinsert, pubupdate, pubdelete, pubtruncate, pubviaroot FROM pg_publication WHERE pubname = $1",
		logical.PublicationName).Scan(&ins, &upd, &del, &trunc, &viaRoot))
	require.True(t, ins && upd && del && trunc && viaRoot, "every kind of change is published, partitions as their root")

	err = logical.Setup(ctx, b.conn, []logical.Table{{Name: "public.nope", TenantColumn: "tenant_id"}, {Name: "public.vendors", TenantColumn: "org"}})
	require.ErrorContains(t, err, "table public.nope: does not exist")
	require.ErrorContains(t, err, "table public.vendors: has no column org")
}

func TestSetupChecksReplicaIdentity(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	b.exec(t, `CREATE TABLE customers (id int PRIMARY KEY, tenant_id text NOT NULL, name text);
		CREATE TABLE notes (tenant_id text, body text)`)
	customers := logical.Table{Name: "public.customers", TenantColumn: "tenant_id"}
	notes := logical.Table{Name: "public.notes", TenantColumn: "tenant_id"}

	err := logical.Setup(ctx, b.conn, []logical.Table{vendors, customers, notes})
	t.Logf("refusal: %v", err)
	require.ErrorIs(t, err, logical.ErrReplicaIdentity)
	msg := err.Error()
	require.Contains(t, msg, "table public.customers: tenant column not in the replica identity: its replica identity is the primary key (id)")
	require.Contains(t, msg, "ALTER TABLE public.customers REPLICA IDENTITY FULL;")
	require.Contains(t, msg, "table public.notes: tenant column not in the replica identity: its replica identity is no primary key")
	require.Contains(t, msg, "ALTER TABLE public.notes REPLICA IDENTITY FULL;")
	require.NotContains(t, msg, "public.vendors", "a table whose primary key holds the tenant passes")
	require.Empty(t, publishedTables(t, b.conn), "a refused Setup publishes nothing: an unpublishable table would make the ERP's UPDATEs fail")
	slot, err := logical.Inspect(ctx, b.conn)
	require.NoError(t, err)
	require.False(t, slot.Exists)

	// The index fix, run as the message words it, makes customers pass.
	var line string
	for _, l := range strings.Split(msg, "\n") {
		if strings.HasPrefix(l, "table public.customers:") {
			line = l
		}
	}
	_, fix, ok := strings.Cut(line, ", or ")
	require.True(t, ok, "the message offers an index-based fix: %s", msg)
	require.Contains(t, fix, "CREATE UNIQUE INDEX")
	b.exec(t, fix)
	b.exec(t, "ALTER TABLE notes REPLICA IDENTITY FULL")
	b.mustSetup(t, vendors, customers, notes)
	require.Equal(t, []string{"public.customers", "public.notes", "public.vendors"}, publishedTables(t, b.conn))
}
