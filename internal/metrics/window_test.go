package metrics

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestErrorRateForgetsOldFailures(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	w := rateWindow{now: func() time.Time { return now }}
	require.Zero(t, w.rate())

	w.add(0, 9) // an outage
	w.add(1, 0)
	require.InDelta(t, 90, w.rate(), 0.01)

	now = now.Add(ErrorWindow / 2)
	w.add(10, 0) // recovered
	require.InDelta(t, 45, w.rate(), 0.01)

	now = now.Add(ErrorWindow/2 + bucketWidth)
	require.Zero(t, w.rate(), "the outage's failures left the window")

	now = now.Add(10 * ErrorWindow)
	w.add(3, 1)
	require.InDelta(t, 25, w.rate(), 0.01, "a bucket reused after a long idle time starts from zero")
}
