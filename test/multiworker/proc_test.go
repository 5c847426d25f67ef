package multiworker_test

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/internal/testenv"
	"github.com/stretchr/testify/require"
)

// proc is a cachewarm child process with its output kept.
type proc struct {
	t      testing.TB
	name   string
	cmd    *exec.Cmd
	out    *testenv.SyncBuffer
	exited chan struct{}
	err    error // Wait's result, once exited is closed
}

// start runs the binary with args and exactly env (only PATH is inherited, so no REDIS_* or
// DATABASE_URL of the caller leaks in). Its output goes to the test log if the test fails; it
// is killed at cleanup if still running.
func start(t testing.TB, name string, env map[string]string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	testenv.KillWithParent(cmd)
	p := &proc{t: t, name: name, cmd: cmd, out: &testenv.SyncBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	require.NoError(t, cmd.Start(), "start %s", name)
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		if !p.done() {
			_ = cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("---- output of %s (%s) ----\n%s", name, strings.Join(args, " "), tail(p.out.String(), 80))
		}
	})
	return p
}

func (p *proc) done() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// wait waits for the process to exit and returns its output and exit error.
func (p *proc) wait(timeout time.Duration) (string, error) {
	p.t.Helper()
	select {
	case <-p.exited:
		return p.out.String(), p.err
	case <-time.After(timeout):
		p.t.Fatalf("%s did not exit within %s", p.name, timeout)
		return "", nil
	}
}

// terminate sends SIGTERM (a graceful stop) and requires a clean exit within timeout.
func (p *proc) terminate(timeout time.Duration) string {
	p.t.Helper()
	require.NoError(p.t, p.cmd.Process.Signal(syscall.SIGTERM))
	out, err := p.wait(timeout)
	require.NoError(p.t, err, "%s exits cleanly on SIGTERM", p.name)
	return out
}

// run runs a one-shot cachewarm command and returns its output; the command must succeed.
func run(t testing.TB, env map[string]string, args ...string) string {
	t.Helper()
	out, err := start(t, "cachewarm "+args[0], env, args...).wait(2 * time.Minute)
	require.NoError(t, err, "cachewarm %s:\n%s", strings.Join(args, " "), out)
	return out
}

// worker is a running `cachewarm worker` process.
type worker struct {
	*proc
	// id is its River client id (attempted_by, river_leader.leader_id).
	id string
	// base is its HTTP server's URL.
	base string
}

var (
	listeningRE = regexp.MustCompile(`msg="http listening" addr=(\S+)`)
	startedRE   = regexp.MustCompile(`msg="worker started" river_client=(\S+)`)
)

// startWorkers starts one `cachewarm worker` process per environment, all at once, and
// waits until each has started River and serves HTTP.
func startWorkers(t testing.TB, envs ...map[string]string) []*worker {
	t.Helper()
	ws := make([]*worker, len(envs))
	for i := range ws {
		ws[i] = &worker{proc: start(t, fmt.Sprintf("worker%d", i+1), envs[i], "worker")}
	}
	for _, w := range ws {
		waitFor(t, 30*time.Second, w.name+" started", func() (bool, error) {
			if w.done() {
				return false, fmt.Errorf("%s exited: %v\n%s", w.name, w.err, w.out.String())
			}
			out := w.out.String()
			l, s := listeningRE.FindStringSubmatch(out), startedRE.FindStringSubmatch(out)
			if l == nil || s == nil {
				return false, nil
			}
			w.base, w.id = "http://"+l[1], s[1]
			return true, nil
		})
	}
	return ws
}

// get fetches path from the worker's HTTP server and returns the status and body.
func (w *worker) get(t testing.TB, path string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(w.base + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

// waitFor polls cond every 20 ms until it holds, fails or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		require.NoError(t, err, what)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for: %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func tail(s string, lines int) string {
	parts := strings.Split(s, "\n")
	if len(parts) > lines {
		parts = append([]string{fmt.Sprintf("... (%d lines before)", len(parts)-lines)}, parts[len(parts)-lines:]...)
	}
	return strings.Join(parts, "\n")
}
