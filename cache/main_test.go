package cache

import (
	"crypto/rand"
	"net"
	"strings"
	"testing"

	"github.com/cachewarm/cachewarm/internal/testenv"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// testBundle is what a cache test needs: a client on the shared test Redis and a key space of
// its own.
type testBundle struct {
	rdb    *redis.Client
	url    string
	prefix string // cwtest:<random>:
	tenant Tenant // a random tenant id, so the keys are the test's own too
}

// setup returns a client on the test Redis (closed at cleanup) and a random key space. Redis
// missing fails the test with how to start it.
func setup(t testing.TB, mod ...func(*redis.Options)) *testBundle {
	t.Helper()
	u := testenv.RedisURL(t)
	opts, err := redis.ParseURL(u)
	require.NoError(t, err)
	for _, m := range mod {
		m(opts)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	id := strings.ToLower(rand.Text()[:12])
	return &testBundle{rdb: rdb, url: u, prefix: "cwtest:" + id + ":", tenant: MustTenant("cwtest-" + id)}
}

func (b *testBundle) key(name string) string { return b.prefix + name }

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// silentAddr returns a loopback address that accepts connections and never answers (a Redis
// that hangs). Everything is closed at cleanup.
func silentAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	conns := make(chan net.Conn, 64)
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			select {
			case conns <- c:
			default:
				_ = c.Close()
			}
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		<-done
		close(conns)
		for c := range conns {
			_ = c.Close()
		}
	})
	return l.Addr().String()
}
