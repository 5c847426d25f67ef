package coldstart

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/workflows"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/riverqueue/river"
)

// SentinelKey is the sentinel key on a single Redis; a cluster's sentinels add a hash tag
// ("cachewarm:sentinel:{7}").
const SentinelKey = "cachewarm:sentinel"

// TopologyTTL is how long the detector keeps a cluster's masters and their sentinel keys
// before reading CLUSTER SHARDS again (it also reads them again after any error).
const TopologyTTL = 10 * time.Second

// coldShare: a node missing its sentinel is cold when it holds fewer than 1/coldShare of the
// keys it held at the last good check.
const coldShare = 10

// Results of a check, as passed to Deps.Observe.
const (
	ResultOK         = "ok"          // every sentinel in place
	ResultSentinel   = "sentinel"    // a sentinel was missing but its node held data: set again
	ResultNewInstall = "new_install" // sentinels missing on an empty Redis, nothing ever warmed
	ResultCold       = "cold"        // a cold start: every active tenant re-warmed
	ResultError      = "error"       // Redis or PostgreSQL did not answer
)

// Deps are the detector's dependencies.
type Deps struct {
	Redis     redis.UniversalClient
	Pool      *pgxpool.Pool
	Workflows *workflows.Service
	Client    *river.Client[pgx.Tx]
	// Phases are the re-warm's phases, in order (Config.DefaultPhases).
	Phases []catalog.Phase
	// Interval is the time between checks; it must be positive.
	Interval time.Duration
	Logger   *slog.Logger
	// Observe, if not nil, sees every check's result (Result...).
	Observe func(result string)
}

// Detector checks Redis's sentinels every interval and re-warms on a cold start. Run it on one
// process at a time (the leader); it is not safe for concurrent use.
type Detector struct {
	d Deps
	// nodes are the Redis masters and their sentinel keys, read at nodesAt.
	nodes   []node
	nodesAt time.Time
	// seen is each master's key count at its last good check.
	seen map[string]int64
	// failing is true while checks fail, so that an outage is logged once.
	failing bool
}

type node struct {
	addr string
	key  string
}

// New returns a detector.
func New(d Deps) *Detector {
	return &Detector{d: d, seen: map[string]int64{}}
}

// Run checks every interval until ctx ends, and closes the latest cold start once its
// re-warm is done (logging its duration).
func (x *Detector) Run(ctx context.Context) {
	x.d.Logger.InfoContext(ctx, "cold start detector: checking Redis", "interval", x.d.Interval)
	t := time.NewTicker(x.d.Interval)
	defer t.Stop()
	for {
		result, err := x.Check(ctx)
		if ctx.Err() != nil {
			return
		}
		x.observe(ctx, result, err)
		if err == nil {
			if err := x.finish(ctx); err != nil && ctx.Err() == nil {
				x.d.Logger.WarnContext(ctx, "cold start detector: re-warm progress", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (x *Detector) observe(ctx context.Context, result string, err error) {
	if x.d.Observe != nil {
		x.d.Observe(result)
	}
	switch {
	case err != nil && !x.failing:
		x.failing = true
		x.d.Logger.WarnContext(ctx, "cold start detector: check failed (retrying every interval)", "err", err)
	case err == nil && x.failing:
		x.failing = false
		x.d.Logger.InfoContext(ctx, "cold start detector: checks succeed again", "result", result)
	}
}

// check is one node's answer.
type check struct {
	node
	exists bool
	size   int64
	err    error
}

// Check checks every master's sentinel once and acts on what it finds; it returns a
// Result... constant.
func (x *Detector) Check(ctx context.Context) (string, error) {
	if err := x.refreshNodes(ctx); err != nil {
		x.nodes = nil
		return ResultError, err
	}
	checks := make([]check, len(x.nodes))
	var wg sync.WaitGroup
	for i, n := range x.nodes {
		wg.Go(func() { checks[i] = x.checkNode(ctx, n) })
	}
	wg.Wait()
	var cold []check
	result := ResultOK
	for _, c := range checks {
		if c.err != nil {
			x.nodes = nil // read the topology again: a failover or a resharding may be under way
			return ResultError, fmt.Errorf("cold check %s: %w", c.addr, c.err)
		}
		before := x.seen[c.addr]
		switch {
		case c.exists:
			x.seen[c.addr] = c.size
		case x.emptied(c):
			cold = append(cold, c)
		default:
			// Deleted or evicted, but the node holds its data: not a cold start.
			if err := x.setSentinel(ctx, c.node); err != nil {
				return ResultError, err
			}
			x.seen[c.addr] = c.size
			result = ResultSentinel
			x.d.Logger.InfoContext(ctx, "cold start detector: sentinel missing on a node that holds data (deleted or evicted): set again",
				"node", c.addr, "keys", c.size, "keys_before", before)
		}
	}
	if len(cold) == 0 {
		return result, nil
	}
	var warmed bool
	if err := x.d.Pool.QueryRow(ctx, everWarmedSQL).Scan(&warmed); err != nil {
		return ResultError, fmt.Errorf("cold check: %w", err)
	}
	// Look again, now that the database said whether anything was ever warmed: a first phase
	// that ended between the two reads wrote its keys before the database said so, and must
	// not make a new install's empty Redis look like a cold start.
	cold, err := x.recheck(ctx, cold)
	if err != nil {
		return ResultError, err
	}
	if len(cold) == 0 {
		return ResultSentinel, nil
	}
	if !warmed {
		for _, c := range cold {
			if err := x.setSentinel(ctx, c.node); err != nil {
				return ResultError, err
			}
			x.seen[c.addr] = c.size
		}
		return ResultNewInstall, nil
	}
	if err := x.coldStart(ctx, cold); err != nil {
		return ResultError, err
	}
	return ResultCold, nil
}

// emptied reports whether c's node, found without its sentinel, lost its data: it is empty, or
// holds fewer than 1/coldShare of the keys it held at the last good check.
func (x *Detector) emptied(c check) bool {
	return c.size == 0 || c.size < x.seen[c.addr]/coldShare
}

// recheck checks the nodes of cold again and returns those still cold; the others get their
// sentinel set.
func (x *Detector) recheck(ctx context.Context, cold []check) ([]check, error) {
	var still []check
	for _, c := range cold {
		again := x.checkNode(ctx, c.node)
		if again.err != nil {
			return nil, fmt.Errorf("cold check %s: %w", c.addr, again.err)
		}
		if !again.exists && x.emptied(again) {
			still = append(still, again)
			continue
		}
		if !again.exists {
			if err := x.setSentinel(ctx, c.node); err != nil {
				return nil, err
			}
		}
		x.seen[c.addr] = again.size
	}
	return still, nil
}

func (x *Detector) checkNode(ctx context.Context, n node) check {
	c := check{node: n}
	client, err := x.client(ctx, n)
	if err != nil {
		c.err = err
		return c
	}
	pipe := client.Pipeline()
	exists := pipe.Exists(ctx, n.key)
	size := pipe.DBSize(ctx)
	if _, err := pipe.Exec(ctx); err != nil {
		c.err = err
		return c
	}
	c.exists, c.size = exists.Val() > 0, size.Val()
	return c
}

// client returns the client of n's master: the single client, or the cluster client's
// client of the master that serves n's sentinel.
func (x *Detector) client(ctx context.Context, n node) (*redis.Client, error) {
	switch c := x.d.Redis.(type) {
	case *redis.Client:
		return c, nil
	case *redis.ClusterClient:
		return c.MasterForKey(ctx, n.key)
	}
	return nil, fmt.Errorf("cold check: unsupported redis client %T", x.d.Redis)
}

func (x *Detector) setSentinel(ctx context.Context, n node) error {
	client, err := x.client(ctx, n)
	if err != nil {
		return err
	}
	v := "set by cachewarm at " + time.Now().UTC().Format(time.RFC3339) + ": its absence from an empty Redis means a cold start"
	if err := client.Set(ctx, n.key, v, 0).Err(); err != nil {
		return fmt.Errorf("set sentinel on %s: %w", n.addr, err)
	}
	return nil
}

// refreshNodes reads the masters and picks their sentinel keys, unless they are recent.
func (x *Detector) refreshNodes(ctx context.Context) error {
	if x.nodes != nil && time.Since(x.nodesAt) < TopologyTTL {
		return nil
	}
	switch c := x.d.Redis.(type) {
	case *redis.Client:
		x.nodes = []node{{addr: c.Options().Addr, key: SentinelKey}}
	case *redis.ClusterClient:
		nodes, err := clusterNodes(ctx, c)
		if err != nil {
			return err
		}
		x.nodes = nodes
	default:
		return fmt.Errorf("cold check: unsupported redis client %T", x.d.Redis)
	}
	x.nodesAt = time.Now()
	return nil
}

// clusterNodes returns each master with a sentinel key in one of its slots, from CLUSTER
// SHARDS (Redis 7), or CLUSTER SLOTS on an older Redis.
func clusterNodes(ctx context.Context, c *redis.ClusterClient) ([]node, error) {
	var nodes []node
	add := func(addr string, start, end int) {
		if !slices.ContainsFunc(nodes, func(n node) bool { return n.addr == addr }) {
			nodes = append(nodes, node{addr: addr, key: sentinelFor(start, end)})
		}
	}
	shards, err := c.ClusterShards(ctx).Result()
	if err == nil {
		for _, sh := range shards {
			for _, n := range sh.Nodes {
				if n.Role != "master" || len(sh.Slots) == 0 {
					continue
				}
				host := n.Endpoint
				if host == "" || host == "?" {
					host = n.IP
				}
				add(net.JoinHostPort(host, strconv.FormatInt(n.Port, 10)), int(sh.Slots[0].Start), int(sh.Slots[0].End))
			}
		}
		return nodes, nil
	}
	//lint:ignore SA1019 the fallback for a Redis older than 7.0, which has no CLUSTER SHARDS
	slots, serr := c.ClusterSlots(ctx).Result()
	if serr != nil {
		return nil, fmt.Errorf("cold check: cluster shards: %w; cluster slots: %w", err, serr)
	}
	for _, s := range slots {
		if len(s.Nodes) > 0 {
			add(s.Nodes[0].Addr, s.Start, s.End)
		}
	}
	return nodes, nil
}

// coldStart re-warms every active tenant and records the cold start in one transaction,
// then sets the cold nodes' sentinels.
func (x *Detector) coldStart(ctx context.Context, cold []check) error {
	var (
		addrs  []string
		before int64
	)
	for _, c := range cold {
		addrs = append(addrs, c.addr)
		before += x.seen[c.addr]
	}
	var (
		rw       workflows.ColdRewarm
		id       int64
		detected time.Time
	)
	err := pgx.BeginFunc(ctx, x.d.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = on`); err != nil {
			return err
		}
		var err error
		if rw, err = x.d.Workflows.StartColdTx(ctx, tx, x.d.Client, x.d.Phases); err != nil {
			return err
		}
		ids := make([]int64, len(rw.Runs))
		for i, r := range rw.Runs {
			ids[i] = r.ID
		}
		jobs := append([]int64{}, rw.Jobs...) // never NULL
		return tx.QueryRow(ctx, insertSQL, strings.Join(addrs, ","), before, len(rw.Runs), ids, jobs).Scan(&id, &detected)
	})
	if err != nil {
		return fmt.Errorf("cold start: %w", err)
	}
	busy := 0
	for _, r := range rw.Runs {
		if r.Existing {
			busy++
		}
	}
	x.d.Logger.WarnContext(ctx, "cache cold: Redis came back empty, re-warming every active tenant",
		"cold_start", id, "node", strings.Join(addrs, ","), "keys_before", before, "tenants", len(rw.Runs),
		"busy_tenants", busy, "dataset_rewarms", len(rw.Jobs))
	var errs []error
	for _, c := range cold {
		errs = append(errs, x.setSentinel(ctx, c.node))
		x.seen[c.addr] = c.size
	}
	return errors.Join(errs...)
}

// finish closes the latest cold start once its re-warm is done.
func (x *Detector) finish(ctx context.Context) error {
	s, err := Latest(ctx, x.d.Pool)
	if err != nil || s == nil || s.FinishedAt != nil || !s.Done() {
		return err
	}
	var at time.Time
	if err := x.d.Pool.QueryRow(ctx, finishSQL, s.ID).Scan(&at); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // another leader closed it
		}
		return fmt.Errorf("close cold start %d: %w", s.ID, err)
	}
	x.d.Logger.InfoContext(ctx, "cache warm again: the cold start's re-warm is done",
		"cold_start", s.ID, "node", s.Node, "tenants", s.Tenants, "duration", at.Sub(s.DetectedAt).Round(time.Millisecond))
	return nil
}
