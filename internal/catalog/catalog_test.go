package catalog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/demodata"
	"github.com/cachewarm/cachewarm/internal/testenv"
	sqlfiles "github.com/cachewarm/cachewarm/sql"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// seeded is a database with three demo tenants, built once and cloned per test.
var seeded = testenv.NewTemplate("catalog", func(ctx context.Context, dbURL string) error {
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	_, err = demodata.Seed(ctx, pool, demodata.Options{Tenants: 3, Seed: 1})
	return err
})

func TestDefault(t *testing.T) {
	t.Parallel()
	c, err := catalog.Default()
	require.NoError(t, err)

	want := map[catalog.Phase][]string{
		catalog.PhaseCritical: {"chart_of_accounts", "current_period", "exchange_rates", "financial_periods", "pipeline_stages", "work_centers"},
		catalog.PhaseHigh:     {"customers", "inventory_locations", "kit_definitions", "materials", "pricing_rules", "vendors"},
		catalog.PhaseMedium:   {"bin_utilization", "equipment_health", "gl_balances", "trial_balance"},
	}
	ttl := map[catalog.Phase]int64{
		catalog.PhaseCritical: int64(cache.TTLStatic), catalog.PhaseHigh: int64(cache.TTLReference),
		catalog.PhaseMedium: int64(cache.TTLAggregate),
	}
	for _, p := range catalog.Phases {
		var names []string
		for _, d := range c.Phase(p) {
			names = append(names, d.Name)
			require.Equal(t, ttl[p], int64(d.TTL), d.Name)
		}
		require.Equal(t, want[p], names, p)
	}

	// Every dataset has a query file and every query file is a dataset.
	files, err := fs.Glob(sqlfiles.FS, "*.sql")
	require.NoError(t, err)
	var fileNames []string
	for _, f := range files {
		if f != catalog.TenantsFile {
			fileNames = append(fileNames, strings.TrimSuffix(f, ".sql"))
		}
	}
	names := c.Names()
	slices.Sort(names)
	require.Equal(t, names, fileNames)

	for _, d := range c.All() {
		require.NotEmpty(t, d.KeyPatterns(), d.Name)
		for _, k := range d.KeyPatterns() {
			require.Contains(t, k, ":{t}", d.Name)
		}
		require.NotEmpty(t, d.Tables, d.Name)
		for _, table := range d.Tables {
			require.Contains(t, demodata.Tables(), table, "%s reads an unknown table", d.Name)
		}
		require.Contains(t, d.SQL, "$1::text", d.Name)
		require.False(t, strings.HasSuffix(strings.TrimSpace(d.SQL), ";"), "%s: a query must be wrappable as a subquery", d.Name)
		for _, table := range demodata.Tables() {
			if table == "tenants" {
				continue // tenants.sql's table: a change re-warms the tenant whole
			}
			if regexp.MustCompile(`(?i)\b(FROM|JOIN)\s+` + table + `\b`).MatchString(d.SQL) {
				require.Contains(t, d.Tables, table, "%s reads %s but does not list it", d.Name, table)
			}
		}
	}
}

// result is one row of a dataset query.
type result struct {
	key, value string
}

// run returns d's entries for tenant, pages included, as the warm job writes them.
func run(t *testing.T, pool *pgxpool.Pool, d catalog.Dataset, tenant string) []result {
	t.Helper()
	entries, err := d.Entries(context.Background(), pool, tenant)
	require.NoError(t, err, d.Name)
	out := make([]result, len(entries))
	for i, e := range entries {
		out[i] = result{key: cache.Keys{}.Join(e.Prefix, cache.MustTenant(tenant), e.Suffix), value: string(e.Value)}
	}
	return out
}

// keyPattern turns a key pattern into a regexp for tenant's keys.
func keyPattern(pattern, tenant string) *regexp.Regexp {
	q := regexp.QuoteMeta(pattern)
	q = strings.ReplaceAll(q, `\{t\}`, regexp.QuoteMeta(tenant))
	q = regexp.MustCompile(`\\\{[A-Za-z_]+\\\}`).ReplaceAllString(q, `[^:]+`)
	return regexp.MustCompile("^" + q + "$")
}

var (
	timestampRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	dateRE      = regexp.MustCompile(`^\d{4}-\d\d-\d\d$`)
	decimalRE   = regexp.MustCompile(`^-?\d+\.\d+$`)
	bigintRE    = regexp.MustCompile(`^-?\d+$`)
)

// idFields are the bigint id columns, which must be JSON strings.
var idFields = []string{"id", "facilityId", "parentId", "workCenterId", "materialId", "customerId", "accountId"}

// decimalFields are the numeric columns, which must be JSON strings with their scale.
var decimalFields = []string{"creditLimit", "balance", "rate", "debit", "credit", "healthScore", "standardCost",
	"listPrice", "weightKg", "quantity", "kitPrice", "minQuantity", "value", "capacityPerHour", "efficiencyPct",
	"costPerHour", "operatingHours", "openingBalance", "periodDebit", "periodCredit", "closingBalance", "utilizationPct"}

// checkValue checks that v is compact JSON encoded by node-postgres's rules (docs/datasets.md, "Value types").
func checkValue(t *testing.T, where, v string) {
	t.Helper()
	require.True(t, json.Valid([]byte(v)), "%s: invalid JSON %.200s", where, v)
	var compact bytes.Buffer
	require.NoError(t, json.Compact(&compact, []byte(v)))
	require.Equal(t, compact.String(), v, "%s: not compact", where)
	require.NotEqual(t, "null", v, where)

	dec := json.NewDecoder(strings.NewReader(v))
	dec.UseNumber()
	var decoded any
	require.NoError(t, dec.Decode(&decoded))
	var walk func(path string, x any)
	walk = func(path string, x any) {
		switch x := x.(type) {
		case []any:
			for _, e := range x {
				walk(path+"[]", e)
			}
		case map[string]any:
			for k, e := range x {
				field := path + "." + k
				s, isString := e.(string)
				switch {
				case e == nil:
				case slices.Contains(idFields, k):
					require.True(t, isString && bigintRE.MatchString(s), "%s %s: bigint id as a string, got %v", where, field, e)
				case strings.HasSuffix(k, "At"):
					require.True(t, isString && timestampRE.MatchString(s), "%s %s: timestamp, got %v", where, field, e)
				case slices.Contains([]string{"startDate", "endDate", "rateDate", "validFrom", "validTo", "installedOn",
					"nextMaintenanceOn"}, k):
					require.True(t, isString && dateRE.MatchString(s), "%s %s: date, got %v", where, field, e)
				case slices.Contains(decimalFields, k):
					require.True(t, isString && decimalRE.MatchString(s), "%s %s: numeric as a string, got %v", where, field, e)
				}
				walk(field, e)
			}
		case json.Number:
			require.True(t, bigintRE.MatchString(x.String()), "%s %s: only integer columns may be JSON numbers, got %s",
				where, path, x)
		}
	}
	walk("", decoded)
}

func TestQueries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.NewPool(t, testenv.FromTemplate(seeded))
	c, err := catalog.Default()
	require.NoError(t, err)

	const tenant = "t002"
	count := func(sql string) int {
		var n int
		require.NoError(t, pool.QueryRow(ctx, sql, tenant).Scan(&n))
		return n
	}
	facilities := count("SELECT count(*) FROM facilities WHERE tenant_id = $1")
	pairs := count("SELECT count(DISTINCT (from_currency, to_currency)) FROM exchange_rates WHERE tenant_id = $1")
	wantKeys := map[string]int{
		"chart_of_accounts": 1, "financial_periods": 1, "current_period": 1, "pipeline_stages": 1,
		"work_centers": facilities, "exchange_rates": pairs,
		"vendors": 5 + 500, "customers": 5 + 500, "materials": 10 + 1000,
		"inventory_locations": facilities, "kit_definitions": 1, "pricing_rules": 1,
		"trial_balance": 2, "gl_balances": 1, "bin_utilization": facilities, "equipment_health": facilities,
	}

	for _, d := range c.All() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			res := run(t, pool, d, tenant)
			require.Len(t, res, wantKeys[d.Name])
			keys := map[string]bool{}
			for _, r := range res {
				require.False(t, keys[r.key], "duplicate key %s", r.key)
				keys[r.key] = true
				matched := false
				for _, p := range d.KeyPatterns() {
					matched = matched || keyPattern(p, tenant).MatchString(r.key)
				}
				require.True(t, matched, "key %s matches none of %v", r.key, d.KeyPatterns())
				checkValue(t, r.key, r.value)
			}
		})
	}
}

func TestQueryShapes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testenv.NewPool(t, testenv.FromTemplate(seeded))
	c, err := catalog.Default()
	require.NoError(t, err)
	values := func(dataset, tenant string) map[string]string {
		d, err := c.Lookup(dataset)
		require.NoError(t, err)
		out := map[string]string{}
		for _, r := range run(t, pool, d, tenant) {
			out[r.key] = r.value
		}
		return out
	}

	t.Run("pages hold the items in id order", func(t *testing.T) {
		for _, tt := range []struct {
			dataset, list, item, idName string
			pages, items                int
		}{
			{"vendors", "sales:vendors", "sales:vendor", "vendorId", 5, 500},
			{"customers", "sales:customers", "sales:customer", "customerId", 5, 500},
			{"materials", "sales:materials", "sales:material", "materialId", 10, 1000},
		} {
			v := values(tt.dataset, "t001")
			var fromPages []json.RawMessage
			for n := 1; n <= tt.pages; n++ {
				var page []json.RawMessage
				require.NoError(t, json.Unmarshal([]byte(v[tt.list+":t001:page:"+strconv.Itoa(n)+":limit:100"]), &page))
				require.Len(t, page, 100, "%s page %d", tt.dataset, n)
				fromPages = append(fromPages, page...)
			}
			require.Len(t, fromPages, tt.items)
			for i, raw := range fromPages {
				require.Equal(t, string(raw), v[tt.item+":t001:"+tt.idName+":"+strconv.Itoa(i+1)], "%s item %d", tt.dataset, i+1)
			}
		}
	})

	t.Run("an unknown tenant gets empty lists, never null", func(t *testing.T) {
		for _, d := range c.All() {
			for key, v := range values(d.Name, "t404") {
				require.Equal(t, "[]", v, key)
			}
		}
		require.Len(t, values("vendors", "t404"), 5)
		require.Len(t, values("materials", "t404"), 10)
		require.Len(t, values("chart_of_accounts", "t404"), 1)
		require.Empty(t, values("current_period", "t404"))
		require.Empty(t, values("work_centers", "t404"))
	})

	t.Run("short and empty lists", func(t *testing.T) {
		_, err := pool.Exec(ctx, `DELETE FROM vendors WHERE tenant_id = 't003' AND id > 250;
			DELETE FROM equipment WHERE tenant_id = 't003' AND facility_id = 1;
			DELETE FROM pricing_rules WHERE tenant_id = 't003'`)
		require.NoError(t, err)
		v := values("vendors", "t003")
		require.Len(t, v, 5+250)
		var page []json.RawMessage
		require.NoError(t, json.Unmarshal([]byte(v["sales:vendors:t003:page:3:limit:100"]), &page))
		require.Len(t, page, 50)
		require.Equal(t, "[]", v["sales:vendors:t003:page:4:limit:100"])
		require.Equal(t, "[]", v["sales:vendors:t003:page:5:limit:100"])
		require.Equal(t, "[]", values("equipment_health", "t003")["ops:equipment_health:t003:facilityId:1:status:active"])
		require.Equal(t, map[string]string{"sales:pricing:t003:effective:current": "[]"}, values("pricing_rules", "t003"))
	})

	t.Run("objects and nested lists", func(t *testing.T) {
		var period map[string]any
		require.NoError(t, json.Unmarshal([]byte(values("current_period", "t001")["finance:current_period:t001"]), &period))
		require.Equal(t, "open", period["status"])

		var rate map[string]any
		for _, v := range values("exchange_rates", "t001") {
			require.NoError(t, json.Unmarshal([]byte(v), &rate))
			require.NotEmpty(t, rate["rate"])
		}

		var kits []struct {
			Components []map[string]any `json:"components"`
		}
		require.NoError(t, json.Unmarshal([]byte(values("kit_definitions", "t001")["sales:kits:t001"]), &kits))
		require.NotEmpty(t, kits)
		for _, k := range kits {
			require.NotEmpty(t, k.Components)
		}
	})

	t.Run("awkward values round-trip", func(t *testing.T) {
		var vendor, customer, material map[string]any
		require.NoError(t, json.Unmarshal([]byte(values("vendors", "t001")["sales:vendor:t001:vendorId:2"]), &vendor))
		require.Equal(t, `Müller & Söhne "GmbH"`, vendor["name"])
		require.NoError(t, json.Unmarshal([]byte(values("customers", "t001")["sales:customer:t001:customerId:2"]), &customer))
		require.Equal(t, "12345678901234.56", customer["creditLimit"])
		require.NoError(t, json.Unmarshal([]byte(values("materials", "t001")["sales:material:t001:materialId:2"]), &material))
		require.Equal(t, ":special", material["notes"])
	})

	t.Run("trial balance balances in the base currency", func(t *testing.T) {
		var base string
		require.NoError(t, pool.QueryRow(ctx, "SELECT base_currency FROM tenants WHERE id = 't001'").Scan(&base))
		v := values("trial_balance", "t001")
		require.Len(t, v, 2)
		for key, val := range v {
			require.True(t, strings.HasSuffix(key, ":currency:"+base), key)
			var lines []struct{ Debit, Credit string }
			require.NoError(t, json.Unmarshal([]byte(val), &lines))
			require.NotEmpty(t, lines, key)
			var debit, credit int64
			for _, l := range lines {
				debit += cents(t, l.Debit)
				credit += cents(t, l.Credit)
			}
			require.Equal(t, debit, credit, key)
		}
	})
}

// cents parses a numeric string with exactly two decimals into hundredths.
func cents(t *testing.T, s string) int64 {
	t.Helper()
	whole, frac, ok := strings.Cut(s, ".")
	require.True(t, ok && len(frac) == 2, "want two decimals, got %q", s)
	v, err := strconv.ParseInt(whole+frac, 10, 64)
	require.NoError(t, err)
	return v
}
