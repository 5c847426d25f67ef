package cache

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseFormat(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Format{"": FormatJSON, "json": FormatJSON, "keyv": FormatKeyv} {
		f, err := ParseFormat(in)
		require.NoError(t, err)
		require.Equal(t, want, f)
	}
	_, err := ParseFormat("msgpack")
	require.Error(t, err)
	require.Equal(t, "keyv", FormatKeyv.String())
	require.Equal(t, "json", FormatJSON.String())
}

// The expected texts below are what @keyv/serialize 1.1.1 (the version @keyv/redis 5 uses)
// writes; TestNestJSCompat checks a larger corpus against Node itself.
func TestKeyvEncode(t *testing.T) {
	t.Parallel()
	exp := time.UnixMilli(1700000000000)
	tests := []struct{ name, raw, want string }{
		{"number", `42`, `{"value":42,"expires":1700000000000}`},
		{"colon string", `":x"`, `{"value":"::x","expires":1700000000000}`},
		{"double colon", `"::x"`, `{"value":":::x","expires":1700000000000}`},
		{"base64-looking string", `":base64:AAEC"`, `{"value":"::base64:AAEC","expires":1700000000000}`},
		{"names keep their colon", `{":k":":v","a":"b:c"}`, `{"value":{":k":"::v","a":"b:c"},"expires":1700000000000}`},
		{"member order kept", `{"z":1,"a":2,"m":null}`, `{"value":{"z":1,"a":2,"m":null},"expires":1700000000000}`},
		{"index names first", `{"b":1,"2":2,"a":3,"1":4,"01":5}`, `{"value":{"1":4,"2":2,"b":1,"a":3,"01":5},"expires":1700000000000}`},
		{"duplicate keeps first place, last value", `{"a":1,"b":2,"a":3}`, `{"value":{"a":3,"b":2},"expires":1700000000000}`},
		{"escaped duplicate", `{"\u0061":1,"a":2}`, `{"value":{"a":2},"expires":1700000000000}`},
		{"spaces and numbers", " [ 1.50 , -0 , 1e21 , 1E-7 , 0.000001 ] ", `{"value":[1.5,0,1e+21,1e-7,0.000001],"expires":1700000000000}`},
		{"big integer", `12345678901234567890`, `{"value":12345678901234567000,"expires":1700000000000}`},
		{"overflow", `1e400`, `{"value":null,"expires":1700000000000}`},
		{"escapes", `"\u003a\/\u0041<>&\u2028\u001F\ud83d\ude00\ud800"`, "{\"value\":\"::/A<>&\u2028\\u001f😀\\ud800\",\"expires\":1700000000000}"},
		{"nested", `[{"a":[":x",{"b":":y"}]}]`, `{"value":[{"a":["::x",{"b":"::y"}]}],"expires":1700000000000}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := FormatKeyv.Encode([]byte("prefix|"), []byte(tt.raw), exp)
			require.NoError(t, err)
			require.Equal(t, "prefix|"+tt.want, string(got))
		})
	}
}

func TestKeyvEncodeNoExpiry(t *testing.T) {
	t.Parallel()
	got, err := FormatKeyv.Encode(nil, []byte(`1`), time.Time{})
	require.NoError(t, err)
	require.Equal(t, `{"value":1}`, string(got), "keyv leaves expires out for a value without TTL")
}

func TestEncodeErrors(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{``, `{`, `[1,]`, `{"a"}`, `{"a":1,}`, `01`, `1.`, `-`, `"a`, "\"\x01\"", `"\x"`, `"\u12"`, `tru`, `1 2`, `{1:2}`} {
		dst := []byte("keep")
		got, err := FormatKeyv.Encode(dst, []byte(raw), time.Now())
		require.Error(t, err, "%q", raw)
		require.Equal(t, "keep", string(got), "dst is returned unchanged on error")
	}
}

func TestJSONFormatIsPlain(t *testing.T) {
	t.Parallel()
	raw := []byte(`{"a":":b"}`)
	got, err := FormatJSON.Encode([]byte("x"), raw, time.Now())
	require.NoError(t, err)
	require.Equal(t, `x{"a":":b"}`, string(got))
	dec, err := FormatJSON.Decode(raw)
	require.NoError(t, err)
	require.Equal(t, raw, dec)
}

func TestKeyvDecode(t *testing.T) {
	t.Parallel()
	now := time.UnixMilli(1700000000000)
	tests := []struct{ name, stored, want string }{
		{"plain", `{"value":{"a":1},"expires":1800000000000}`, `{"a":1}`},
		{"no expiry", `{"value":[1,2]}`, `[1,2]`},
		{"colon", `{"value":["::x",":y","z::"],"expires":1800000000000}`, `[":x","y","z::"]`},
		{"buffer", `{"value":{"b":":base64:AAEC"}}`, `{"b":"AAEC"}`},
		{"escaped base64 text", `{"value":"::base64:AAEC"}`, `":base64:AAEC"`},
		{"names untouched", `{"value":{":k":"v"}}`, `{":k":"v"}`},
		{"expires first", `{"expires":1800000000000,"value":"::a"}`, `":a"`},
		{"spaces", ` { "value" : [ ":a" ] } `, `[ "a" ]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeKeyv([]byte(tt.stored), now)
			require.NoError(t, err)
			require.JSONEq(t, tt.want, string(got))
		})
	}
	var b []byte
	_, err := decodeKeyv([]byte(`{"value":1,"expires":1600000000000}`), now)
	require.ErrorIs(t, err, ErrExpired)
	for _, bad := range []string{`[1]`, `{"expires":1}`, `{}`, `"x"`, `{"value":1`, `{"value":1}x`} {
		_, err = decodeKeyv([]byte(bad), now)
		require.Error(t, err, bad)
		require.False(t, errors.Is(err, ErrExpired))
	}
	// A Buffer decodes into []byte.
	got, err := decodeKeyv([]byte(`{"value":":base64:AAEC"}`), now)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(got, &b))
	require.Equal(t, []byte{0, 1, 2}, b)
}

func TestKeyvEncodeAllocations(t *testing.T) {
	raw := []byte(`[{"id":"1","code":"1000","name":"Cash","balance":"12.50","active":true,"parent":null},{"id":"2","code":"1100","name":"Bank","balance":"0","active":false,"parent":"1"}]`)
	dst := make([]byte, 0, 1024)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := FormatKeyv.Encode(dst[:0], raw, time.UnixMilli(1)); err != nil {
			t.Fatal(err)
		}
	})
	require.LessOrEqual(t, allocs, 1.0, "keyv encoding of ordinary rows stays allocation-light")
	allocs = testing.AllocsPerRun(100, func() {
		if _, err := FormatJSON.Encode(dst[:0], raw, time.UnixMilli(1)); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs)
	stored, err := FormatKeyv.Encode(nil, raw, time.UnixMilli(1<<50))
	require.NoError(t, err)
	allocs = testing.AllocsPerRun(100, func() {
		if _, err := FormatKeyv.Decode(stored); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs, "decoding a value without ':' strings returns a sub-slice")
}

func TestMarshalValueMatchesJSONStringify(t *testing.T) {
	t.Parallel()
	type row struct {
		S string  `json:"s"`
		F float64 `json:"f"`
	}
	got, err := marshalValue(row{S: "<&>\u2028\u2029\x01\"\\", F: 1e21})
	require.NoError(t, err)
	require.Equal(t, "{\"s\":\"<&>\u2028\u2029\\u0001\\\"\\\\\",\"f\":1e+21}", string(got))
	got, err = marshalValue([]int(nil))
	require.NoError(t, err)
	require.Equal(t, "[]", string(got))
	got, err = marshalValue(map[string]int(nil))
	require.NoError(t, err)
	require.Equal(t, "null", string(got))
	_, err = marshalValue(func() {})
	require.Error(t, err)
}

func FuzzKeyvRoundTrip(f *testing.F) {
	for _, s := range keyvCorpus()[:40] {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		var v any
		valid := json.Unmarshal([]byte(raw), &v) == nil
		enc, err := FormatKeyv.Encode(nil, []byte(raw), time.UnixMilli(1<<50))
		if err != nil {
			return // Go and JavaScript differ on invalid UTF-8 or rejected input; no panic is the point
		}
		if !valid {
			return
		}
		dec, err := FormatKeyv.Decode(enc)
		require.NoError(t, err)
		var back any
		require.NoError(t, json.Unmarshal(dec, &back), "%s", dec)
	})
}
