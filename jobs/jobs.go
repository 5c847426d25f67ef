// Package jobs defines cachewarm's River job kinds (args and workers), one file per kind.
//
// Kinds, queues, attempts and priorities are package jobcontract's, which the SQL functions
// that insert jobs are rendered from too.
package jobs

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// backoff is the delay before retry number attempt (1-based): 1 s doubling to at most 30 s,
// with up to 20% jitter so a burst of failures does not retry in lockstep.
func backoff(attempt int) time.Duration {
	d := time.Second << min(attempt-1, 5)
	d = min(d, 30*time.Second)
	return d + time.Duration(rand.Int64N(int64(d/5)+1))
}

// stopping reports whether the job's context was cancelled (the worker is shutting down hard)
// rather than timed out. Such a job returns river.JobSnooze(0): it goes back to the queue at
// once, for the next worker, without using an attempt.
func stopping(ctx context.Context) bool {
	return errors.Is(ctx.Err(), context.Canceled)
}
