package keyv

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

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
			got, err := Encode([]byte("prefix|"), []byte(tt.raw), exp)
			require.NoError(t, err)
			require.Equal(t, "prefix|"+tt.want, string(got))
		})
	}
}

func TestKeyvEncodeNoExpiry(t *testing.T) {
	t.Parallel()
	got, err := Encode(nil, []byte(`1`), time.Time{})
	require.NoError(t, err)
	require.Equal(t, `{"value":1}`, string(got), "keyv leaves expires out for a value without TTL")
}

func TestEncodeErrors(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{``, `{`, `[1,]`, `{"a"}`, `{"a":1,}`, `01`, `1.`, `-`, `"a`, "\"\x01\"", `"\x"`, `"\u12"`, `tru`, `1 2`, `{1:2}`} {
		dst := []byte("keep")
		got, err := Encode(dst, []byte(raw), time.Now())
		require.Error(t, err, "%q", raw)
		require.Equal(t, "keep", string(got), "dst is returned unchanged on error")
	}
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
			got, err := DecodeAt([]byte(tt.stored), now)
			require.NoError(t, err)
			require.JSONEq(t, tt.want, string(got))
		})
	}
	var b []byte
	_, err := DecodeAt([]byte(`{"value":1,"expires":1600000000000}`), now)
	require.ErrorIs(t, err, ErrExpired)
	for _, bad := range []string{`[1]`, `{"expires":1}`, `{}`, `"x"`, `{"value":1`, `{"value":1}x`} {
		_, err = DecodeAt([]byte(bad), now)
		require.Error(t, err, bad)
		require.False(t, errors.Is(err, ErrExpired))
	}
	// A Buffer decodes into []byte.
	got, err := DecodeAt([]byte(`{"value":":base64:AAEC"}`), now)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(got, &b))
	require.Equal(t, []byte{0, 1, 2}, b)
}

func TestKeyvEncodeAllocations(t *testing.T) {
	raw := []byte(`[{"id":"1","code":"1000","name":"Cash","balance":"12.50","active":true,"parent":null},{"id":"2","code":"1100","name":"Bank","balance":"0","active":false,"parent":"1"}]`)
	dst := make([]byte, 0, 1024)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := Encode(dst[:0], raw, time.UnixMilli(1)); err != nil {
			t.Fatal(err)
		}
	})
	require.LessOrEqual(t, allocs, 1.0, "keyv encoding of ordinary rows stays allocation-light")
	stored, err := Encode(nil, raw, time.UnixMilli(1<<50))
	require.NoError(t, err)
	allocs = testing.AllocsPerRun(100, func() {
		if _, err := Decode(stored); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs, "decoding a value without ':' strings returns a sub-slice")
}

func FuzzKeyvRoundTrip(f *testing.F) {
	for _, s := range []string{`1`, `":x"`, `{":k":":v","a":"b:c"}`, `{"b":1,"2":2,"a":3,"1":4}`, `[1.50,-0,1e21,1E-7]`, `"\u003a\ud83d\ude00\ud800"`, `[{"a":[":x",{"b":"::y"}]}]`, `":base64:AAEC"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		var v any
		valid := json.Unmarshal([]byte(raw), &v) == nil
		enc, err := Encode(nil, []byte(raw), time.UnixMilli(1<<50))
		if err != nil {
			return // Go and JavaScript differ on invalid UTF-8 or rejected input; no panic is the point
		}
		if !valid {
			return
		}
		dec, err := Decode(enc)
		require.NoError(t, err)
		var back any
		require.NoError(t, json.Unmarshal(dec, &back), "%s", dec)
	})
}

// benchRaw is a chart of accounts row list as the warmer writes it.
var benchRaw = []byte(`[{"id":"1","tenantId":"t001","code":"1000","name":"Cash","accountType":"asset","normalBalance":"debit","parentCode":null,"level":1,"isPostable":true,"currency":"USD","isActive":true,"description":"Cash on hand","createdAt":"2025-01-02T03:04:05.000Z","updatedAt":"2025-01-02T03:04:05.000Z"},{"id":"2","tenantId":"t001","code":"1100","name":"Bank","accountType":"asset","normalBalance":"debit","parentCode":"1000","level":2,"isPostable":true,"currency":"USD","isActive":true,"description":null,"createdAt":"2025-01-02T03:04:05.000Z","updatedAt":"2025-01-02T03:04:05.000Z"}]`)

func BenchmarkEncode(b *testing.B) {
	dst := make([]byte, 0, 2*len(benchRaw))
	exp := time.Now()
	b.SetBytes(int64(len(benchRaw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(dst[:0], benchRaw, exp); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	stored, err := Encode(nil, benchRaw, time.Now().Add(time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchRaw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(stored); err != nil {
			b.Fatal(err)
		}
	}
}
