package cache

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"reflect"
	"time"

	"github.com/cachewarm/cachewarm/internal/jsjson"
	"github.com/cachewarm/cachewarm/internal/keyv"
	"github.com/redis/go-redis/v9"
)

// ErrNotCacheable is returned (wrapped) by [Set] for a value whose JSON is null: cache-manager
// refuses to cache null or undefined, and a NestJS reader would take it for a hit.
var ErrNotCacheable = errors.New("value is not cacheable")

// Wrap returns the value cached under key, or calls load once, caches its result for ttl and
// returns it.
//
// Concurrent callers of one key share one load: within the process through singleflight, across
// processes through a short Redis lock (a separate key, {key}:lock) whose losers wait for the
// winner's value instead of loading. A caller's own ctx ends its wait; the load runs with the ctx
// of the caller that started it.
//
// Wrap never fails because the cache is away: when Redis cannot be reached or is slower than
// the Cache's timeout, it counts an error, calls load and returns its value in about one timeout
// plus the load time. It returns an error only when load does (wrapped, with the key), when ttl
// is not positive, or when ctx ends.
//
// A stored value that does not decode into T is treated as a miss (and counted as an error),
// then overwritten. A nil slice is stored as [] (lists are never null); another value whose
// JSON is null is returned but not stored. With L1 on, the value returned may be shared with
// other callers: do not modify it.
func Wrap[T any](ctx context.Context, c *Cache, key string, ttl time.Duration, load func(context.Context) (T, error)) (T, error) {
	start := time.Now()
	if ttl <= 0 {
		var zero T
		return zero, fmt.Errorf("cache: wrap %s: ttl %v is not positive", key, ttl)
	}
	if v, ok := l1Hit[T](c, key, start); ok {
		return v, nil
	}
	gen := c.l1.generation()
	v, hit, redisDown := cachedValue(ctx, c, key, ttl, load, gen, start)
	if hit {
		return v, nil
	}
	return loadOnce(ctx, c, key, ttl, load, gen, redisDown, start)
}

// l1Hit returns the value of key from c's L1 tier, counting the hit, if L1 is on and holds it.
func l1Hit[T any](c *Cache, key string, start time.Time) (T, bool) {
	if c.l1 == nil {
		var zero T
		return zero, false
	}
	v, ok := l1Get[T](c.l1, key)
	if ok {
		c.stats.l1Hits.Add(1)
		c.stats.hit(start)
	}
	return v, ok
}

// cachedValue is Wrap's look in Redis: hit is true when key holds a value that decodes into T
// (refreshed first when XFetch says so), and the hit is counted and kept in L1 (unless an
// invalidation came after gen). Otherwise redisDown tells whether Redis failed.
func cachedValue[T any](ctx context.Context, c *Cache, key string, ttl time.Duration, load func(context.Context) (T, error), gen uint64, start time.Time) (v T, hit, redisDown bool) {
	raw, pttl, found, err := c.read(ctx, key, c.beta > 0)
	if !found {
		return v, false, err != nil
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		c.stats.errors.Add(1)
		c.logger.WarnContext(ctx, "cache: stored value does not decode; reloading", "key", key)
		var zero T
		return zero, false, false
	}
	if c.beta > 0 && c.xfetch(pttl) {
		if fresh, ok := refreshEarly(ctx, c, key, ttl, load); ok {
			c.stats.hit(start)
			return fresh, true, false
		}
	}
	c.l1.put(key, raw, v, gen)
	c.stats.hit(start)
	return v, true, false
}

// loadOnce is Wrap after a miss: one caller per key in the process leads (singleflight) and
// fills the key (see fill); the others share its result, or load for themselves when it is not
// a T. A follower whose leader's ctx ended, while its own has not, tries again.
func loadOnce[T any](ctx context.Context, c *Cache, key string, ttl time.Duration, load func(context.Context) (T, error), gen uint64, redisDown bool, start time.Time) (T, error) {
	var zero T
	for {
		var mine T
		leader := false
		ch := c.group.DoChan(key, func() (any, error) {
			leader = true
			return c.fill(ctx, key, ttl, redisDown, decodes[T], func(ctx context.Context) ([]byte, error) {
				v, err := load(ctx)
				if err != nil {
					return nil, err
				}
				mine = v
				return marshalValue(v)
			})
		})
		var res flightResult
		select {
		case r := <-ch:
			res = flightResult{r.Val, r.Err}
		case <-ctx.Done():
			return zero, fmt.Errorf("cache: wrap %s: %w", key, ctx.Err())
		}
		if res.err != nil {
			if !leader && ctx.Err() == nil && isContextError(res.err) {
				continue // the leader's ctx ended, not ours: try again
			}
			c.stats.miss(start)
			return zero, res.err
		}
		fr := res.val.(fillResult)
		if leader && fr.loaded {
			c.l1.put(key, fr.raw, mine, gen)
			c.stats.miss(start)
			return mine, nil
		}
		var v T
		if fr.raw == nil || json.Unmarshal(fr.raw, &v) != nil {
			// The leader's value did not encode, or is not a T: load for ourselves.
			v, err := load(ctx)
			c.stats.miss(start)
			if err != nil {
				return zero, fmt.Errorf("cache: load %s: %w", key, err)
			}
			return v, nil
		}
		c.l1.put(key, fr.raw, v, gen)
		if fr.hit {
			c.stats.hit(start)
		} else {
			c.stats.miss(start)
		}
		return v, nil
	}
}

// flightResult is the part of singleflight.Result that Wrap uses.
type flightResult struct {
	val any
	err error
}

// fillResult is what a leader shares with the other callers of its key.
type fillResult struct {
	raw    []byte // the value's JSON text; nil if it could not be encoded
	hit    bool   // found in Redis by the leader's second look
	loaded bool   // the leader ran the loader
}

// fill runs in the leader of a key: look again, take the lock or wait for the holder's value,
// load and store.
//
// valid tells whether a stored value decodes into the caller's type; one that does not is
// treated as missing (and overwritten).
func (c *Cache) fill(ctx context.Context, key string, ttl time.Duration, redisDown bool, valid func([]byte) bool, load func(context.Context) ([]byte, error)) (fillResult, error) {
	if redisDown {
		return c.loadOnly(ctx, key, load)
	}
	raw, _, found, err := c.read(ctx, key, false)
	if found && valid(raw) {
		return fillResult{raw: raw, hit: true}, nil
	}
	if err != nil {
		return c.loadOnly(ctx, key, load)
	}
	token := rand.Text()
	deadline := time.Now().Add(c.lockWait)
	wait := c.pollMin
	force := found // a stored value that does not decode must not stop us from taking the lock
	for {
		st, err := c.lockUnlessStored(ctx, key, token, force)
		if err != nil {
			return c.loadOnly(ctx, key, load)
		}
		switch st {
		case lockTaken:
			return c.loadAndStore(ctx, key, ttl, token, load)
		case lockValueStored:
			// Another process stored the value between our read and our lock attempt.
			raw, _, found, err := c.read(ctx, key, false)
			if found && valid(raw) {
				return fillResult{raw: raw}, nil
			}
			if err != nil {
				return c.loadOnly(ctx, key, load)
			}
			force = true
			continue
		}
		if time.Now().After(deadline) {
			c.logger.WarnContext(ctx, "cache: gave up waiting for another process's load", "key", key, "waited", c.lockWait)
			return c.loadAndStore(ctx, key, ttl, "", load)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fillResult{}, fmt.Errorf("cache: wrap %s: %w", key, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, c.pollMax)
		raw, _, found, err := c.read(ctx, key, false)
		if found && valid(raw) {
			return fillResult{raw: raw}, nil
		}
		if err != nil {
			return c.loadOnly(ctx, key, load)
		}
	}
}

// loadOnly loads without Redis (it just failed): no lock, no write.
func (c *Cache) loadOnly(ctx context.Context, key string, load func(context.Context) ([]byte, error)) (fillResult, error) {
	start := time.Now()
	raw, err := load(ctx)
	c.observeLoad(time.Since(start))
	if err != nil {
		return fillResult{}, fmt.Errorf("cache: load %s: %w", key, err)
	}
	return fillResult{raw: raw, loaded: true}, nil
}

// loadAndStore loads, stores the value and releases the lock (token "" for none) in one round
// trip.
func (c *Cache) loadAndStore(ctx context.Context, key string, ttl time.Duration, token string, load func(context.Context) ([]byte, error)) (fillResult, error) {
	start := time.Now()
	raw, err := load(ctx)
	c.observeLoad(time.Since(start))
	if err != nil {
		if token != "" {
			c.unlock(context.WithoutCancel(ctx), key, token)
		}
		return fillResult{}, fmt.Errorf("cache: load %s: %w", key, err)
	}
	if raw == nil || bytes.Equal(raw, []byte("null")) {
		if token != "" {
			c.unlock(context.WithoutCancel(ctx), key, token)
		}
		return fillResult{raw: raw, loaded: true}, nil
	}
	if err := c.store(context.WithoutCancel(ctx), key, raw, ttl, token); err != nil {
		c.logger.WarnContext(ctx, "cache: store failed", "key", key, "err", err)
	}
	return fillResult{raw: raw, loaded: true}, nil
}

// observeLoad feeds the recompute-time estimate XFetch uses (an EWMA with weight 1/8).
func (c *Cache) observeLoad(d time.Duration) {
	for {
		old := c.loadEWMA.Load()
		next := int64(d)
		if old != 0 {
			next = old + (int64(d)-old)/8
		}
		if c.loadEWMA.CompareAndSwap(old, next) {
			return
		}
	}
}

// xfetch decides on an early refresh for a value that expires in pttl: true when
// -delta·beta·ln(U) >= pttl, with delta the recent load time.
func (c *Cache) xfetch(pttl time.Duration) bool {
	if pttl <= 0 {
		return false
	}
	delta := float64(c.loadEWMA.Load())
	if delta == 0 {
		delta = float64(100 * time.Millisecond)
	}
	u := mrand.Float64()
	if u == 0 {
		return true
	}
	return -delta*c.beta*math.Log(u) >= float64(pttl)
}

// refreshEarly reloads key ahead of its expiry if no other process holds its lock.
func refreshEarly[T any](ctx context.Context, c *Cache, key string, ttl time.Duration, load func(context.Context) (T, error)) (T, bool) {
	var zero T
	token := rand.Text()
	got, err := c.lock(ctx, key, token)
	if err != nil || !got {
		return zero, false
	}
	var v T
	res, err := c.loadAndStore(ctx, key, ttl, token, func(ctx context.Context) ([]byte, error) {
		var err error
		if v, err = load(ctx); err != nil {
			return nil, err
		}
		return marshalValue(v)
	})
	if err != nil {
		c.logger.WarnContext(ctx, "cache: early refresh failed; serving the cached value", "key", key, "err", err)
		return zero, false
	}
	c.l1.del(key)
	c.l1.put(key, res.raw, v, c.l1.generation())
	return v, true
}

// Get returns the value cached under key. A missing or expired key gives ok false and no
// error; a Redis failure or a value that does not decode into T gives an error (counted).
func Get[T any](ctx context.Context, c *Cache, key string) (v T, ok bool, err error) {
	start := time.Now()
	if v, ok := l1Hit[T](c, key, start); ok {
		return v, true, nil
	}
	gen := c.l1.generation()
	raw, _, found, err := c.read(ctx, key, false)
	if err != nil {
		c.stats.miss(start)
		return v, false, err
	}
	if !found {
		c.stats.miss(start)
		return v, false, nil
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		c.stats.errors.Add(1)
		c.stats.miss(start)
		return v, false, fmt.Errorf("cache: get %s: decode value: %w", key, err)
	}
	c.l1.put(key, raw, v, gen)
	c.stats.hit(start)
	return v, true, nil
}

// Set stores v under key for ttl in the Cache's format (SET key value PX ttl), as a NestJS app
// would, and invalidates it in every L1 tier. ttl must be positive. It returns an error wrapping
// [ErrNotCacheable] for a value whose JSON is null (a nil slice is stored as []).
func Set[T any](ctx context.Context, c *Cache, key string, v T, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("cache: set %s: ttl %v is not positive", key, ttl)
	}
	raw, err := marshalValue(v)
	if err != nil {
		return fmt.Errorf("cache: set %s: %w", key, err)
	}
	if bytes.Equal(raw, []byte("null")) {
		return fmt.Errorf("cache: set %s: %w: its JSON is null", key, ErrNotCacheable)
	}
	return c.store(ctx, key, raw, ttl, "")
}

// Delete removes keys from Redis and from every L1 tier. Deleting a missing key is not an
// error.
func (c *Cache) Delete(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	c.l1.del(keys...)
	ch := c.l1Channel()
	err := c.call(ctx, func(ctx context.Context) error {
		_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys { // one DEL per key: keys may live in different cluster slots
				p.Del(ctx, k)
			}
			if ch != "" {
				p.Publish(ctx, ch, invalidationPayload(c.l1Origin, keys))
			}
			return nil
		})
		return err
	})
	if err != nil {
		c.stats.errors.Add(1)
		return fmt.Errorf("cache: delete %d keys: %w", len(keys), err)
	}
	return nil
}

// fillScript stores a value, releases the load lock if the token still owns it, and publishes
// the L1 invalidation, in one round trip. KEYS: data key, lock key. ARGV: value, ttl ms, token,
// channel ("" for none), message.
var fillScript = redis.NewScript(`
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if ARGV[3] ~= '' and redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
if ARGV[4] ~= '' then redis.call('PUBLISH', ARGV[4], ARGV[5]) end
return 1`)

// lockScript takes the load lock unless the data key exists (checked atomically, so a value
// stored and unlocked by another process between our GET and our lock attempt is not loaded
// again). KEYS: data key, lock key. ARGV: token, ttl ms, force ("1": ignore the data key).
// Returns 1 when taken, 0 when another holds it, 2 when the data key exists.
var lockScript = redis.NewScript(`
if ARGV[3] ~= '1' and redis.call('EXISTS', KEYS[1]) == 1 then return 2 end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0`)

type lockState int64

const (
	lockHeld        lockState = 0
	lockTaken       lockState = 1
	lockValueStored lockState = 2
)

// lockUnlessStored runs lockScript.
func (c *Cache) lockUnlessStored(ctx context.Context, key, token string, force bool) (lockState, error) {
	var st int64
	f := "0"
	if force {
		f = "1"
	}
	err := c.call(ctx, func(ctx context.Context) error {
		var err error
		st, err = lockScript.Run(ctx, c.rdb, []string{key, lockKey(key)}, token, c.lockTTL.Milliseconds(), f).Int64()
		return err
	})
	if err != nil {
		c.stats.errors.Add(1)
		c.logger.DebugContext(ctx, "cache: lock failed", "key", key, "err", err)
		return lockHeld, fmt.Errorf("cache: lock %s: %w", key, err)
	}
	return lockState(st), nil
}

// unlockScript deletes the lock key only if it still holds the token. KEYS: lock key. ARGV: token.
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

// store encodes raw in the Cache's format and writes it, releasing the lock of token.
func (c *Cache) store(ctx context.Context, key string, raw []byte, ttl time.Duration, token string) error {
	stored, err := c.format.encode(nil, raw, time.Now().Add(ttl))
	if err != nil {
		return fmt.Errorf("cache: store %s: %w", key, err)
	}
	c.l1.del(key)
	ch := c.l1Channel()
	ms := max(ttl.Milliseconds(), 1)
	err = c.call(ctx, func(ctx context.Context) error {
		if token == "" && ch == "" {
			return c.rdb.Set(ctx, key, stored, time.Duration(ms)*time.Millisecond).Err()
		}
		msg := ""
		if ch != "" {
			msg = invalidationPayload(c.l1Origin, []string{key})
		}
		return fillScript.Run(ctx, c.rdb, []string{key, lockKey(key)}, stored, ms, token, ch, msg).Err()
	})
	if err != nil {
		c.stats.errors.Add(1)
		return fmt.Errorf("cache: store %s: %w", key, err)
	}
	c.stats.sets.Add(1)
	return nil
}

// lock tries to take key's load lock with token.
func (c *Cache) lock(ctx context.Context, key, token string) (bool, error) {
	var got bool
	err := c.call(ctx, func(ctx context.Context) error {
		var err error
		got, err = c.rdb.SetNX(ctx, lockKey(key), token, c.lockTTL).Result()
		return err
	})
	if err != nil {
		c.stats.errors.Add(1)
		c.logger.DebugContext(ctx, "cache: lock failed", "key", key, "err", err)
		return false, fmt.Errorf("cache: lock %s: %w", key, err)
	}
	return got, nil
}

func (c *Cache) unlock(ctx context.Context, key, token string) {
	err := c.call(ctx, func(ctx context.Context) error {
		return unlockScript.Run(ctx, c.rdb, []string{lockKey(key)}, token).Err()
	})
	if err != nil {
		c.stats.errors.Add(1)
	}
}

// read GETs key (and its PTTL when withTTL) and decodes the stored form. A missing or expired
// value gives found false and no error; a Redis failure or undecodable envelope gives an error
// (counted).
func (c *Cache) read(ctx context.Context, key string, withTTL bool) (raw []byte, pttl time.Duration, found bool, err error) {
	var val []byte
	var ttl time.Duration
	err = c.call(ctx, func(ctx context.Context) error {
		if !withTTL {
			b, err := c.rdb.Get(ctx, key).Bytes()
			val = b
			return err
		}
		var get *redis.StringCmd
		var pt *redis.DurationCmd
		_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			get = p.Get(ctx, key)
			pt = p.PTTL(ctx, key)
			return nil
		})
		if err != nil {
			return err
		}
		val, ttl = []byte(get.Val()), pt.Val()
		return nil
	})
	if errors.Is(err, redis.Nil) {
		return nil, 0, false, nil
	}
	if err != nil {
		c.stats.errors.Add(1)
		c.logger.DebugContext(ctx, "cache: read failed", "key", key, "err", err)
		return nil, 0, false, fmt.Errorf("cache: get %s: %w", key, err)
	}
	raw, err = c.format.decode(val)
	if errors.Is(err, keyv.ErrExpired) {
		return nil, 0, false, nil
	}
	if err != nil {
		c.stats.errors.Add(1)
		return nil, 0, false, fmt.Errorf("cache: get %s: %w", key, err)
	}
	return raw, ttl, true, nil
}

// marshalValue encodes v as JSON.stringify would: no HTML escaping, U+2028 and U+2029 raw,
// control characters in JavaScript's escapes, no trailing newline; a nil slice as [].
func marshalValue[T any](v T) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode value: %w", err)
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
	if len(b) == 4 && string(b) == "null" {
		if t := reflect.TypeFor[T](); t.Kind() == reflect.Slice {
			return []byte("[]"), nil
		}
		return b, nil
	}
	if bytes.Contains(b, []byte(`\u`)) {
		out, err := jsjson.Append(make([]byte, 0, len(b)), b, jsjson.Stringify)
		if err != nil {
			return nil, fmt.Errorf("encode value: %w", err)
		}
		return out, nil
	}
	return b, nil
}

// decodes reports whether raw decodes into a T.
func decodes[T any](raw []byte) bool {
	var v T
	return json.Unmarshal(raw, &v) == nil
}

func isContextError(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
