package metrics

import (
	"sync"
	"time"
)

// ErrorWindow is how far back [Metrics.ErrorRate] looks: long enough to smooth out a single
// failed warm, short enough that a worker reports healthy again about a minute after an
// outage of Redis or PostgreSQL ends.
const ErrorWindow = time.Minute

const (
	windowBuckets = 12
	bucketWidth   = ErrorWindow / windowBuckets
)

// rateWindow counts successes and failures in the last ErrorWindow, in buckets of
// bucketWidth. Its zero value is ready; it is safe for concurrent use.
type rateWindow struct {
	mu      sync.Mutex
	now     func() time.Time // nil: time.Now
	buckets [windowBuckets]struct {
		slot       int64 // time / bucketWidth of the counts held
		ok, failed uint64
	}
}

func (w *rateWindow) slot() int64 {
	now := time.Now
	if w.now != nil {
		now = w.now
	}
	return now().UnixNano() / int64(bucketWidth)
}

func (w *rateWindow) add(ok, failed uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.slot()
	b := &w.buckets[s%windowBuckets]
	if b.slot != s {
		b.slot, b.ok, b.failed = s, 0, 0
	}
	b.ok += ok
	b.failed += failed
}

// rate is the percentage of failures among the counts of the last ErrorWindow.
func (w *rateWindow) rate() float64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.slot()
	var ok, failed uint64
	for _, b := range w.buckets {
		if b.slot > s-windowBuckets && b.slot <= s {
			ok += b.ok
			failed += b.failed
		}
	}
	if ok+failed == 0 {
		return 0
	}
	return 100 * float64(failed) / float64(ok+failed)
}
