package cache_test

import (
	"fmt"

	"github.com/cachewarm/cachewarm/cache"
)

// The typed key builders take a validated tenant; other string segments are escaped.
func ExampleKeys() {
	t1 := cache.MustTenant("t1")
	k := cache.Keys{}
	fmt.Println(k.VendorsPage(t1, 2))
	fmt.Println(k.ExchangeRate(t1, "EUR", "USD"))
	fmt.Println(k.TrialBalance(t1, 2025, 6, "EUR"))
	fmt.Println(k.WorkCenters(t1, "F1:*"))
	fmt.Println(cache.Keys{HashTag: true}.Vendor(t1, 17))
	// Output:
	// sales:vendors:t1:page:2:limit:100
	// finance:xrate:t1:from:EUR:to:USD:date:latest
	// finance:trial_balance:t1:year:2025:month:6:currency:EUR
	// ops:workcenters:t1:facilityId:F1%3A%2A
	// sales:vendor:{t1}:vendorId:17
}

// Join builds a key of the same shape for a dataset of your own; pass outside input through
// EscapeSegment.
func ExampleKeys_Join() {
	t1 := cache.MustTenant("t1")
	fmt.Println(cache.Keys{}.Join("hr:shifts", t1, "site:"+cache.EscapeSegment("Plant 2")))
	fmt.Println(cache.Keys{HashTag: true}.Join("hr:shifts", t1, ""))
	// Output:
	// hr:shifts:t1:site:Plant%202
	// hr:shifts:{t1}
}
