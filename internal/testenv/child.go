package testenv

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
)

// Proc is a child process of a test (a cachewarm command, usually) with its output kept. The
// fault, multi-worker and other process-level suites share it.
type Proc struct {
	// Name names the process in failure messages.
	Name string
	// Cmd is the running command.
	Cmd *exec.Cmd
	// Out holds everything it wrote to stdout and stderr.
	Out *SyncBuffer

	t        testing.TB
	exited   chan struct{}
	err      error     // the Wait result, once exited is closed
	exitedAt time.Time // when Wait returned
}

// StartProc runs bin with args and exactly env (only PATH is inherited, so no REDIS_* or
// DATABASE_URL of the caller leaks in). The process dies with the test binary; it is killed at
// cleanup if still running, and its output goes to the test log if the test failed or
// CACHEWARM_TEST_LOGS is set.
func StartProc(t testing.TB, name, bin string, env map[string]string, args ...string) *Proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	KillWithParent(cmd)
	p := &Proc{Name: name, Cmd: cmd, Out: &SyncBuffer{}, t: t, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.Out, p.Out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		p.exitedAt = time.Now()
		close(p.exited)
	}()
	t.Cleanup(func() {
		if !p.Done() {
			_ = cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() || os.Getenv("CACHEWARM_TEST_LOGS") != "" {
			t.Logf("---- output of %s (%s) ----\n%s", name, strings.Join(args, " "), Tail(p.Out.String(), 150))
		}
	})
	return p
}

// RunProc runs a one-shot command to its end (within timeout) and returns its output; it
// fails the test if the command fails.
func RunProc(t testing.TB, bin string, env map[string]string, timeout time.Duration, args ...string) string {
	t.Helper()
	out, err := StartProc(t, "cachewarm "+args[0], bin, env, args...).Wait(timeout)
	if err != nil {
		t.Fatalf("cachewarm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// Done reports whether the process has exited.
func (p *Proc) Done() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// Err is the process's exit error, once it is Done.
func (p *Proc) Err() error {
	if !p.Done() {
		return nil
	}
	return p.err
}

// ExitedAt is when the process exited (zero while it runs).
func (p *Proc) ExitedAt() time.Time {
	if !p.Done() {
		return time.Time{}
	}
	return p.exitedAt
}

// Wait waits for the process to exit and returns its output and exit error; it fails the
// test if that takes longer than timeout.
func (p *Proc) Wait(timeout time.Duration) (string, error) {
	p.t.Helper()
	select {
	case <-p.exited:
		return p.Out.String(), p.err
	case <-time.After(timeout):
		p.t.Fatalf("%s did not exit within %s", p.Name, timeout)
		return "", nil
	}
}

// Kill sends SIGKILL and waits for the process to die.
func (p *Proc) Kill() {
	p.t.Helper()
	if err := p.Cmd.Process.Signal(syscall.SIGKILL); err != nil && !p.Done() {
		p.t.Fatalf("kill %s: %v", p.Name, err)
	}
	<-p.exited
}

// Terminate sends SIGTERM (a graceful stop), requires a clean exit within timeout and returns
// the output.
func (p *Proc) Terminate(timeout time.Duration) string {
	p.t.Helper()
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatalf("SIGTERM %s: %v", p.Name, err)
	}
	out, err := p.Wait(timeout)
	if err != nil {
		p.t.Fatalf("%s did not exit cleanly on SIGTERM: %v\n%s", p.Name, err, Tail(out, 30))
	}
	return out
}

// WorkerProc is a running `cachewarm worker` child process.
type WorkerProc struct {
	*Proc
	// ID is its River client id (attempted_by, river_leader.leader_id).
	ID string
	// Base is its HTTP server's URL, http://127.0.0.1:port.
	Base string
}

var (
	listeningRE = regexp.MustCompile(`msg="http listening" addr=(\S+)`)
	startedRE   = regexp.MustCompile(`msg="worker started" river_client=(\S+)`)
)

// StartWorkerProcs starts `bin worker` once per environment, all at once, and waits until
// each has started River and serves HTTP (its environment needs HTTP_ADDR and a log level
// of info or lower). Process i is named name-(i+1), or name alone when there is one.
func StartWorkerProcs(t testing.TB, name, bin string, envs ...map[string]string) []*WorkerProc {
	t.Helper()
	ws := make([]*WorkerProc, len(envs))
	for i := range ws {
		n := name
		if len(envs) > 1 {
			n = fmt.Sprintf("%s-%d", name, i+1)
		}
		ws[i] = &WorkerProc{Proc: StartProc(t, n, bin, envs[i], "worker")}
	}
	for _, w := range ws {
		WaitFor(t, time.Minute, w.Name+" started", func() (bool, error) {
			if w.Done() {
				t.Fatalf("%s exited: %v\n%s", w.Name, w.Err(), w.Out.String())
			}
			out := w.Out.String()
			l, s := listeningRE.FindStringSubmatch(out), startedRE.FindStringSubmatch(out)
			if l == nil || s == nil {
				return false, nil
			}
			w.Base, w.ID = "http://"+l[1], s[1]
			return true, nil
		})
	}
	return ws
}

// Stop sends SIGTERM and requires a clean exit within a minute.
func (w *WorkerProc) Stop(t testing.TB) {
	t.Helper()
	w.Terminate(time.Minute)
}

// Get fetches path from the worker's HTTP server and returns the status and body.
func (w *WorkerProc) Get(t testing.TB, path string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 30 * time.Second}
	defer c.CloseIdleConnections()
	resp, err := c.Get(w.Base + path)
	if err != nil {
		t.Fatalf("GET %s from %s: %v", path, w.Name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s from %s: %v", path, w.Name, err)
	}
	return resp.StatusCode, string(body)
}

// WaitFor polls cond every 20 ms until it holds and returns how long that took; after
// timeout it fails the test with what and cond's last error (an error does not stop the
// polling: it says why the condition does not hold yet).
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, error)) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		ok, err := cond()
		if ok {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("timed out after %s waiting for %s (last error: %v)", timeout, what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Tail returns the last lines of s, saying how many came before.
func Tail(s string, lines int) string {
	parts := strings.Split(s, "\n")
	if len(parts) > lines {
		parts = append([]string{fmt.Sprintf("... (%d lines before)", len(parts)-lines)}, parts[len(parts)-lines:]...)
	}
	return strings.Join(parts, "\n")
}
