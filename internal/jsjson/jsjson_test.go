package jsjson

import (
	"errors"
	"testing"
)

func TestAppendString(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"plain", `"plain"`},
		{"q\"b\\s/", `"q\"b\\s/"`},
		{"\b\f\n\r\t\x01\x1f", `"\b\f\n\r\t\u0001\u001f"`},
		{"<&> é \u2028\u2029 😀", "\"<&> é \u2028\u2029 😀\""},
		{"bad\xffbyte", "\"bad\uFFFDbyte\""},
	} {
		if got := string(AppendString([]byte("x"), []byte(tt.in))); got != "x"+tt.want {
			t.Errorf("AppendString(%q) = %s, want x%s", tt.in, got, tt.want)
		}
	}
}

// TestStringifyEscapesAsAppendString: a string the rewriter decodes from escapes is written back
// with the same escapes AppendString uses.
func TestStringifyEscapesAsAppendString(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{`"\u0041\/\u003c\u2028"`, "\"A/<\u2028\""},
		{`"\u0001\u0008\u000c"`, `"\u0001\b\f"`},
		{`"\ud83d\ude00\ud800"`, `"😀\ud800"`},
		{`{"b":1,"2":[1.50,-0,1e21]}`, `{"2":[1.5,0,1e+21],"b":1}`},
	} {
		got, err := Append(nil, []byte(tt.in), Stringify)
		if err != nil || string(got) != tt.want {
			t.Errorf("Append(%s) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
	_, err := Append(nil, []byte(`[1,]`), Stringify)
	var se *SyntaxError
	if !errors.As(err, &se) || se.Offset != 3 {
		t.Errorf("Append([1,]) error %v, want a SyntaxError at 3", err)
	}
}
