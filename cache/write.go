package cache

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// casScript writes pairs of (data key, version key) only where the stored version is not newer
// than ARGV[1]. ARGV[2] is the TTL in milliseconds; ARGV[3...] the values, one per pair. A
// missing version key (evicted, flushed, never written) counts as older, so a lost version
// never wedges a key. It returns the number of pairs written.
var casScript = redis.NewScript(`
local ver = tonumber(ARGV[1])
local ttl = ARGV[2]
local written = 0
for i = 1, #KEYS, 2 do
  local cur = tonumber(redis.call('GET', KEYS[i + 1]))
  if cur == nil or cur <= ver then
    redis.call('SET', KEYS[i], ARGV[(i + 1) / 2 + 2], 'PX', ttl)
    redis.call('SET', KEYS[i + 1], ARGV[1], 'PX', ttl)
    written = written + 1
  end
end
return written
`)

// Writer writes values under the stale-overwrite guard, in pipelined batches: a value read
// from data at version v replaces a stored one only if the stored one's version is not newer
// than v. Each data key has a companion version key ([VersionKey]) in the same cluster slot.
//
// A Writer is safe for concurrent use; each [Batch] it makes is not.
type Writer struct {
	rdb     redis.UniversalClient
	format  Format
	cluster bool
	// perCall is how many keys one script call writes; perFlush how many keys one pipeline
	// carries.
	perCall, perFlush int
	now               func() time.Time
}

// NewWriter returns a Writer storing values in format through rdb. On a Redis Cluster client
// each script call carries one key (a script's keys must share a slot); otherwise calls carry
// many keys each.
func NewWriter(rdb redis.UniversalClient, format Format) *Writer {
	_, cluster := rdb.(*redis.ClusterClient)
	w := &Writer{rdb: rdb, format: format, cluster: cluster, perCall: 64, perFlush: 1024, now: time.Now}
	if cluster {
		w.perCall = 1
	}
	return w
}

// Format returns the value format the writer stores.
func (w *Writer) Format() Format { return w.format }

// WriteStats counts what a batch wrote.
type WriteStats struct {
	// Keys is the number of keys written; Skipped those left alone because Redis held a value
	// from newer data.
	Keys, Skipped int
	// Bytes is the size of the values written, as stored.
	Bytes int64
}

// Add adds o's counts to s.
func (s *WriteStats) Add(o WriteStats) {
	s.Keys += o.Keys
	s.Skipped += o.Skipped
	s.Bytes += o.Bytes
}

// Batch collects values read at one data version, with one TTL, and writes them as it fills.
// Index, if set, names a Redis set that records every key written (for exact invalidation).
type Batch struct {
	w       *Writer
	version string
	ttl     time.Duration
	ttlMS   string
	index   string

	keys   []string
	values []any
	stats  WriteStats
	buf    []byte
}

// NewBatch starts a batch of values read from data at version, stored with ttl. If index is
// not empty, every key written is also added to the set named index, whose TTL is kept at
// least ttl.
func (w *Writer) NewBatch(version int64, ttl time.Duration, index string) *Batch {
	return &Batch{
		w:       w,
		version: strconv.FormatInt(version, 10),
		ttl:     ttl,
		ttlMS:   strconv.FormatInt(ttl.Milliseconds(), 10),
		index:   index,
	}
}

// Add queues key with the value raw (compact JSON text), encoded in the writer's format, and
// writes the queue once it is full. raw is copied; the caller may reuse it.
func (b *Batch) Add(ctx context.Context, key string, raw []byte) error {
	start := len(b.buf)
	var err error
	b.buf, err = b.w.format.Encode(b.buf, raw, b.w.now().Add(b.ttl))
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	b.keys = append(b.keys, key)
	b.values = append(b.values, b.buf[start:len(b.buf):len(b.buf)])
	if len(b.keys) >= b.w.perFlush {
		return b.Flush(ctx)
	}
	return nil
}

// Flush writes what is queued.
func (b *Batch) Flush(ctx context.Context) error {
	if len(b.keys) == 0 {
		return nil
	}
	written, err := b.write(ctx)
	if err != nil && isNoScript(err) {
		if err = b.loadScript(ctx); err == nil {
			written, err = b.write(ctx)
		}
	}
	if err != nil {
		return fmt.Errorf("write %d keys: %w", len(b.keys), err)
	}
	for _, v := range b.values {
		b.stats.Bytes += int64(len(v.([]byte)))
	}
	b.stats.Keys += written
	b.stats.Skipped += len(b.keys) - written
	b.keys, b.values, b.buf = b.keys[:0], b.values[:0], b.buf[:0]
	return nil
}

// Stats returns what the batch has written so far (call after Flush).
func (b *Batch) Stats() WriteStats { return b.stats }

func (b *Batch) write(ctx context.Context) (int, error) {
	pipe := b.w.rdb.Pipeline()
	var cmds []*redis.Cmd
	per := b.w.perCall
	for i := 0; i < len(b.keys); i += per {
		end := min(i+per, len(b.keys))
		keys := make([]string, 0, 2*(end-i))
		args := make([]any, 0, 2+end-i)
		args = append(args, b.version, b.ttlMS)
		for j := i; j < end; j++ {
			keys = append(keys, b.keys[j], VersionKey(b.keys[j]))
			args = append(args, b.values[j])
		}
		cmds = append(cmds, casScript.EvalSha(ctx, pipe, keys, args...))
	}
	if b.index != "" {
		members := make([]any, len(b.keys))
		for i, k := range b.keys {
			members[i] = k
		}
		pipe.SAdd(ctx, b.index, members...)
		pipe.PExpire(ctx, b.index, b.ttl+time.Hour)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, err
	}
	written := 0
	for _, c := range cmds {
		n, err := c.Int()
		if err != nil {
			return 0, err
		}
		written += n
	}
	return written, nil
}

func (b *Batch) loadScript(ctx context.Context) error {
	if cc, ok := b.w.rdb.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			return casScript.Load(ctx, c).Err()
		})
	}
	return casScript.Load(ctx, b.w.rdb).Err()
}

func isNoScript(err error) bool {
	var rerr redis.Error
	return errors.As(err, &rerr) && strings.HasPrefix(rerr.Error(), "NOSCRIPT")
}

// IndexKey names the Redis set that records every key written for tenant t's dataset, so
// invalidation deletes exactly those keys, in time proportional to their number. The tenant is
// the set's hash tag, so on Redis Cluster all of a tenant's index sets share a slot.
func IndexKey(t Tenant, dataset string) string {
	return "cachewarm:index:{" + t.id + "}:" + dataset
}

// Invalidate deletes every key recorded for tenant t's datasets (see [IndexKey]), their
// version keys and the index sets themselves, and returns how many data keys it deleted. It
// costs time in proportion to the tenant's keys, never the keyspace: no KEYS, no SCAN of the
// database, no FLUSHDB. Other tenants' keys are never touched: the index sets name keys
// exactly.
func (w *Writer) Invalidate(ctx context.Context, t Tenant, datasets []string) (int, error) {
	deleted := 0
	for _, d := range datasets {
		idx := IndexKey(t, d)
		var cursor uint64
		for {
			members, next, err := w.rdb.SScan(ctx, idx, cursor, "", 1000).Result()
			if err != nil {
				return deleted, fmt.Errorf("invalidate %s/%s: %w", t, d, err)
			}
			if len(members) > 0 {
				pipe := w.rdb.Pipeline()
				dels := make([]*redis.IntCmd, len(members))
				for i, k := range members {
					dels[i] = pipe.Del(ctx, k)
					pipe.Del(ctx, VersionKey(k))
				}
				if _, err := pipe.Exec(ctx); err != nil {
					return deleted, fmt.Errorf("invalidate %s/%s: %w", t, d, err)
				}
				for _, c := range dels {
					deleted += int(c.Val())
				}
			}
			if cursor = next; cursor == 0 {
				break
			}
		}
		if err := w.rdb.Del(ctx, idx).Err(); err != nil {
			return deleted, fmt.Errorf("invalidate %s/%s: %w", t, d, err)
		}
	}
	return deleted, nil
}
