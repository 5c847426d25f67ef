package keyv_test

import (
	"fmt"
	"time"

	"github.com/cachewarm/cachewarm/internal/keyv"
)

// Encode writes the envelope that cache-manager 6/7 with @keyv/redis reads; Decode reads it.
func ExampleEncode() {
	stored, err := keyv.Encode(nil, []byte(`{"name":":colon","rate":"1.0825"}`), time.UnixMilli(1767225600000))
	if err != nil {
		panic(err)
	}
	fmt.Println(string(stored))
	value, err := keyv.Decode([]byte(`{"value":{"name":"::colon"}}`))
	if err != nil {
		panic(err)
	}
	fmt.Println(string(value))
	// Output:
	// {"value":{"name":"::colon","rate":"1.0825"},"expires":1767225600000}
	// {"name":":colon"}
}
