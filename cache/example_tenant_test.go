package cache_test

import (
	"errors"
	"fmt"

	"github.com/cachewarm/cachewarm/cache"
)

// ParseTenant is the only way to a Tenant, so no unchecked id reaches a key.
func ExampleParseTenant() {
	t, err := cache.ParseTenant("t001")
	fmt.Println(t, err)
	_, err = cache.ParseTenant("t1:*")
	fmt.Println(errors.Is(err, cache.ErrInvalidTenant))
	fmt.Println(err)
	// Output:
	// t001 <nil>
	// true
	// invalid tenant id: "t1:*" has character ':' at 2; only A-Z a-z 0-9 _ - are allowed
}
