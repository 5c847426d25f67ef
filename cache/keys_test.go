package cache

import (
	"testing"

	"github.com/cachewarm/cachewarm/internal/hashtag"
	"github.com/stretchr/testify/require"
)

func TestKeyBuilders(t *testing.T) {
	t.Parallel()
	k := Keys{}
	tn := MustTenant("t1")
	tests := []struct{ got, want string }{
		{k.ChartOfAccounts(tn), "finance:coa:t1"},
		{k.FinancialPeriods(tn), "finance:periods:t1:window:current"},
		{k.CurrentPeriod(tn), "finance:current_period:t1"},
		{k.PipelineStages(tn), "crm:stages:t1"},
		{k.WorkCenters(tn, "F1"), "ops:workcenters:t1:facilityId:F1"},
		{k.ExchangeRate(tn, "EUR", "USD"), "finance:xrate:t1:from:EUR:to:USD:date:latest"},
		{k.VendorsPage(tn, 3), "sales:vendors:t1:page:3:limit:100"},
		{k.Vendor(tn, 42), "sales:vendor:t1:vendorId:42"},
		{k.CustomersPage(tn, 1), "sales:customers:t1:page:1:limit:100"},
		{k.Customer(tn, 7), "sales:customer:t1:customerId:7"},
		{k.MaterialsPage(tn, 10), "sales:materials:t1:page:10:limit:100"},
		{k.Material(tn, 9), "sales:material:t1:materialId:9"},
		{k.InventoryLocations(tn, "2"), "wms:locations:t1:facilityId:2"},
		{k.Kits(tn), "sales:kits:t1"},
		{k.PricingRules(tn), "sales:pricing:t1:effective:current"},
		{k.TrialBalance(tn, 2025, 3, "EUR"), "finance:trial_balance:t1:year:2025:month:3:currency:EUR"},
		{k.GLBalances(tn, 2025, 12), "finance:gl_balances:t1:year:2025:month:12"},
		{k.BinUtilization(tn, "F-2"), "wms:bin_utilization:t1:facilityId:F-2"},
		{k.EquipmentHealth(tn, "F1", "active"), "ops:equipment_health:t1:facilityId:F1:status:active"},
		{k.PipelineSummary(tn, "u_9"), "crm:pipeline_summary:t1:userId:u_9"},
		{k.InventorySummary(tn, "F1"), "wms:inv_summary:t1:facilityId:F1"},
		{Keys{HashTag: true}.Vendor(tn, 1), "sales:vendor:{t1}:vendorId:1"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, tt.got)
	}
}

func TestEscapeSegment(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"EUR", "EUR"},
		{"active", "active"},
		{"a.b_c-D9", "a.b_c-D9"},
		{"", ""},
		{"US:D", "US%3AD"},
		{"*", "%2A"},
		{"a?[b]\\", "a%3F%5Bb%5D%5C"},
		{"{t2}", "%7Bt2%7D"},
		{"50%", "50%25"},
		{"a b", "a%20b"},
		{"é", "%C3%A9"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, EscapeSegment(tt.in))
	}
	key := Keys{}.ExchangeRate(MustTenant("t1"), "EUR:to:XXX", "*")
	require.Equal(t, "finance:xrate:t1:from:EUR%3Ato%3AXXX:to:%2A:date:latest", key, "a segment cannot add separators or globs")
	require.False(t, hashtag.Has(Keys{}.WorkCenters(MustTenant("t1"), "{x}")), "nor a cluster hash tag")
}

func TestLockKeySharesSlot(t *testing.T) {
	t.Parallel()
	require.Equal(t, "{finance:coa:t1}:lock", lockKey("finance:coa:t1"))
	require.Equal(t, "cachewarm:lock:sales:vendor:{t1}:vendorId:1", lockKey("sales:vendor:{t1}:vendorId:1"))
	require.NotEqual(t, "finance:coa:t1", lockKey("finance:coa:t1"), "never the data key")
}
