// Package owndatasets tests that a schema unlike the demo's in every way the dataset file
// format allows (schemas, a tenant column by another name, a tenants table of its own, each
// value shape, pages, escaped key segments) is warmed, kept fresh and checked from dataset
// files alone.
package owndatasets

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/fixture"
	"github.com/cachewarm/cachewarm/internal/testenv"
	"github.com/cachewarm/cachewarm/migrations"
	"github.com/cachewarm/cachewarm/workflows"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// schema is the ERP of these tests: its tenants are companies in crm.companies, its tables
// carry company_id, one of them is reached through the search_path (erp.rates).
const schema = `
CREATE SCHEMA crm;
CREATE SCHEMA purchasing;
CREATE SCHEMA erp;
CREATE TABLE crm.companies (company_id text PRIMARY KEY, status text NOT NULL);
CREATE TABLE purchasing.suppliers (
    company_id text NOT NULL, supplier_id bigint NOT NULL, name text NOT NULL, rating numeric(3,1),
    onboarded date, updated_at timestamptz NOT NULL, PRIMARY KEY (company_id, supplier_id));
CREATE TABLE purchasing.contacts (
    company_id text NOT NULL, supplier_id bigint NOT NULL, contact_id int NOT NULL, email text NOT NULL);
CREATE TABLE erp.rates (company_id text NOT NULL, pair text NOT NULL, rate numeric(10,4) NOT NULL);
INSERT INTO crm.companies VALUES ('acme', 'active'), ('globex', 'active'), ('initech', 'closed');
INSERT INTO purchasing.suppliers VALUES
    ('acme', 1, 'Alpha "A"', 4.5, '2024-02-29', '2025-01-02 03:04:05.678+00'),
    ('acme', 2, 'Beta', NULL, NULL, '2025-01-02 03:04:05+00'),
    ('acme', 3, 'Gamma', 3.0, '2023-12-31', '2025-06-30 23:59:59.999+00'),
    ('initech', 1, 'Closed Co', 1.0, NULL, '2025-01-01 00:00:00+00');
INSERT INTO purchasing.contacts VALUES ('acme', 1, 10, 'a@alpha.example'), ('acme', 1, 11, 'b@alpha.example'),
    ('acme', 3, 30, 'g@gamma.example');
INSERT INTO erp.rates VALUES ('acme', 'EUR/USD', 1.0850), ('globex', 'GBP*', 0.5);
`

// files are the dataset directory: one file of each value shape, and tenants.sql.
var files = map[string]string{
	"tenants.sql": `-- Companies are the tenants.
-- tables: crm.companies
-- tenant-column: company_id
SELECT company_id FROM crm.companies WHERE status = 'active'
`,
	"suppliers.sql": `-- Suppliers, one key each, and pages of two.
-- phase: high
-- ttl: 12h
-- tables: purchasing.suppliers
-- tenant-column: company_id
-- key: purch:supplier:{tenant}:supplierId:{id}
-- value: object
-- pages: purch:suppliers:{tenant}:page:{n}:limit:{size} size=2 count=3
SELECT s.supplier_id AS "id", s.name AS "name", s.rating AS "rating", s.onboarded AS "onboarded",
       s.updated_at AS "updatedAt"
FROM purchasing.suppliers s WHERE s.company_id = $1 ORDER BY s.supplier_id
`,
	"supplier_contacts.sql": `-- Each supplier's contacts; a supplier without any gets [].
-- phase: critical
-- ttl: REFERENCE
-- tables: purchasing.suppliers, purchasing.contacts
-- tenant-column: company_id
-- key: purch:contacts:{tenant}:supplierId:{_supplier}
-- value: list
SELECT s.supplier_id AS "_supplier", c.contact_id AS "contactId", c.email AS "email"
FROM purchasing.suppliers s
LEFT JOIN purchasing.contacts c ON c.company_id = s.company_id AND c.supplier_id = s.supplier_id
WHERE s.company_id = $1
ORDER BY s.supplier_id, c.contact_id
`,
	"rates.sql": `-- Rates by pair, built as JSON text; the pair is data, so it is escaped in the key.
-- phase: medium
-- ttl: 1h
-- tables: rates
-- tenant-column: company_id
-- key: fin:rate:{tenant}:pair:{pair}
-- value: json
SELECT r.pair AS "pair", row_to_json(x)::text AS value
FROM rates r CROSS JOIN LATERAL (SELECT r.rate::text AS "rate") x
WHERE r.company_id = $1 ORDER BY r.pair
`,
}

// setup makes the schema in a database of the test's own, with erp on the search_path,
// writes the files to a directory and loads it.
func setup(t *testing.T) (*fixture.Env, *catalog.Catalog, string) {
	t.Helper()
	ctx := context.Background()
	dbURL := testenv.NewDB(t)
	admin := testenv.Connect(t, dbURL)
	_, err := admin.Exec(ctx, schema)
	require.NoError(t, err)
	var db string
	require.NoError(t, admin.QueryRow(ctx, `SELECT current_database()`).Scan(&db))
	_, err = admin.Exec(ctx, `ALTER DATABASE "`+db+`" SET search_path = erp, public`)
	require.NoError(t, err)
	admin.Close()

	dir := t.TempDir()
	for name, text := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
	}
	cat, err := catalog.Open(dir)
	require.NoError(t, err)
	rdb, redisURL := testenv.NewRedis(t)
	env := &fixture.Env{DBURL: dbURL, RedisURL: redisURL, Pool: testenv.Connect(t, dbURL), Redis: rdb}
	require.NoError(t, catalog.Check(ctx, env.Pool, cat), "datasets check")
	_, err = migrations.Migrate(ctx, env.Pool, cat, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	return env, cat, dir
}

// want is every key the files must produce for the data above, with its exact value.
var want = map[string]string{
	"purch:supplier:acme:supplierId:1":      `{"id":"1","name":"Alpha \"A\"","rating":"4.5","onboarded":"2024-02-29","updatedAt":"2025-01-02T03:04:05.678Z"}`,
	"purch:supplier:acme:supplierId:2":      `{"id":"2","name":"Beta","rating":null,"onboarded":null,"updatedAt":"2025-01-02T03:04:05.000Z"}`,
	"purch:supplier:acme:supplierId:3":      `{"id":"3","name":"Gamma","rating":"3.0","onboarded":"2023-12-31","updatedAt":"2025-06-30T23:59:59.999Z"}`,
	"purch:suppliers:acme:page:1:limit:2":   `[{"id":"1","name":"Alpha \"A\"","rating":"4.5","onboarded":"2024-02-29","updatedAt":"2025-01-02T03:04:05.678Z"},{"id":"2","name":"Beta","rating":null,"onboarded":null,"updatedAt":"2025-01-02T03:04:05.000Z"}]`,
	"purch:suppliers:acme:page:2:limit:2":   `[{"id":"3","name":"Gamma","rating":"3.0","onboarded":"2023-12-31","updatedAt":"2025-06-30T23:59:59.999Z"}]`,
	"purch:suppliers:acme:page:3:limit:2":   `[]`,
	"purch:contacts:acme:supplierId:1":      `[{"contactId":10,"email":"a@alpha.example"},{"contactId":11,"email":"b@alpha.example"}]`,
	"purch:contacts:acme:supplierId:2":      `[]`,
	"purch:contacts:acme:supplierId:3":      `[{"contactId":30,"email":"g@gamma.example"}]`,
	"fin:rate:acme:pair:EUR%2FUSD":          `{"rate":"1.0850"}`,
	"purch:suppliers:globex:page:1:limit:2": `[]`,
	"purch:suppliers:globex:page:2:limit:2": `[]`,
	"purch:suppliers:globex:page:3:limit:2": `[]`,
	"fin:rate:globex:pair:GBP%2A":           `{"rate":"0.5000"}`,
}

// requireValues checks that Redis holds exactly want's keys (less cachewarm's own
// bookkeeping keys) with want's values.
func requireValues(t *testing.T, env *fixture.Env, want map[string]string) {
	t.Helper()
	ctx := context.Background()
	got := map[string]string{}
	for _, pattern := range []string{"purch:*", "fin:*"} {
		keys, err := env.Redis.Keys(ctx, pattern).Result()
		require.NoError(t, err)
		for _, k := range keys {
			v, err := env.Redis.Get(ctx, k).Result()
			require.NoError(t, err)
			got[k] = v
		}
	}
	require.Equal(t, want, got)
}

func TestOwnSchemaIsWarmedAndKeptFreshFromFilesAlone(t *testing.T) {
	t.Parallel()
	env, cat, _ := setup(t)
	ctx := context.Background()
	w := env.StartWorker(t, env.Config(t, nil), cat)
	runs, err := w.Workflows().Start(ctx, w.Client(), workflows.Request{All: true, Phases: catalog.Phases, Trigger: "test"})
	require.NoError(t, err)
	require.Len(t, runs, 2, "the two active companies")
	env.WaitWorkflows(t, time.Minute)
	requireValues(t, env, want)

	// A tenant id that tenants.sql does not list is never warmed, even when asked by SQL.
	_, err = env.Pool.Exec(ctx, `SELECT cachewarm.enqueue_dataset_warm('ghost1', ARRAY['suppliers'])`)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		var n int
		err := env.Pool.QueryRow(ctx, `SELECT count(*) FROM cachewarm.river_job WHERE args->>'tenant_id' = 'ghost1' AND state = 'completed'`).Scan(&n)
		return err == nil && n == 1
	}, 20*time.Second, 20*time.Millisecond, "the ghost's job ran")
	ghost, err := env.Redis.Keys(ctx, "*ghost1*").Result()
	require.NoError(t, err)
	require.Empty(t, ghost, "and wrote nothing")

	// A change to a table in another schema re-warms its datasets.
	_, err = env.Pool.Exec(ctx, `UPDATE purchasing.contacts SET email = 'new@alpha.example' WHERE company_id = 'acme' AND contact_id = 11`)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		v, _ := env.Redis.Get(ctx, "purch:contacts:acme:supplierId:1").Result()
		return v == `[{"contactId":10,"email":"a@alpha.example"},{"contactId":11,"email":"new@alpha.example"}]`
	}, 20*time.Second, 20*time.Millisecond, "the contact's change reaches its key")

	// A table reached through the search_path, and a row deleted: its key goes.
	_, err = env.Pool.Exec(ctx, `DELETE FROM rates WHERE company_id = 'globex'`)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		n, _ := env.Redis.Exists(ctx, "fin:rate:globex:pair:GBP%2A").Result()
		return n == 0
	}, 20*time.Second, 20*time.Millisecond, "the deleted rate's key is removed")

	// A company that becomes active is warmed from its own tables.
	_, err = env.Pool.Exec(ctx, `UPDATE crm.companies SET status = 'active' WHERE company_id = 'initech'`)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		v, _ := env.Redis.Get(ctx, "purch:supplier:initech:supplierId:1").Result()
		return v == `{"id":"1","name":"Closed Co","rating":"1.0","onboarded":null,"updatedAt":"2025-01-01T00:00:00.000Z"}`
	}, 20*time.Second, 20*time.Millisecond, "the new tenant is warmed")

	// A company that stops being active has its keys removed, and only its.
	_, err = env.Pool.Exec(ctx, `UPDATE crm.companies SET status = 'closed' WHERE company_id = 'acme'`)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		keys, _ := env.Redis.Keys(ctx, "*:acme:*").Result()
		return len(keys) == 0
	}, 20*time.Second, 20*time.Millisecond, "the departed tenant's keys are removed")
	n, err := env.Redis.Exists(ctx, "purch:suppliers:globex:page:1:limit:2", "purch:supplier:initech:supplierId:1").Result()
	require.NoError(t, err)
	require.EqualValues(t, 2, n, "the other tenants keep theirs")
}

func TestDatasetsCheckNamesFileAndLine(t *testing.T) {
	t.Parallel()
	env, _, _ := setup(t)
	ctx := context.Background()
	good := files["suppliers.sql"]
	for _, tt := range []struct {
		name, text string
		atLoad     bool // found by reading the files, before the database
		line       int
		msg        string
	}{
		{"unknown field", "-- phase: high\n-- ttl: 1h\n-- colour: blue\n" + good[len("-- Suppliers, one key each, and pages of two.\n-- phase: high\n-- ttl: 12h\n"):], true, 3, `unknown header field "colour"`},
		{"missing field", "-- phase: high\n-- ttl: 1h\n-- tables: purchasing.suppliers\n-- value: json\nSELECT '1' AS value\n", true, 1, `header field "key" is missing`},
		{"field twice", "-- phase: high\n-- phase: medium\n-- ttl: 1h\n-- tables: t\n-- key: a:b:{tenant}\n-- value: json\nSELECT '1' AS value\n", true, 2, `header field "phase" given twice`},
		{"bad phase", "-- phase: urgent\n-- ttl: 1h\n-- tables: t\n-- key: a:b:{tenant}\n-- value: json\nSELECT '1' AS value\n", true, 1, `unknown phase "urgent"`},
		{"bad ttl", "-- phase: high\n-- ttl: soon\n-- tables: t\n-- key: a:b:{tenant}\n-- value: json\nSELECT '1' AS value\n", true, 2, `ttl "soon"`},
		{"bad key", "-- phase: high\n-- ttl: 1h\n-- tables: t\n-- key: a:b:x{tenant}\n-- value: json\nSELECT '1' AS value\n", true, 4, `{tenant} must follow`},
		{"placeholder is no column", strings.Replace(good, "{id}", "{supplierId}", 1), false, 6, "key placeholder {supplierId} is no column"},
		{"type without a JSON rule", strings.Replace(good, `s.name AS "name"`, `gen_random_uuid() AS "name"`, 1), false, 9, `column "name" has type OID 2950`},
		{"missing table", strings.Replace(good, "-- tables: purchasing.suppliers", "-- tables: purchasing.vendors", 1), false, 4, "table purchasing.vendors does not exist"},
		{"missing tenant column", strings.Replace(good, "-- tenant-column: company_id", "-- tenant-column: tenant_id", 1), false, 4, "has no tenant column tenant_id"},
		{"failing query", strings.Replace(good, "ORDER BY s.supplier_id", "ORDER BY s.no_such_column", 1), false, 11, `column s.no_such_column does not exist`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "tenants.sql"), []byte(files["tenants.sql"]), 0o644))
			file := filepath.Join(dir, "broken.sql")
			require.NoError(t, os.WriteFile(file, []byte(tt.text), 0o644))
			cat, err := catalog.Open(dir)
			if !tt.atLoad {
				require.NoError(t, err)
				err = catalog.Check(ctx, env.Pool, cat)
			}
			var probs catalog.Problems
			require.ErrorAs(t, err, &probs)
			require.Len(t, probs, 1, "%v", err)
			require.Equal(t, file, probs[0].File)
			require.Equal(t, tt.line, probs[0].Line, "%v", err)
			require.Contains(t, probs[0].Msg, tt.msg)
			require.Contains(t, err.Error(), fmt.Sprintf("%s:%d: ", file, tt.line))
		})
	}
}
