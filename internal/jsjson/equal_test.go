package jsjson_test

import (
	"testing"

	"github.com/cachewarm/cachewarm/internal/jsjson"
)

func TestEqual(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{`{"a":1,"b":[1,2]}`, `{"b":[1,2],"a":1}`, true},
		{`{"a":1}`, `{ "a" : 1.0 }`, true},
		{`[1,2]`, `[2,1]`, false},
		{`{"a":"1"}`, `{"a":1}`, false},
		{`not json`, `not json`, true},
		{`not json`, `"not json"`, false},
	} {
		if got := jsjson.Equal([]byte(c.a), []byte(c.b)); got != c.want {
			t.Errorf("Equal(%s, %s) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}
