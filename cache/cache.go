package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"
)

// Defaults of the options.
const (
	// DefaultTimeout bounds one Redis round trip made by the package.
	DefaultTimeout = 500 * time.Millisecond
	// DefaultLockTTL is how long a load lock lives if its holder never releases it.
	DefaultLockTTL = 5 * time.Second
	// DefaultInvalidationChannel is the pub/sub channel of the L1 tier's invalidations.
	DefaultInvalidationChannel = "cachewarm:invalidate"
)

// Cache reads and writes values in Redis in the NestJS-compatible formats, with stampede
// protection, degraded operation when Redis is away, counters, and an optional in-process L1
// tier. Build one with [New] per Redis client and share it: it is safe for concurrent use.
type Cache struct {
	rdb          redis.UniversalClient
	format       Format
	logger       *slog.Logger
	timeout      time.Duration
	ctxDeadlines bool // the client honours context deadlines itself
	lockTTL      time.Duration
	lockWait     time.Duration
	pollMin      time.Duration
	pollMax      time.Duration
	beta         float64 // XFetch early refresh; 0 is off
	group        singleflight.Group
	stats        counters
	loadEWMA     atomic.Int64 // nanoseconds, recompute-time estimate for XFetch
	l1           *l1Cache     // nil when off
	l1Opts       *L1Options
	l1Origin     string // this Cache's id in invalidation messages

	closeOnce sync.Once
	stop      context.CancelFunc
	bg        sync.WaitGroup
}

// Option configures [New].
type Option func(*Cache)

// WithFormat sets the value format (default [FormatJSON]); use [ParseFormat] on
// CACHE_VALUE_FORMAT.
func WithFormat(f Format) Option { return func(c *Cache) { c.format = f } }

// WithLogger sets the logger for degraded-operation messages (default: none).
func WithLogger(l *slog.Logger) Option {
	return func(c *Cache) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithTimeout bounds every Redis round trip the Cache makes (default [DefaultTimeout]). When
// Redis does not answer in time the call counts as an error and [Wrap] goes on without the
// cache. If the client was built with ContextTimeoutEnabled the bound is enforced through the
// context deadline; otherwise the Cache stops waiting on its own and leaves the command to end
// at the client's ReadTimeout.
func WithTimeout(d time.Duration) Option {
	return func(c *Cache) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// WithLock sets the cross-process load lock: ttl is how long the lock lives if its holder dies
// (default [DefaultLockTTL]; keep it above the slowest loader), wait how long another process
// waits for the holder's value before loading itself (default ttl).
func WithLock(ttl, wait time.Duration) Option {
	return func(c *Cache) {
		if ttl > 0 {
			c.lockTTL = ttl
		}
		if wait > 0 {
			c.lockWait = wait
		}
	}
}

// WithEarlyRefresh turns on probabilistic early refresh (XFetch, Vattani, Chierichetti and
// Lowenstein, VLDB 2015) with the given beta (1 is the paper's recommendation; larger refreshes
// earlier). A [Wrap] hit whose key expires within about beta × (recent load time) × -ln(rand)
// reloads the value synchronously, unless another process holds the key's load lock, and
// returns the fresh value; if that load fails, the cached value is returned. Each hit then
// costs a PTTL in the same round trip as its GET.
func WithEarlyRefresh(beta float64) Option {
	return func(c *Cache) {
		if beta > 0 {
			c.beta = beta
		}
	}
}

// L1Options configures the in-process tier of [WithL1].
type L1Options struct {
	// MaxEntries bounds the entries kept (default 10,000). When full, arbitrary entries are
	// evicted.
	MaxEntries int
	// TTL bounds how long an entry is served without asking Redis (default 30 s). It is the
	// staleness bound for writers that publish no invalidation (NestJS apps, a Cache with L1
	// off); writes through a Cache with L1 on and the cachewarm worker's are seen at once.
	TTL time.Duration
	// Channel is the pub/sub channel invalidations travel on (default
	// [DefaultInvalidationChannel]). Every process sharing keys must use the same one; the
	// cachewarm worker publishes on the default, so keep it to see the worker's writes.
	Channel string
}

// WithL1 turns on the in-process tier in front of Redis for hot reference data. Values found
// in Redis or loaded are kept decoded in memory, so a hit costs a map lookup; [Set], [Wrap]'s
// writes and [Cache.Delete] publish the key on the invalidation channel, and every Cache with
// L1 on drops it. A Cache with L1 on must be closed with [Cache.Close].
//
// Values returned from L1 are shared between callers: treat them as read-only.
func WithL1(o L1Options) Option {
	return func(c *Cache) {
		if o.MaxEntries <= 0 {
			o.MaxEntries = 10000
		}
		if o.TTL <= 0 {
			o.TTL = 30 * time.Second
		}
		if o.Channel == "" {
			o.Channel = DefaultInvalidationChannel
		}
		c.l1Opts = &o
	}
}

// New returns a Cache on rdb (a *redis.Client, *redis.ClusterClient or *redis.Ring). The caller
// keeps ownership of rdb. Close the Cache when L1 is on (it runs a subscriber); otherwise
// Close is a no-op.
func New(rdb redis.UniversalClient, opts ...Option) *Cache {
	c := &Cache{
		rdb:     rdb,
		logger:  slog.New(slog.DiscardHandler),
		timeout: DefaultTimeout,
		lockTTL: DefaultLockTTL,
		pollMin: 2 * time.Millisecond,
		pollMax: 50 * time.Millisecond,
	}
	for _, o := range opts {
		o(c)
	}
	if c.lockWait == 0 {
		c.lockWait = c.lockTTL
	}
	c.ctxDeadlines = honoursContextDeadlines(rdb)
	if c.l1Opts != nil {
		c.l1 = newL1(c.l1Opts.MaxEntries, c.l1Opts.TTL)
		ctx, cancel := context.WithCancel(context.Background())
		c.stop = cancel
		c.startSubscriber(ctx)
	}
	return c
}

// Format returns the value format the Cache reads and writes.
func (c *Cache) Format() Format { return c.format }

// Close stops the L1 subscriber, if any, and waits for it. It does not close the Redis
// client. It is safe to call more than once.
func (c *Cache) Close() error {
	c.closeOnce.Do(func() {
		if c.stop != nil {
			c.stop()
		}
		c.bg.Wait()
	})
	return nil
}

func honoursContextDeadlines(rdb redis.UniversalClient) bool {
	switch r := rdb.(type) {
	case *redis.Client:
		return r.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return r.Options().ContextTimeoutEnabled
	case *redis.Ring:
		return r.Options().ContextTimeoutEnabled
	}
	return false
}

// errTimeout is returned (wrapped) when Redis does not answer within the Cache's timeout.
var errTimeout = errors.New("redis did not answer in time")

// call runs op with the Cache's per-round-trip bound.
func (c *Cache) call(ctx context.Context, op func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if c.ctxDeadlines {
		return op(ctx)
	}
	done := make(chan error, 1)
	go func() { done <- op(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		if ctx.Err() == context.DeadlineExceeded {
			return fmt.Errorf("%w (%v)", errTimeout, c.timeout)
		}
		return ctx.Err()
	}
}
