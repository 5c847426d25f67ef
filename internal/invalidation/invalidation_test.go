package invalidation_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/invalidation"
)

func TestCheckRefusesBeforeAnythingIsTouched(t *testing.T) {
	cat, err := catalog.Default()
	require.NoError(t, err)
	require.NoError(t, invalidation.Request{Tenants: []string{"t001"}, Datasets: []string{"vendors"}}.Check(cat))
	require.NoError(t, invalidation.Request{AllTenants: true}.Check(cat))

	require.ErrorContains(t, invalidation.Request{}.Check(cat), "not both")
	require.ErrorContains(t, invalidation.Request{Tenants: []string{"t001"}, AllTenants: true}.Check(cat), "not both")
	require.ErrorIs(t, invalidation.Request{Tenants: []string{"t001", "a*"}}.Check(cat), cache.ErrInvalidTenant)
	err = invalidation.Request{Tenants: []string{"t001"}, Datasets: []string{"vendors", "nope"}}.Check(cat)
	require.ErrorContains(t, err, `"nope"`)
	require.ErrorContains(t, err, "known: [", "the error lists the datasets there are")
}
