package cache

import (
	"testing"

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
