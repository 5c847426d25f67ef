package demodata_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/cachewarm/cachewarm/internal/demodata"
	"github.com/cachewarm/cachewarm/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// fixedToday pins the calendar-relative data so determinism does not depend on the test's day.
var fixedToday = time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC)

func TestTenantID(t *testing.T) {
	t.Parallel()
	for k, want := range map[int]string{1: "t001", 42: "t042", 999: "t999", 1000: "t1000", 12345: "t12345"} {
		require.Equal(t, want, demodata.TenantID(k))
	}
	require.Panics(t, func() { demodata.TenantID(0) })
}

func TestSeedRefusesBadOptions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, err := demodata.Seed(ctx, nil, demodata.Options{Tenants: 1, Schema: "cachewarm"})
	require.ErrorContains(t, err, "reserved")
	_, err = demodata.Seed(ctx, nil, demodata.Options{Tenants: -1})
	require.ErrorContains(t, err, "tenants")
}

func TestSeed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.NewPool(t)

	// Objects outside the target schema must survive the seed.
	_, err := pool.Exec(ctx, `CREATE SCHEMA cachewarm; CREATE TABLE cachewarm.canary (id int);
		CREATE TABLE public.vendors (canary int)`)
	require.NoError(t, err)

	var progress []int
	res, err := demodata.Seed(ctx, pool, demodata.Options{Tenants: 3, Seed: 7, Schema: "erp", Today: fixedToday,
		Progress: func(done, total int) {
			require.Equal(t, 3, total)
			progress = append(progress, done)
		}})
	require.NoError(t, err)
	require.Equal(t, "erp", res.Schema)
	require.Equal(t, 3, res.Tenants)
	require.NotEmpty(t, progress)
	require.Equal(t, 3, progress[len(progress)-1])
	require.IsIncreasing(t, progress)

	for _, table := range demodata.Tables() {
		var n int64
		require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{"erp", table}.Sanitize()).Scan(&n))
		require.Equal(t, n, res.Rows[table], table)
		require.Positive(t, n, table)
	}
	require.Len(t, res.Rows, len(demodata.Tables()))

	var untouched bool
	require.NoError(t, pool.QueryRow(ctx, `SELECT to_regclass('cachewarm.canary') IS NOT NULL
		AND EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = 'public'
		            AND table_name = 'vendors' AND column_name = 'canary')`).Scan(&untouched))
	require.True(t, untouched, "seeding schema erp touched another schema")

	var ids []string
	rows, err := pool.Query(ctx, "SELECT id FROM erp.tenants WHERE active ORDER BY id")
	require.NoError(t, err)
	ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{"t001", "t002", "t003"}, ids)

	ranges := map[string][2]int64{
		"chart_of_accounts":   {300, 300},
		"financial_periods":   {36, 36},
		"crm_pipeline_stages": {6, 6},
		"facilities":          {2, 4},
		"work_centers":        {8, 32},
		"inventory_locations": {30, 120},
		"bins":                {200, 1000},
		"equipment":           {16, 80},
		"exchange_rates":      {360, 360},
		"vendors":             {1000, 1200},
		"customers":           {1000, 1200},
		"materials":           {2000, 2400},
		"kit_definitions":     {18, 22},
		"kit_components":      {36, 132},
		"pricing_rules":       {45, 55},
		"gl_entries":          {3000, 5000},
	}
	for table, r := range ranges {
		for _, id := range ids {
			var n int64
			require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{"erp", table}.Sanitize()+
				" WHERE tenant_id = $1", id).Scan(&n))
			require.GreaterOrEqual(t, n, r[0], "%s of %s", table, id)
			require.LessOrEqual(t, n, r[1], "%s of %s", table, id)
		}
	}

	checks := []struct {
		name string
		sql  string
	}{
		{"every table has a primary key", `SELECT count(*) = 17 FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
			WHERE n.nspname = 'erp' AND c.contype = 'p'`},
		{"every tenant has one open period containing today", `SELECT bool_and(n = 1) FROM (SELECT count(p.*) n
			FROM erp.tenants t LEFT JOIN erp.financial_periods p ON p.tenant_id = t.id AND p.status = 'open'
			AND p.start_date <= date '2026-03-15' AND p.end_date >= date '2026-03-15' GROUP BY t.id) s`},
		{"journals balance", `SELECT bool_and(d = c) FROM (SELECT sum(debit) d, sum(credit) c FROM erp.gl_entries
			GROUP BY tenant_id, journal_id) s`},
		{"GL lines fall in the previous and current periods", `SELECT count(DISTINCT period_id) = 3
			AND min(entry_date) = date '2026-01-01' AND max(entry_date) <= date '2026-03-15' FROM erp.gl_entries`},
		{"GL period ids match entry dates", `SELECT bool_and(g.entry_date BETWEEN p.start_date AND p.end_date)
			FROM erp.gl_entries g JOIN erp.financial_periods p ON p.tenant_id = g.tenant_id AND p.id = g.period_id`},
		{"pricing rules active today", `SELECT bool_and(n >= 5) FROM (SELECT count(*) n FROM erp.pricing_rules
			WHERE is_active AND valid_from <= date '2026-03-15' AND (valid_to IS NULL OR valid_to >= date '2026-03-15')
			GROUP BY tenant_id) s`},
		{"exchange rates up to today for 4 pairs", `SELECT bool_and(n = 4 AND latest = date '2026-03-15') FROM
			(SELECT count(DISTINCT to_currency) n, max(rate_date) latest FROM erp.exchange_rates GROUP BY tenant_id) s`},
		{"awkward vendor name", `SELECT name = 'Müller & Söhne "GmbH"' FROM erp.vendors WHERE tenant_id = 't001' AND id = 2`},
		{"material note starting with a colon", `SELECT notes = ':special' FROM erp.materials WHERE tenant_id = 't002' AND id = 2`},
		{"large numeric", `SELECT credit_limit = 12345678901234.56 FROM erp.customers WHERE tenant_id = 't003' AND id = 2`},
		{"NULLs in nullable columns", `SELECT count(*) > 0 FROM erp.vendors WHERE email IS NULL AND rating IS NULL`},
		{"kit components reference materials", `SELECT bool_and(m.id IS NOT NULL) FROM erp.kit_components k
			LEFT JOIN erp.materials m ON m.tenant_id = k.tenant_id AND m.id = k.material_id`},
		{"bins belong to aisles of their facility", `SELECT bool_and(l.facility_id = b.facility_id AND l.location_type = 'aisle')
			FROM erp.bins b JOIN erp.inventory_locations l ON l.tenant_id = b.tenant_id AND l.id = b.location_id`},
	}
	for _, c := range checks {
		var ok *bool
		require.NoError(t, pool.QueryRow(ctx, c.sql).Scan(&ok), c.name)
		require.NotNil(t, ok, c.name)
		require.True(t, *ok, c.name)
	}

	// Zero tenants creates the empty tables.
	empty, err := demodata.Seed(ctx, pool, demodata.Options{Schema: "empty"})
	require.NoError(t, err)
	require.Zero(t, empty.TotalRows())
	var tables int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'empty'`).Scan(&tables))
	require.Equal(t, len(demodata.Tables()), tables)
}

func TestSeedDeterministic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.NewPool(t)
	seed := func(schema string, tenants int, s int64) {
		t.Helper()
		_, err := demodata.Seed(ctx, pool, demodata.Options{Tenants: tenants, Seed: s, Schema: schema, Today: fixedToday})
		require.NoError(t, err)
	}
	two := []string{"t001", "t002"}

	seed("a", 3, 42)
	first := dump(t, pool, "a", two)
	seed("a", 3, 42) // re-seeding the same schema starts over and gives the same rows
	require.Equal(t, first, dump(t, pool, "a", two))
	require.Equal(t, dump(t, pool, "a", []string{"t003"}), dump(t, pool, "a", []string{"t003"}))

	seed("b", 2, 42) // tenant k's rows do not depend on how many tenants there are
	require.Equal(t, first, dump(t, pool, "b", two))

	seed("c", 2, 43) // another seed gives other rows
	other := dump(t, pool, "c", two)
	require.NotEqual(t, first["vendors"], other["vendors"])
	require.NotEqual(t, first["gl_entries"], other["gl_entries"])

	// t001 and t002 differ from each other too.
	require.NotEqual(t, dump(t, pool, "a", []string{"t001"})["vendors"], dump(t, pool, "a", []string{"t002"})["vendors"])

	// Another day changes the calendar-relative tables only: master and reference data (and
	// the golden values tests keep of them) are the same whatever day the seed runs.
	_, err := demodata.Seed(ctx, pool, demodata.Options{Tenants: 2, Seed: 42, Schema: "d", Today: fixedToday.AddDate(0, 2, 9)})
	require.NoError(t, err)
	later := dump(t, pool, "d", two)
	for _, table := range []string{"tenants", "chart_of_accounts", "crm_pipeline_stages", "facilities", "work_centers",
		"vendors", "customers", "materials", "kit_definitions", "kit_components"} {
		require.Contains(t, first, table)
		require.Equal(t, first[table], later[table], "%s does not depend on the day", table)
	}
	require.NotEqual(t, first["financial_periods"], later["financial_periods"])
	require.NotEqual(t, first["gl_entries"], later["gl_entries"])
}

// dump returns, per table, an md5 of the ordered text of the tenants' rows in schema.
func dump(t *testing.T, pool *pgxpool.Pool, schema string, tenants []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, table := range demodata.Tables() {
		col := "tenant_id"
		if table == "tenants" {
			col = "id"
		}
		var sum string
		q := fmt.Sprintf(`SELECT count(*) || ':' || coalesce(md5(string_agg(x::text, E'\n' ORDER BY x::text)), '')
			FROM %s x WHERE %s = ANY($1)`, pgx.Identifier{schema, table}.Sanitize(), col)
		require.NoError(t, pool.QueryRow(context.Background(), q, tenants).Scan(&sum), table)
		out[table] = sum
	}
	return out
}

// BenchmarkSeed loads 50 tenants per iteration (go test -run '^$' -bench Seed -benchtime 3x ./internal/demodata/).
func BenchmarkSeed(b *testing.B) {
	ctx := context.Background()
	pool := testenv.NewPool(b)
	var rows int64
	for b.Loop() {
		res, err := demodata.Seed(ctx, pool, demodata.Options{Tenants: 50, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		rows = res.TotalRows()
	}
	b.ReportMetric(float64(rows), "rows/op")
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
