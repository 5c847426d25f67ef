// Package redisinfo reads Redis's memory facts (maxmemory, its policy, used memory, evicted
// keys) from INFO, the only source a managed Redis reliably allows: CONFIG GET is often
// forbidden there. On a cluster it reads every master and sums.
package redisinfo

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Node is one server's memory facts.
type Node struct {
	// Addr is the server's address (empty for a single server).
	Addr string `json:"addr,omitempty"`
	// MaxMemory is maxmemory in bytes; 0 means no limit.
	MaxMemory int64 `json:"maxmemory"`
	// Policy is maxmemory-policy (noeviction, allkeys-lru, volatile-lfu, ...).
	Policy string `json:"policy"`
	// UsedMemory is used_memory in bytes.
	UsedMemory int64 `json:"usedMemory"`
	// EvictedKeys counts the keys evicted since the server started (or CONFIG RESETSTAT).
	EvictedKeys int64 `json:"evictedKeys"`
	// KeyspaceHits and KeyspaceMisses count the reads that found their key and those that
	// did not (keyspace_hits, keyspace_misses).
	KeyspaceHits   int64 `json:"-"`
	KeyspaceMisses int64 `json:"-"`
}

// Memory is the memory facts of a Redis deployment: one node, or a cluster's masters summed.
type Memory struct {
	// MaxMemory, UsedMemory and EvictedKeys are summed over the masters. MaxMemory is 0 (no
	// limit) if any master has none.
	MaxMemory   int64 `json:"maxmemory"`
	UsedMemory  int64 `json:"usedMemory"`
	EvictedKeys int64 `json:"evictedKeys"`
	// KeyspaceHits and KeyspaceMisses are summed over the masters.
	KeyspaceHits   int64 `json:"-"`
	KeyspaceMisses int64 `json:"-"`
	// Policy is the masters' maxmemory-policy (the first one's if they differ).
	Policy string `json:"policy"`
	// Nodes has one entry per master (one in all for a single server).
	Nodes []Node `json:"nodes,omitempty"`
}

// LFU reports whether the policy evicts by access frequency (OBJECT FREQ works only then).
func (m Memory) LFU() bool { return strings.HasSuffix(m.Policy, "-lfu") }

// Read reads the memory facts with INFO memory and INFO stats (one command per master).
func Read(ctx context.Context, rdb redis.UniversalClient) (Memory, error) {
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		var (
			mu    sync.Mutex
			nodes []Node
		)
		err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			n, err := readNode(ctx, c)
			if err != nil {
				return err
			}
			n.Addr = c.Options().Addr
			mu.Lock()
			nodes = append(nodes, n)
			mu.Unlock()
			return nil
		})
		if err != nil {
			return Memory{}, err
		}
		return sum(nodes), nil
	}
	n, err := readNode(ctx, rdb)
	if err != nil {
		return Memory{}, err
	}
	return sum([]Node{n}), nil
}

func sum(nodes []Node) Memory {
	var m Memory
	unlimited := false
	for i, n := range nodes {
		if i == 0 {
			m.Policy = n.Policy
		}
		m.UsedMemory += n.UsedMemory
		m.EvictedKeys += n.EvictedKeys
		m.KeyspaceHits += n.KeyspaceHits
		m.KeyspaceMisses += n.KeyspaceMisses
		m.MaxMemory += n.MaxMemory
		unlimited = unlimited || n.MaxMemory == 0
	}
	if unlimited {
		m.MaxMemory = 0
	}
	m.Nodes = nodes
	return m
}

func readNode(ctx context.Context, c redis.Cmdable) (Node, error) {
	text, err := c.Info(ctx, "memory", "stats").Result()
	if err != nil {
		return Node{}, fmt.Errorf("redis INFO memory stats: %w", err)
	}
	return Parse(text)
}

// Parse reads a node's facts from the text of INFO memory and INFO stats.
func Parse(text string) (Node, error) {
	var n Node
	seen := 0
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok {
			continue
		}
		var err error
		required := true // of the four facts Parse insists on
		switch k {
		case "maxmemory":
			n.MaxMemory, err = strconv.ParseInt(v, 10, 64)
		case "used_memory":
			n.UsedMemory, err = strconv.ParseInt(v, 10, 64)
		case "evicted_keys":
			n.EvictedKeys, err = strconv.ParseInt(v, 10, 64)
		case "maxmemory_policy":
			n.Policy = v
		case "keyspace_hits":
			n.KeyspaceHits, err = strconv.ParseInt(v, 10, 64)
			required = false
		case "keyspace_misses":
			n.KeyspaceMisses, err = strconv.ParseInt(v, 10, 64)
			required = false
		default:
			continue
		}
		if err != nil {
			return n, fmt.Errorf("redis INFO %s: %w", k, err)
		}
		if required {
			seen++
		}
	}
	if seen < 4 {
		return n, fmt.Errorf("redis INFO: want maxmemory, maxmemory_policy, used_memory and evicted_keys, found %d of them", seen)
	}
	return n, nil
}
