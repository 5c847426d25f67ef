package coldstart

import (
	"testing"

	"github.com/cachewarm/cachewarm/internal/hashtag"
	"github.com/stretchr/testify/require"
)

func TestSentinelFor(t *testing.T) {
	t.Parallel()
	for _, r := range [][2]int{{0, 5460}, {5461, 10922}, {10923, 16383}, {700, 700}} {
		s := hashtag.Slot(sentinelFor(r[0], r[1]))
		require.True(t, s >= r[0] && s <= r[1], "slot %d in %v", s, r)
	}
}
