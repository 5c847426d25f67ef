package cache

import (
	"strconv"
	"strings"

	"github.com/cachewarm/cachewarm/internal/hashtag"
)

// Keys builds cache keys in the format the README documents, {module}:{entity}:{tenantId}:{name}:{value}...
//
// The zero Keys builds the plain keys that existing NestJS readers use. With HashTag set,
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

// pageSize is the page size of the paged list keys (…:page:{n}:limit:100).
const pageSize = 100

// Key builders for every key pattern of the demo datasets (sql/). Each takes a validated [Tenant]. Numbers are written
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
	return k.Join(prefix, t, "page:"+strconv.Itoa(page)+":limit:"+strconv.Itoa(pageSize))
}

func (k Keys) id(prefix string, t Tenant, name string, id int64) string {
	return k.Join(prefix, t, name+strconv.FormatInt(id, 10))
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

// lockKey returns the key of the short lock that [Wrap] takes while one process loads key. It is
// never the data key itself (NestJS readers would try to parse a lock value) and it hashes to
// the same Redis Cluster slot as key ({key}:lock, or cachewarm:lock:key for a key with a hash
// tag).
func lockKey(key string) string { return hashtag.Companion(key, "lock") }
