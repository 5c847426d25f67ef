package testenv

import (
	"fmt"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisServer is a standalone redis-server process of the test's own, on a free loopback
// port, without persistence: a restart comes back empty, as a Redis without RDB or AOF does.
type RedisServer struct {
	// Port is the loopback port the server listens on; it keeps it across restarts.
	Port int

	t    testing.TB
	args []string
	proc *exec.Cmd
	done chan struct{}
	out  *SyncBuffer
}

// NewRedisServer starts redis-server on a free loopback port with no persistence, plus extra
// arguments (for example "--maxmemory", "20mb" or "--requirepass", pw), and kills it at
// cleanup. It fails the test, saying how to install Redis, when redis-server is missing.
func NewRedisServer(t testing.TB, extra ...string) *RedisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("testenv: redis-server is not installed (tests start their own on a free port): %s", installRedis)
	}
	s := &RedisServer{t: t, Port: FreePort(t)}
	s.args = append([]string{"--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--dir", t.TempDir()}, extra...)
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// FreePort returns a loopback TCP port nobody listens on at the time of the call.
func FreePort(t testing.TB) int {
	t.Helper()
	ports, err := freePorts(1)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return ports[0]
}

// Start starts the server (again) on its port and waits until it accepts connections.
func (s *RedisServer) Start() {
	s.t.Helper()
	s.out = &SyncBuffer{}
	s.proc = exec.Command("redis-server", s.args...)
	s.proc.Stdout, s.proc.Stderr = s.out, s.out
	KillWithParent(s.proc)
	if err := s.proc.Start(); err != nil {
		s.t.Fatalf("testenv: start redis-server: %v", err)
	}
	s.done = make(chan struct{})
	done, cmd := s.done, s.proc
	go func() { _ = cmd.Wait(); close(done) }()
	WaitFor(s.t, 10*time.Second, "redis-server to accept connections", func() (bool, error) {
		select {
		case <-done:
			s.t.Fatalf("testenv: redis-server exited: %s", s.out.String())
		default:
		}
		return strings.Contains(s.out.String(), "Ready to accept connections"), nil
	})
}

// Stop kills the server at once (SIGKILL: nothing saved, clients see their connections drop)
// and waits for it to exit. Stopping a stopped server does nothing.
func (s *RedisServer) Stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.proc.Process.Kill()
	<-s.done
}

// Restart kills the server and starts it again on the same port, empty.
func (s *RedisServer) Restart() {
	s.t.Helper()
	s.Stop()
	s.Start()
}

// Output is what the server has printed since it was last started.
func (s *RedisServer) Output() string { return s.out.String() }

// Addr is the server's host:port.
func (s *RedisServer) Addr() string { return fmt.Sprintf("127.0.0.1:%d", s.Port) }

// URL is the server's redis:// URL for DB 0, with the password when it is not empty.
func (s *RedisServer) URL(password string) string {
	if password != "" {
		return fmt.Sprintf("redis://:%s@%s/0", url.PathEscape(password), s.Addr())
	}
	return fmt.Sprintf("redis://%s/0", s.Addr())
}

// Client returns a client of the server, closed at cleanup.
func (s *RedisServer) Client(password string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), Password: password})
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}
