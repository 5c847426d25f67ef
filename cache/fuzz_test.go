package cache_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/cachewarm/cachewarm/cache"
)

// Fuzz targets for everything that puts outside input into a key. Seeds live in
// testdata/fuzz/<target>; run one with, for example,
//
//	go test ./cache -run '^$' -fuzz '^FuzzParseTenant$' -fuzztime 10s

func validTenantID(id string) bool {
	if len(id) < 1 || len(id) > cache.MaxTenantLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// FuzzParseTenant: exactly the tenant ids the README documents ("Keys and values") are
// accepted; a refusal wraps ErrInvalidTenant; an accepted id makes keys that stay in its
// namespace.
func FuzzParseTenant(f *testing.F) {
	for _, s := range []string{"t1", "t10", "tenant_A-9", "", "t*", "t1:x", "t?", "t[1]", "{t1}", "t 1", "é", strings.Repeat("a", 64), strings.Repeat("a", 65), "t\x00", "t\\1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		tn, err := cache.ParseTenant(id)
		if want := validTenantID(id); (err == nil) != want {
			t.Fatalf("ParseTenant(%q) = %v, want accepted=%v", id, err, want)
		}
		if err != nil {
			if !errors.Is(err, cache.ErrInvalidTenant) {
				t.Fatalf("ParseTenant(%q): %v does not wrap ErrInvalidTenant", id, err)
			}
			if !tn.IsZero() {
				t.Fatalf("ParseTenant(%q) refused but returned a tenant", id)
			}
			return
		}
		if tn.String() != id {
			t.Fatalf("ParseTenant(%q).String() = %q", id, tn)
		}
		for _, k := range []cache.Keys{{}, {HashTag: true}} {
			key := k.ChartOfAccounts(tn)
			if strings.Count(key, ":") != 2 || strings.ContainsAny(key, "*?[]\\ ") {
				t.Fatalf("key %q of tenant %q escapes its segments", key, id)
			}
			for _, prefix := range []string{"finance:coa", "sales:vendor", "wms:inv_summary"} {
				base := k.Join(prefix, tn, "")
				// Another tenant's keys never fall under this one's: they would need id
				// followed by ':' to be a prefix of that tenant's id, and no id holds ':'.
				if len(id) < cache.MaxTenantLen {
					other := cache.MustTenant(id + "0")
					if strings.HasPrefix(k.Join(prefix, other, "x"), base+":") || k.Join(prefix, other, "") == base {
						t.Fatalf("keys of %q fall under those of %q", other, id)
					}
				}
			}
		}
	})
}

// FuzzEscapeSegment: the result holds no separator, glob or hash-tag character, clean
// segments are unchanged, and the escaping is reversible (distinct values, distinct keys).
func FuzzEscapeSegment(f *testing.F) {
	for _, s := range []string{"", "F1", "USD", "a.b-c_d", "a:b", "*", "?", "[x]", "{t}", "100%", "%3A", "é", "a b", "\x00\xff", "\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := cache.EscapeSegment(s)
		for i := 0; i < len(got); i++ {
			c := got[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '%') {
				t.Fatalf("EscapeSegment(%q) = %q holds %q", s, got, c)
			}
		}
		clean := !strings.ContainsFunc(s, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.')
		})
		if clean && got != s {
			t.Fatalf("EscapeSegment(%q) = %q, want it unchanged", s, got)
		}
		back, ok := unescape(got)
		if !ok || back != s {
			t.Fatalf("EscapeSegment(%q) = %q does not decode back (got %q)", s, got, back)
		}
	})
}

func unescape(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		n, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil || strings.ToUpper(s[i+1:i+3]) != s[i+1:i+3] {
			return "", false
		}
		b.WriteByte(byte(n))
		i += 2
	}
	return b.String(), true
}

// FuzzKeys: whatever the string and number arguments, every builder makes a key with the
// tenant in its place and exactly the segments of its key pattern, without glob characters;
// with HashTag the only hash tag is the tenant's.
func FuzzKeys(f *testing.F) {
	f.Add("t1", "F1", "USD", "EUR", "active", "u1", 2025, 1, int64(1))
	f.Add("t1", "F:1", "*", "[a]", "{x}", "a b", -1, 13, int64(-5))
	f.Add("T-_9", "", "%", "é", "\\", "\x00", 0, 0, int64(9223372036854775807))
	f.Fuzz(func(t *testing.T, id, facility, from, to, status, user string, year, month int, n int64) {
		tn, err := cache.ParseTenant(id)
		if err != nil {
			return
		}
		build := func(k cache.Keys, facility, from, to, status, user string, year, month int, n int64) []string {
			return []string{
				k.ChartOfAccounts(tn), k.FinancialPeriods(tn), k.CurrentPeriod(tn), k.PipelineStages(tn),
				k.WorkCenters(tn, facility), k.ExchangeRate(tn, from, to), k.VendorsPage(tn, int(n)), k.Vendor(tn, n),
				k.CustomersPage(tn, int(n)), k.Customer(tn, n), k.MaterialsPage(tn, int(n)), k.Material(tn, n),
				k.InventoryLocations(tn, facility), k.Kits(tn), k.PricingRules(tn), k.TrialBalance(tn, year, month, from),
				k.GLBalances(tn, year, month), k.BinUtilization(tn, facility), k.EquipmentHealth(tn, facility, status),
				k.PipelineSummary(tn, user), k.InventorySummary(tn, facility),
			}
		}
		for _, k := range []cache.Keys{{}, {HashTag: true}} {
			got := build(k, facility, from, to, status, user, year, month, n)
			shape := build(k, "f", "f", "f", "f", "f", 1, 1, 1)
			tenantPart := id
			if k.HashTag {
				tenantPart = "{" + id + "}"
			}
			for i, key := range got {
				if strings.Count(key, ":") != strings.Count(shape[i], ":") {
					t.Fatalf("key %q has other segments than %q", key, shape[i])
				}
				if strings.Split(key, ":")[2] != tenantPart {
					t.Fatalf("key %q does not hold tenant %q as its third segment", key, id)
				}
				if strings.ContainsAny(key, "*?[]\\ ") {
					t.Fatalf("key %q holds a glob character", key)
				}
				if braces := strings.Count(key, "{") + strings.Count(key, "}"); k.HashTag && braces != 2 || !k.HashTag && braces != 0 {
					t.Fatalf("key %q holds another hash tag than the tenant's", key)
				}
			}
		}
	})
}
