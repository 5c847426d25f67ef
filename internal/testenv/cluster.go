package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ClusterMasters is how many masters [StartCluster] starts.
const ClusterMasters = 3

const installRedis = "install it with: apt-get install redis-server (the tests start their own Redis Cluster " +
	"from the local redis-server and redis-cli binaries, on free loopback ports)"

// Cluster is a Redis Cluster of [ClusterMasters] masters (no replicas) started from the local
// redis-server binary on free loopback ports, each node in a directory of its own. It is
// empty when started and belongs to whoever started it: tests may use its whole keyspace.
type Cluster struct {
	// Addrs are the masters' host:port addresses.
	Addrs []string

	nodes []*clusterNode
	once  sync.Once
	err   error
}

type clusterNode struct {
	addr    string
	busPort int
	dir     string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
}

// AddrList returns the masters' addresses comma-separated, as REDIS_CLUSTER_ADDRS wants them.
func (c *Cluster) AddrList() string { return strings.Join(c.Addrs, ",") }

// NewCluster starts a Redis Cluster for the test (see [StartCluster]) in a temporary
// directory and stops it at cleanup. It fails the test, saying how to install Redis, if
// redis-server or redis-cli is missing.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := StartCluster(ctx, t.TempDir())
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("testenv: %v", err)
		}
	})
	return c
}

// NewClusterClient returns a cluster client on c, closed at cleanup.
func NewClusterClient(t testing.TB, c *Cluster) *redis.ClusterClient {
	t.Helper()
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// StartCluster starts the masters' redis-server processes in subdirectories of dir (config
// file and log; no RDB or AOF is written), joins them with
// redis-cli --cluster create, and waits until every node reports cluster_state:ok and knows
// every other. A port taken between choosing it and binding it is retried with another. The
// processes die with the calling process (Linux) or at [Cluster.Close].
func StartCluster(ctx context.Context, dir string) (*Cluster, error) {
	server, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis cluster: no redis-server binary: %v; %s", err, installRedis)
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		return nil, fmt.Errorf("redis cluster: no redis-cli binary: %v; %s", err, installRedis)
	}
	c := &Cluster{}
	for i := range ClusterMasters {
		n, err := startNode(ctx, server, filepath.Join(dir, fmt.Sprintf("node%d", i+1)))
		if err != nil {
			_ = c.Close()
			return nil, err
		}
		c.nodes = append(c.nodes, n)
		c.Addrs = append(c.Addrs, n.addr)
	}
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	createCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(createCtx, cli, args...).CombinedOutput(); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("redis cluster: redis-cli --cluster create: %v\n%s", err, out)
	}
	if err := c.waitReady(ctx, 20*time.Second); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// startNode starts one cluster-enabled redis-server in dir on free loopback ports, retrying
// with other ports when a port is taken before redis-server binds it.
func startNode(ctx context.Context, server, dir string) (*clusterNode, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("redis cluster: %w", err)
	}
	var lastErr error
	for range 5 {
		ports, err := freePorts(2)
		if err != nil {
			return nil, fmt.Errorf("redis cluster: free ports: %w", err)
		}
		n, err := tryNode(ctx, server, dir, ports[0], ports[1], true)
		if err == nil {
			return n, nil
		}
		lastErr = err
		if !errors.Is(err, errPortTaken) {
			break
		}
	}
	return nil, lastErr
}

var errPortTaken = errors.New("port taken")

// tryNode starts a node in dir; fresh removes an earlier nodes.conf (a failed attempt's node
// id must not be reused), otherwise the node comes back as itself, with its slots.
func tryNode(ctx context.Context, server, dir string, port, busPort int, fresh bool) (*clusterNode, error) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	logFile := filepath.Join(dir, "redis.log")
	if fresh {
		_ = os.Remove(filepath.Join(dir, "nodes.conf"))
	}
	cmd := exec.Command(server,
		"--port", strconv.Itoa(port), "--cluster-port", strconv.Itoa(busPort), "--bind", "127.0.0.1",
		"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"),
		"--cluster-node-timeout", "5000", "--dir", dir, "--logfile", logFile,
		"--save", "", "--appendonly", "no", "--daemonize", "no")
	KillWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("redis cluster: start redis-server: %w", err)
	}
	n := &clusterNode{addr: addr, busPort: busPort, dir: dir, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(n.done)
	}()
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer rdb.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-n.done:
			log := tail(logFile)
			if strings.Contains(log, "Address already in use") {
				return nil, fmt.Errorf("redis cluster: %s: %w", addr, errPortTaken)
			}
			return nil, fmt.Errorf("redis cluster: redis-server on %s exited at start (%s):\n%s", addr, cmd.ProcessState, log)
		default:
		}
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err := rdb.Ping(pctx).Err()
		cancel()
		if err == nil {
			return n, nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			n.stop()
			return nil, fmt.Errorf("redis cluster: redis-server on %s does not answer: %v\n%s", addr, err, tail(logFile))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitReady waits until every node reports cluster_state:ok, all slots assigned and every
// node known, so a client's first CLUSTER SLOTS sees the final layout.
func (c *Cluster) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	want := []string{"cluster_state:ok", "cluster_slots_assigned:16384", "cluster_slots_ok:16384",
		"cluster_known_nodes:" + strconv.Itoa(len(c.nodes))}
	for _, n := range c.nodes {
		rdb := redis.NewClient(&redis.Options{Addr: n.addr})
		for {
			info, err := rdb.ClusterInfo(ctx).Result()
			ready := err == nil
			for _, w := range want {
				ready = ready && strings.Contains(info, w+"\r\n")
			}
			if ready {
				break
			}
			if ctx.Err() != nil || time.Now().After(deadline) {
				_ = rdb.Close()
				return fmt.Errorf("redis cluster: node %s not ready after %s (err %v):\n%s", n.addr, timeout, err, info)
			}
			time.Sleep(20 * time.Millisecond)
		}
		_ = rdb.Close()
	}
	return nil
}

// RestartNode kills master i (SIGKILL) and starts it again on the same ports and directory:
// its nodes.conf gives it back its node id and slots, without any data (nothing is
// persisted), as a master restarted without persistence. It returns once the cluster reports
// ok again on every node.
func (c *Cluster) RestartNode(ctx context.Context, i int) error {
	server, err := exec.LookPath("redis-server")
	if err != nil {
		return fmt.Errorf("redis cluster: no redis-server binary: %v; %s", err, installRedis)
	}
	old := c.nodes[i]
	if err := old.stop(); err != nil {
		return err
	}
	_, port, err := net.SplitHostPort(old.addr)
	if err != nil {
		return err
	}
	p, _ := strconv.Atoi(port)
	n, err := tryNode(ctx, server, old.dir, p, old.busPort, false)
	if err != nil {
		return err
	}
	c.nodes[i] = n
	return c.waitReady(ctx, 30*time.Second)
}

// Close stops every node (SIGKILL: nothing is persisted) and waits for the processes. It is
// safe to call more than once.
func (c *Cluster) Close() error {
	c.once.Do(func() {
		for _, n := range c.nodes {
			if err := n.stop(); err != nil && c.err == nil {
				c.err = err
			}
		}
	})
	return c.err
}

func (n *clusterNode) stop() error {
	select {
	case <-n.done:
		return nil
	default:
	}
	_ = n.cmd.Process.Kill()
	select {
	case <-n.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("redis cluster: redis-server on %s (pid %d) did not exit", n.addr, n.cmd.Process.Pid)
	}
}

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			_ = l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// tail returns the last lines of a log file, for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	return string(bytes.Join(lines[max(0, len(lines)-15):], []byte("\n")))
}

// RequireSlots fails the test unless keys share one cluster slot (want 1) or live on at least
// want distinct masters of rdb.
func RequireSlots(t testing.TB, rdb *redis.ClusterClient, keys []string, want int) {
	t.Helper()
	ctx := context.Background()
	slots := map[int64]bool{}
	for _, k := range keys {
		s, err := rdb.ClusterKeySlot(ctx, k).Result()
		if err != nil {
			t.Fatalf("slot of %s: %v", k, err)
		}
		slots[s] = true
	}
	if want == 1 {
		if len(slots) != 1 {
			t.Fatalf("keys are in %d slots, want one: %v", len(slots), keys[:min(len(keys), 5)])
		}
		return
	}
	shards, err := rdb.ClusterShards(ctx).Result()
	if err != nil {
		t.Fatalf("cluster shards: %v", err)
	}
	nodes := map[int]bool{} // shard index: one master each
	for s := range slots {
		for i, sh := range shards {
			for _, r := range sh.Slots {
				if s >= r.Start && s <= r.End {
					nodes[i] = true
				}
			}
		}
	}
	if len(nodes) < want {
		t.Fatalf("keys are on %d masters, want at least %d", len(nodes), want)
	}
}

// ScanCluster returns the keys matching pattern on every master of rdb, sorted.
func ScanCluster(t testing.TB, rdb *redis.ClusterClient, pattern string) []string {
	t.Helper()
	var mu sync.Mutex
	var out []string
	err := rdb.ForEachMaster(context.Background(), func(ctx context.Context, n *redis.Client) error {
		iter := n.Scan(ctx, 0, pattern, 1000).Iterator()
		for iter.Next(ctx) {
			mu.Lock()
			out = append(out, iter.Val())
			mu.Unlock()
		}
		return iter.Err()
	})
	if err != nil {
		t.Fatalf("scan %s on every master: %v", pattern, err)
	}
	slices.Sort(out)
	return out
}
