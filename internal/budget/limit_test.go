package budget_test

import (
	"testing"

	"github.com/cachewarm/cachewarm/internal/budget"
	"github.com/stretchr/testify/require"
)

func TestParseLimit(t *testing.T) {
	for in, want := range map[string]budget.Limit{
		"536870912": {Bytes: 536870912},
		"512mb":     {Bytes: 512 << 20},
		"512MiB":    {Bytes: 512 << 20},
		"512MB":     {Bytes: 512 << 20},
		"1gb":       {Bytes: 1 << 30},
		"1 GiB":     {Bytes: 1 << 30},
		"64k":       {Bytes: 64 << 10},
		"80%":       {Percent: 80},
		"12.5%":     {Percent: 12.5},
		"100%":      {Percent: 100},
		"":          {Percent: 80},
	} {
		got, err := budget.ParseLimit(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"0", "-1", "0%", "101%", "abc", "12xb", "mb", "1.5gb", "nan%", "99999999999999gb"} {
		_, err := budget.ParseLimit(bad)
		require.Error(t, err, bad)
	}
}

func TestLimitOf(t *testing.T) {
	require.Equal(t, int64(0), budget.Limit{Percent: 80}.Of(0), "no maxmemory: no limit")
	require.Equal(t, int64(0), budget.Limit{Bytes: 100}.Of(0), "no maxmemory: no limit")
	require.Equal(t, int64(80), budget.Limit{Percent: 80}.Of(100))
	require.Equal(t, int64(50), budget.Limit{Bytes: 50}.Of(100))
	require.Equal(t, int64(100), budget.Limit{Bytes: 500}.Of(100), "capped at maxmemory")
	require.Equal(t, "80%", budget.Limit{Percent: 80}.String())
	require.Equal(t, "1024", budget.Limit{Bytes: 1024}.String())
}
