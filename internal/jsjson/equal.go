package jsjson

import (
	"bytes"
	"encoding/json"
	"reflect"
)

// Equal reports whether a and b are JSON texts of the same value, member order and spacing
// aside (numbers compared as float64, as JavaScript reads them). Text that is not JSON is
// equal only to identical text.
func Equal(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
