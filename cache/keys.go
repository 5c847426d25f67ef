package cache

import (
	"strconv"
	"strings"
)

// Keys builds cache keys in the SPEC format {module}:{entity}:{tenantId}:{name}:{value}...
//
// The zero Keys builds the plain SPEC keys that existing NestJS readers use. With HashTag set,
// the tenant id is wrapped in a Redis Cluster hash tag ({tenantId}), so all of a tenant's keys
// share one slot; use it only where every reader builds keys the same way.
type Keys struct {
	// HashTag wraps the tenant id in {} so a tenant's keys share a Redis Cluster slot.
	HashTag bool
}

// Join returns prefix:tenant[:suffix], where prefix is "{module}:{entity}" and suffix the
// remaining name:value segments (empty for none).
func (k Keys) Join(prefix string, t Tenant, suffix string) string {
	var b strings.Builder
	b.Grow(len(prefix) + len(t.id) + len(suffix) + 4)
	b.WriteString(prefix)
	b.WriteByte(':')
	if k.HashTag {
		b.WriteByte('{')
		b.WriteString(t.id)
		b.WriteByte('}')
	} else {
		b.WriteString(t.id)
	}
	if suffix != "" {
		b.WriteByte(':')
		b.WriteString(suffix)
	}
	return b.String()
}

// VersionKey returns the companion key that holds the data version of key for the
// stale-overwrite guard. It always hashes to the same Redis Cluster slot as key: a plain key is
// wrapped whole in a hash tag ({key}:ver); a key that already carries a hash tag keeps it.
func VersionKey(key string) string {
	if hasHashTag(key) {
		return "cachewarm:ver:" + key
	}
	return "{" + key + "}:ver"
}

// hasHashTag reports whether key contains a non-empty {...} section, which Redis Cluster hashes
// instead of the whole key.
func hasHashTag(key string) bool {
	open := strings.IndexByte(key, '{')
	if open < 0 {
		return false
	}
	end := strings.IndexByte(key[open+1:], '}')
	return end > 0
}

// PageSize is the page size of the paged list keys (…:page:{n}:limit:100).
const PageSize = 100

// PageSuffix returns the segments after the tenant id of page n (from 1) of a paged list
// key: "page:{n}:limit:{limit}".
func PageSuffix(n, limit int) string {
	return "page:" + strconv.Itoa(n) + ":limit:" + strconv.Itoa(limit)
}

// Key builders for every SPEC §3 pattern. Each takes a validated [Tenant]. Numbers are written
// in decimal as JavaScript template strings write them. String segments (facility, user and
// currency ids, statuses) are passed through [EscapeSegment]: a value made only of
// [A-Za-z0-9_.-] (every real id, currency code and status) is used as it is, so the key equals
// the one a NestJS app builds; anything else is percent-encoded, so a segment can never add a
// ':' separator, a Redis glob character or a Cluster hash tag to a key.

// ChartOfAccounts returns finance:coa:{t}.
func (k Keys) ChartOfAccounts(t Tenant) string { return k.Join("finance:coa", t, "") }

// FinancialPeriods returns finance:periods:{t}:window:current.
func (k Keys) FinancialPeriods(t Tenant) string {
	return k.Join("finance:periods", t, "window:current")
}

// CurrentPeriod returns finance:current_period:{t}.
func (k Keys) CurrentPeriod(t Tenant) string { return k.Join("finance:current_period", t, "") }

// PipelineStages returns crm:stages:{t}.
func (k Keys) PipelineStages(t Tenant) string { return k.Join("crm:stages", t, "") }

// WorkCenters returns ops:workcenters:{t}:facilityId:{f}.
func (k Keys) WorkCenters(t Tenant, facilityID string) string {
	return k.Join("ops:workcenters", t, "facilityId:"+EscapeSegment(facilityID))
}

// ExchangeRate returns finance:xrate:{t}:from:{FROM}:to:{TO}:date:latest.
func (k Keys) ExchangeRate(t Tenant, from, to string) string {
	return k.Join("finance:xrate", t, "from:"+EscapeSegment(from)+":to:"+EscapeSegment(to)+":date:latest")
}

// VendorsPage returns sales:vendors:{t}:page:{n}:limit:100 (pages count from 1).
func (k Keys) VendorsPage(t Tenant, page int) string { return k.page("sales:vendors", t, page) }

// Vendor returns sales:vendor:{t}:vendorId:{id}.
func (k Keys) Vendor(t Tenant, id int64) string { return k.id("sales:vendor", t, "vendorId:", id) }

// CustomersPage returns sales:customers:{t}:page:{n}:limit:100 (pages count from 1).
func (k Keys) CustomersPage(t Tenant, page int) string { return k.page("sales:customers", t, page) }

// Customer returns sales:customer:{t}:customerId:{id}.
func (k Keys) Customer(t Tenant, id int64) string {
	return k.id("sales:customer", t, "customerId:", id)
}

// MaterialsPage returns sales:materials:{t}:page:{n}:limit:100 (pages count from 1).
func (k Keys) MaterialsPage(t Tenant, page int) string { return k.page("sales:materials", t, page) }

// Material returns sales:material:{t}:materialId:{id}.
func (k Keys) Material(t Tenant, id int64) string {
	return k.id("sales:material", t, "materialId:", id)
}

// InventoryLocations returns wms:locations:{t}:facilityId:{f}.
func (k Keys) InventoryLocations(t Tenant, facilityID string) string {
	return k.Join("wms:locations", t, "facilityId:"+EscapeSegment(facilityID))
}

// Kits returns sales:kits:{t} (kit definitions with their components).
func (k Keys) Kits(t Tenant) string { return k.Join("sales:kits", t, "") }

// PricingRules returns sales:pricing:{t}:effective:current.
func (k Keys) PricingRules(t Tenant) string {
	return k.Join("sales:pricing", t, "effective:current")
}

// TrialBalance returns finance:trial_balance:{t}:year:{Y}:month:{M}:currency:{C}.
func (k Keys) TrialBalance(t Tenant, year, month int, currency string) string {
	return k.Join("finance:trial_balance", t, "year:"+strconv.Itoa(year)+":month:"+strconv.Itoa(month)+
		":currency:"+EscapeSegment(currency))
}

// GLBalances returns finance:gl_balances:{t}:year:{Y}:month:{M}.
func (k Keys) GLBalances(t Tenant, year, month int) string {
	return k.Join("finance:gl_balances", t, "year:"+strconv.Itoa(year)+":month:"+strconv.Itoa(month))
}

// BinUtilization returns wms:bin_utilization:{t}:facilityId:{f}.
func (k Keys) BinUtilization(t Tenant, facilityID string) string {
	return k.Join("wms:bin_utilization", t, "facilityId:"+EscapeSegment(facilityID))
}

// EquipmentHealth returns ops:equipment_health:{t}:facilityId:{f}:status:{status}; the
// warmer fills status "active".
func (k Keys) EquipmentHealth(t Tenant, facilityID, status string) string {
	return k.Join("ops:equipment_health", t, "facilityId:"+EscapeSegment(facilityID)+":status:"+EscapeSegment(status))
}

// PipelineSummary returns crm:pipeline_summary:{t}:userId:{u}.
func (k Keys) PipelineSummary(t Tenant, userID string) string {
	return k.Join("crm:pipeline_summary", t, "userId:"+EscapeSegment(userID))
}

// InventorySummary returns wms:inv_summary:{t}:facilityId:{f}.
func (k Keys) InventorySummary(t Tenant, facilityID string) string {
	return k.Join("wms:inv_summary", t, "facilityId:"+EscapeSegment(facilityID))
}

func (k Keys) page(prefix string, t Tenant, page int) string {
	return k.Join(prefix, t, PageSuffix(page, PageSize))
}

func (k Keys) id(prefix string, t Tenant, name string, id int64) string {
	return k.Join(prefix, t, name+strconv.FormatInt(id, 10))
}

// KeyPrefixes lists the "{module}:{entity}" prefixes of every key the builders make, in SPEC
// order. A tenant's keys are exactly the keys prefix:{t} and prefix:{t}:… for these prefixes.
func KeyPrefixes() []string {
	return []string{
		"finance:coa", "finance:periods", "finance:current_period", "crm:stages", "ops:workcenters",
		"finance:xrate", "sales:vendors", "sales:vendor", "sales:customers", "sales:customer",
		"sales:materials", "sales:material", "wms:locations", "sales:kits", "sales:pricing",
		"finance:trial_balance", "finance:gl_balances", "wms:bin_utilization", "ops:equipment_health",
		"crm:pipeline_summary", "wms:inv_summary",
	}
}

// TenantPatterns returns the Redis MATCH patterns that cover tenant t's keys under prefix
// ("{module}:{entity}"): the bare key and every key with more segments. The ':' after the tenant
// id keeps t1's patterns from matching t10's keys; glob characters in prefix are escaped.
func (k Keys) TenantPatterns(prefix string, t Tenant) [2]string {
	base := GlobEscape(k.Join(prefix, t, ""))
	return [2]string{base, base + ":*"}
}

// GlobEscape escapes the Redis glob characters (* ? [ ] \) in s, so that s matches only itself
// in SCAN MATCH or KEYS.
func GlobEscape(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// EscapeSegment returns s for use as one key segment: unchanged when it is made only of
// [A-Za-z0-9_.-], else with every other byte (':' '*' '?' '[' ']' '{' '}' '%' spaces, non-ASCII…)
// written as %XX ('%' itself included, so distinct inputs give distinct segments). The empty
// string stays empty, as a JavaScript template string would leave it.
func EscapeSegment(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if !segmentByte(s[i]) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if segmentByte(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xf])
	}
	return b.String()
}

func segmentByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
}

// LockKey returns the key of the short lock that [Wrap] takes while one process loads key. It is
// never the data key itself (NestJS readers would try to parse a lock value) and it hashes to
// the same Redis Cluster slot as key.
func LockKey(key string) string {
	if hasHashTag(key) {
		return "cachewarm:lock:" + key
	}
	return "{" + key + "}:lock"
}
