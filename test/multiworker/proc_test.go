package multiworker_test

import (
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/internal/testenv"
)

// run runs a one-shot cachewarm command and returns its output; the command must succeed.
func run(t testing.TB, env map[string]string, args ...string) string {
	t.Helper()
	return testenv.RunProc(t, binary, env, 2*time.Minute, args...)
}

// startWorkers starts one `cachewarm worker` process per environment, all at once, and
// waits until each has started River and serves HTTP.
func startWorkers(t testing.TB, envs ...map[string]string) []*testenv.WorkerProc {
	t.Helper()
	return testenv.StartWorkerProcs(t, "worker", binary, envs...)
}

// waitFor is testenv.WaitFor.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	testenv.WaitFor(t, timeout, what, cond)
}
