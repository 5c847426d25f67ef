package coldstart

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestKeySlot(t *testing.T) {
	t.Parallel()
	// Values from Redis's CLUSTER KEYSLOT.
	require.Equal(t, 12182, keySlot("foo"))
	require.Equal(t, 5061, keySlot("bar"))
	require.Equal(t, keySlot("user1000"), keySlot("{user1000}.following"))
	for _, r := range [][2]int{{0, 5460}, {5461, 10922}, {10923, 16383}, {700, 700}} {
		s := keySlot(sentinelFor(r[0], r[1]))
		require.True(t, s >= r[0] && s <= r[1], "slot %d in %v", s, r)
	}
}
