package cache

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// The L1 tier keeps decoded values in process memory. Coherence across processes comes from
// invalidation messages on a Redis pub/sub channel, published by every write made through a
// Cache with L1 on (and by any writer that publishes [InvalidationPayload], as the cachewarm
// worker does), plus the entry TTL as a
// backstop for writers that publish nothing. On every (re)subscription the whole tier is
// dropped, since messages may have been missed while the subscriber was away.
//
// go-redis's RESP3 client-side caching (Options.ClientSideCacheConfig) was weighed and not
// used here: it is experimental, restricted to DB 0 and to RESP3, configured on the caller's
// client rather than per key, and it caches raw replies, so each hit would still decode and
// unmarshal the value (the larger part of a hit's cost for reference data lists). Its one
// advantage, server-side invalidation that also sees writers who publish nothing, is bounded
// here by L1Options.TTL. An application may still turn it on for its client under a Cache.

type l1Entry struct {
	raw     []byte
	val     any
	expires int64 // UnixNano
}

type l1Cache struct {
	m   sync.Map // key -> *l1Entry
	n   atomic.Int64
	max int
	ttl time.Duration
	gen atomic.Uint64 // bumped by every invalidation
	mu  sync.Mutex    // serialises eviction
}

func newL1(maxEntries int, ttl time.Duration) *l1Cache {
	return &l1Cache{max: maxEntries, ttl: ttl}
}

// generation returns the invalidation generation to pass to put; 0 on a nil tier.
func (l *l1Cache) generation() uint64 {
	if l == nil {
		return 0
	}
	return l.gen.Load()
}

func l1Get[T any](l *l1Cache, key string) (T, bool) {
	var zero T
	v, ok := l.m.Load(key)
	if !ok {
		return zero, false
	}
	e := v.(*l1Entry)
	if time.Now().UnixNano() > e.expires {
		if l.m.CompareAndDelete(key, v) {
			l.n.Add(-1)
		}
		return zero, false
	}
	if t, ok := e.val.(T); ok {
		return t, true
	}
	// The key is read with another type than it was stored with: decode a copy.
	var t T
	if json.Unmarshal(e.raw, &t) != nil {
		return zero, false
	}
	return t, true
}

// put stores val unless an invalidation arrived since gen was read (the value may then be
// older than the invalidating write).
func (l *l1Cache) put(key string, raw []byte, val any, gen uint64) {
	if l == nil || l.gen.Load() != gen {
		return
	}
	e := &l1Entry{raw: raw, val: val, expires: time.Now().Add(l.ttl).UnixNano()}
	if _, loaded := l.m.Swap(key, e); !loaded {
		if l.n.Add(1) > int64(l.max) {
			l.evict()
		}
	}
	if l.gen.Load() != gen && l.m.CompareAndDelete(key, e) {
		l.n.Add(-1)
	}
}

// evict drops about a tenth of the entries (arbitrary ones: map order).
func (l *l1Cache) evict() {
	if !l.mu.TryLock() {
		return
	}
	defer l.mu.Unlock()
	drop := l.max/10 + 1
	l.m.Range(func(k, v any) bool {
		if l.m.CompareAndDelete(k, v) {
			l.n.Add(-1)
			drop--
		}
		return drop > 0
	})
}

func (l *l1Cache) del(keys ...string) {
	if l == nil {
		return
	}
	l.gen.Add(1)
	for _, k := range keys {
		if _, ok := l.m.LoadAndDelete(k); ok {
			l.n.Add(-1)
		}
	}
}

func (l *l1Cache) flush() {
	if l == nil {
		return
	}
	l.gen.Add(1)
	l.m.Range(func(k, v any) bool {
		if l.m.CompareAndDelete(k, v) {
			l.n.Add(-1)
		}
		return true
	})
}

// InvalidationPayload returns the pub/sub message that makes every Cache with L1 on drop keys
// from its L1 tier. A writer outside this package (the cachewarm worker does so, on the
// channel its CACHEWARM_L1_CHANNEL names) publishes it on the L1 channel
// ([DefaultInvalidationChannel] unless configured otherwise) after writing keys:
//
//	rdb.Publish(ctx, cache.DefaultInvalidationChannel, cache.InvalidationPayload(keys...))
//
// The message is the sender's id (empty here) and the keys, one per line.
func InvalidationPayload(keys ...string) string {
	return invalidationPayload("", keys)
}

func invalidationPayload(origin string, keys []string) string {
	return origin + "\n" + strings.Join(keys, "\n")
}

// startSubscriber runs the invalidation listener until ctx is done.
func (c *Cache) startSubscriber(ctx context.Context) {
	c.l1Origin = rand.Text()
	ps := c.rdb.Subscribe(ctx, c.l1Opts.Channel)
	ch := ps.ChannelWithSubscriptions()
	ready := make(chan struct{})
	c.bg.Add(1)
	go func() {
		first := true
		defer c.bg.Done()
		defer ps.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-ch:
				if !ok {
					return
				}
				switch m := m.(type) {
				case *redis.Subscription:
					// (Re)subscribed: anything published meanwhile was missed.
					c.l1.flush()
					if first {
						close(ready)
						first = false
					}
				case *redis.Message:
					origin, keys, _ := strings.Cut(m.Payload, "\n")
					if origin != "" && origin == c.l1Origin {
						continue
					}
					c.l1.del(strings.Split(keys, "\n")...)
				}
			}
		}
	}()
	// Wait for the subscription, so that no write made after New returns goes unseen; with
	// Redis away, give up after one timeout (the tier is flushed when the subscription comes up).
	t := time.NewTimer(c.timeout)
	defer t.Stop()
	select {
	case <-ready:
	case <-t.C:
	}
}

// l1Channel returns the channel to publish invalidations on, or "" when L1 is off.
func (c *Cache) l1Channel() string {
	if c.l1Opts == nil {
		return ""
	}
	return c.l1Opts.Channel
}
