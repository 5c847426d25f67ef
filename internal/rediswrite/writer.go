// Package rediswrite is the worker's write path into Redis: it stores warmed values in pipelined
// batches under the stale-overwrite guard (a value read at data version v never replaces one
// read at a newer version), records every key in a per-tenant x dataset index set so that
// invalidation and pruning delete exactly those keys, and announces every change on the L1
// invalidation channel of package cache, so the in-process tier of Go applications stays
// coherent. Keys and values are those of package cache, byte for byte.
package rediswrite

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/hashtag"
	"github.com/cachewarm/cachewarm/internal/keyv"
	"github.com/redis/go-redis/v9"
)

// keyCASScript writes pairs of (data key, version key) only where the stored version is not
// newer than ARGV[1]. ARGV[2] is the TTL in milliseconds; ARGV[3...] the values, one per pair.
// A missing version key (evicted, flushed, never written) counts as older, so a lost version
// never wedges a key. It returns the number of pairs written.
var keyCASScript = redis.NewScript(`
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

// datasetCASScript writes KEYS[2...] only if the version in KEYS[1] (one per tenant x
// dataset) is not newer than ARGV[1], then records ARGV[1] there. ARGV[2] is the TTL in
// milliseconds, ARGV[3...] the values. It returns the number of keys written.
var datasetCASScript = redis.NewScript(`
local ver = tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]))
if cur ~= nil and cur > ver then
  return 0
end
local ttl = ARGV[2]
for i = 2, #KEYS do
  redis.call('SET', KEYS[i], ARGV[i + 1], 'PX', ttl)
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
return #KEYS - 1
`)

// Writer writes values under the stale-overwrite guard, in pipelined batches: a value read
// from data at version v replaces a stored one only if the stored one's version is not newer
// than v.
//
// Where one script may touch all of a tenant's keys (a single Redis, or a cluster with
// hash-tagged keys), one version key per tenant x dataset ([DatasetVersionKey]) guards the
// dataset and each script call writes many keys: a key costs Redis one SET. On a cluster with
// plain keys, which spread over every slot, each data key has a companion version key in
// its own slot ([VersionKey]) and each script call writes one pair. On a single Redis, a
// chunk of at least 16 KiB is written in a WATCH/MULTI transaction on its version key instead
// of the script: plain SETs cost Redis less than a script that copies every value into Lua.
//
// Every chunk written, every prune and every invalidation is announced on the L1 invalidation
// channel (New's channel; applications' default is [cache.DefaultInvalidationChannel]) with
// [cache.InvalidationPayload], so that the L1
// tier of every Go application reading the keys through package cache drops them: one message
// per chunk of up to 1,024 keys (so one per dataset write for all but the largest datasets).
// On a single Redis the message rides at the end of the write's own pipeline, which Redis runs
// in order, so it costs no round trip and never overtakes the write; on a cluster, whose
// pipelines run per node concurrently, it is sent once the write has returned. PUBLISH on a
// cluster reaches the subscribers of every node, which is how [cache.WithL1] subscribes.
//
// A Writer is safe for concurrent use; each [Batch] it makes is not.
type Writer struct {
	rdb    redis.UniversalClient
	format cache.Format
	// perKey selects companion version keys (cluster, plain keys).
	perKey bool
	// perCall is how many keys one script call writes; perFlush how many keys one pipeline
	// carries.
	perCall, perFlush int
	// single is rdb when it is one Redis server (not a cluster): its chunks of at least
	// watchMinBytes are written in a WATCH/MULTI transaction instead of the script.
	single        *redis.Client
	watchMinBytes int
	now           func() time.Time
	// channel is the L1 invalidation channel every write, prune and invalidation is announced
	// on (see [cache.InvalidationPayload]).
	channel string
	// chunks holds chunks done with, for reuse. Unlike a sync.Pool it survives garbage
	// collections, so a chunk's buffer, grown once to a pipeline's worth of values, is not
	// grown again from nothing (that regrowth was 60% of a warm's allocations).
	chunks chan *chunk
}

// freeChunks is how many unused chunks a Writer keeps: two per batch being written (the one
// filling and the one in flight) for more concurrent batches than a worker runs.
const freeChunks = 64

// maxKeptChunkBytes bounds the buffer of a chunk kept for reuse, so the free list holds at
// most freeChunks x 4 MiB.
const maxKeptChunkBytes = 4 << 20

// watchMinBytes is the chunk size from which a WATCH/MULTI transaction is cheaper for Redis
// than the compare-and-set script: the script copies every value into Lua and back (about
// 2.5 us of Redis CPU per 860-byte key), the transaction costs one more round trip per chunk.
const watchMinBytes = 16 << 10

// watchAttempts bounds how often a chunk's transaction is retried when another writer changes
// the dataset's version key between the read and the write.
const watchAttempts = 10

// New returns a Writer storing values in format through rdb, for keys built by keys, that
// announces what it writes and removes on the L1 invalidation channel (the one the
// applications set in [cache.L1Options], by default [cache.DefaultInvalidationChannel]).
func New(rdb redis.UniversalClient, format cache.Format, keys cache.Keys, channel string) *Writer {
	_, cluster := rdb.(*redis.ClusterClient)
	w := &Writer{rdb: rdb, format: format, perCall: 256, perFlush: 1024, watchMinBytes: watchMinBytes, now: time.Now,
		channel: channel, chunks: make(chan *chunk, freeChunks)}
	if cluster && !keys.HashTag {
		w.perKey, w.perCall = true, 1
	}
	w.single, _ = rdb.(*redis.Client)
	return w
}

// Format returns the value format the writer stores.
func (w *Writer) Format() cache.Format { return w.format }

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

// chunk is one pipeline's worth of encoded values; chunks are pooled by the Writer.
type chunk struct {
	keys   []string
	values []any // []byte slices of buf
	buf    []byte
}

func (w *Writer) getChunk() *chunk {
	select {
	case c := <-w.chunks:
		return c
	default:
		return &chunk{keys: make([]string, 0, w.perFlush), values: make([]any, 0, w.perFlush)}
	}
}

func (w *Writer) putChunk(c *chunk) {
	clear(c.keys)
	clear(c.values)
	c.keys, c.values, c.buf = c.keys[:0], c.values[:0], c.buf[:0]
	if cap(c.buf) > maxKeptChunkBytes {
		return // an outsized chunk is not kept: the free list's memory stays bounded
	}
	select {
	case w.chunks <- c:
	default: // enough kept: let the collector have it
	}
}

// Batch collects one tenant x dataset's values, read at one data version and stored with one
// TTL, and writes them as it fills. Every key written is recorded in the dataset's index set
// ([IndexKey]) for exact invalidation.
//
// A full chunk is written in the background while the caller goes on adding the next one
// (at most one write in flight), so reading the data and writing Redis overlap.
type Batch struct {
	w          *Writer
	tenant     cache.Tenant
	dataset    string
	version    int64
	ttl        time.Duration
	ttlMS      string
	indexKey   string
	versionKey string

	cur      *chunk
	inflight chan chunkResult
	stats    WriteStats
	// indexSize is the index set's cardinality read by the last write (in its pipeline, after
	// its SADD), or -1 before any write.
	indexSize int64
}

type chunkResult struct {
	stats     WriteStats
	indexSize int64
	err       error
}

// NewBatch starts a batch of tenant t's dataset, read from data at version, stored with ttl.
func (w *Writer) NewBatch(t cache.Tenant, dataset string, version int64, ttl time.Duration) *Batch {
	return &Batch{
		w:          w,
		tenant:     t,
		dataset:    dataset,
		version:    version,
		indexSize:  -1,
		ttl:        ttl,
		ttlMS:      strconv.FormatInt(ttl.Milliseconds(), 10),
		indexKey:   IndexKey(t, dataset),
		versionKey: DatasetVersionKey(t, dataset),
	}
}

// Add queues key with the value raw (compact JSON text), encoded in the writer's format, and
// starts writing the queue once it is full. raw is copied; the caller may reuse it. An error
// of an earlier background write is returned here or by Flush.
func (b *Batch) Add(ctx context.Context, key string, raw []byte) error {
	if b.cur == nil {
		b.cur = b.w.getChunk()
	}
	c := b.cur
	start := len(c.buf)
	var err error
	c.buf, err = Encode(b.w.format, c.buf, raw, b.w.now().Add(b.ttl))
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	c.keys = append(c.keys, key)
	c.values = append(c.values, c.buf[start:len(c.buf):len(c.buf)])
	if len(c.keys) >= b.w.perFlush {
		return b.send(ctx)
	}
	return nil
}

// Flush writes what is queued and waits for every write to finish.
func (b *Batch) Flush(ctx context.Context) error {
	if b.cur != nil && len(b.cur.keys) > 0 {
		if err := b.send(ctx); err != nil {
			return err
		}
	}
	return b.Wait()
}

// Wait waits for the write in flight, if any, and returns its error. Call it (or Flush)
// before abandoning a batch.
func (b *Batch) Wait() error {
	if b.inflight == nil {
		return nil
	}
	r := <-b.inflight
	b.inflight = nil
	b.stats.Add(r.stats)
	if r.err == nil {
		b.indexSize = r.indexSize
	}
	return r.err
}

// Stats returns what the batch has written so far (call after Flush).
func (b *Batch) Stats() WriteStats { return b.stats }

// send waits for the previous write, then writes the current chunk in the background.
func (b *Batch) send(ctx context.Context) error {
	if err := b.Wait(); err != nil {
		return err
	}
	c := b.cur
	b.cur = nil // the next Add takes a chunk: one left here after Flush would never be reused
	done := make(chan chunkResult, 1)
	b.inflight = done
	go func() {
		r := b.writeChunk(ctx, c)
		b.w.putChunk(c)
		done <- r
	}()
	return nil
}

func (b *Batch) writeChunk(ctx context.Context, c *chunk) chunkResult {
	bytes := int64(len(c.buf)) // the values, back to back
	var written int
	var indexSize int64
	var err error
	if b.w.single != nil && bytes >= int64(b.w.watchMinBytes) {
		written, indexSize, err = b.writeWatched(ctx, c)
	} else {
		written, indexSize, err = b.write(ctx, c)
		if err != nil && isNoScript(err) {
			if err = b.loadScripts(ctx); err == nil {
				written, indexSize, err = b.write(ctx, c)
			}
		}
	}
	if err != nil {
		return chunkResult{err: fmt.Errorf("write %d keys: %w", len(c.keys), err)}
	}
	return chunkResult{stats: WriteStats{Keys: written, Skipped: len(c.keys) - written, Bytes: bytes}, indexSize: indexSize}
}

// write writes c in one pipeline and returns how many keys it wrote and the index set's size
// after it (read in the same pipeline, so that Prune need not ask again).
func (b *Batch) write(ctx context.Context, c *chunk) (int, int64, error) {
	pipe := b.w.rdb.Pipeline()
	var cmds []*redis.Cmd
	per := b.w.perCall
	version := strconv.FormatInt(b.version, 10)
	for i := 0; i < len(c.keys); i += per {
		end := min(i+per, len(c.keys))
		args := make([]any, 0, 2+end-i)
		args = append(args, version, b.ttlMS)
		args = append(args, c.values[i:end]...)
		if b.w.perKey {
			keys := make([]string, 0, 2*(end-i))
			for _, k := range c.keys[i:end] {
				keys = append(keys, k, VersionKey(k))
			}
			cmds = append(cmds, keyCASScript.EvalSha(ctx, pipe, keys, args...))
			continue
		}
		keys := make([]string, 0, 1+end-i)
		keys = append(keys, b.versionKey)
		keys = append(keys, c.keys[i:end]...)
		cmds = append(cmds, datasetCASScript.EvalSha(ctx, pipe, keys, args...))
	}
	card := b.index(ctx, pipe, c)
	if b.w.single != nil {
		b.w.announce(ctx, pipe, c.keys)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, 0, err
	}
	if b.w.single == nil {
		if err := b.w.announce(ctx, b.w.rdb, c.keys).Err(); err != nil {
			return 0, 0, err
		}
	}
	written := 0
	for _, cmd := range cmds {
		n, err := cmd.Int()
		if err != nil {
			return 0, 0, err
		}
		written += n
	}
	return written, card.Val(), nil
}

// writeWatched writes c as write does, with the same guard, but in a transaction: it
// watches the dataset's version key and reads it, then, if the stored version is not newer,
// sets the values and the version in MULTI/EXEC, which fails (and is tried again) if another
// writer changed the version key in between. Redis runs plain SETs, not a script.
func (b *Batch) writeWatched(ctx context.Context, c *chunk) (int, int64, error) {
	conn := b.w.single.Conn()
	defer conn.Close()
	for range watchAttempts {
		var stored *redis.StringCmd
		_, err := conn.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Do(ctx, "watch", b.versionKey)
			stored = p.Get(ctx, b.versionKey)
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return 0, 0, err
		}
		// A missing or unreadable version counts as older, as in the script.
		if v, err := stored.Int64(); err == nil && v > b.version {
			var card *redis.IntCmd
			_, err := conn.Pipelined(ctx, func(p redis.Pipeliner) error {
				p.Do(ctx, "unwatch")
				card = b.index(ctx, p, c)
				return nil
			})
			return 0, card.Val(), err
		}
		var card *redis.IntCmd
		_, err = conn.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range c.keys {
				p.Set(ctx, k, c.values[i], b.ttl)
			}
			p.Set(ctx, b.versionKey, b.version, b.ttl)
			card = b.index(ctx, p, c)
			b.w.announce(ctx, p, c.keys)
			return nil
		})
		if errors.Is(err, redis.TxFailedErr) {
			continue // the version key changed since it was read: read it again
		}
		if err != nil {
			return 0, 0, err
		}
		return len(c.keys), card.Val(), nil
	}
	return 0, 0, fmt.Errorf("version key %s kept changing: %d attempts", b.versionKey, watchAttempts)
}

// index queues on p the recording of c's keys in the dataset's index set, and the reading of
// the set's size after it.
func (b *Batch) index(ctx context.Context, p redis.Pipeliner, c *chunk) *redis.IntCmd {
	members := make([]any, len(c.keys))
	for i, k := range c.keys {
		members[i] = k
	}
	p.SAdd(ctx, b.indexKey, members...)
	p.PExpire(ctx, b.indexKey, b.ttl+time.Hour)
	return p.SCard(ctx, b.indexKey)
}

// announce publishes the invalidation of keys through p (a pipeline, or the client itself) on
// the Writer's channel, in messages of at most maxAnnounced keys.
func (w *Writer) announce(ctx context.Context, p redis.Cmdable, keys []string) *redis.IntCmd {
	var cmd *redis.IntCmd
	for i := 0; i < len(keys); i += maxAnnounced {
		cmd = p.Publish(ctx, w.channel, cache.InvalidationPayload(keys[i:min(i+maxAnnounced, len(keys))]...))
		if cmd.Err() != nil {
			return cmd
		}
	}
	if cmd == nil {
		cmd = redis.NewIntCmd(ctx)
	}
	return cmd
}

// maxAnnounced bounds the keys of one invalidation message (about 50 KiB of keys).
const maxAnnounced = 1024

func (b *Batch) loadScripts(ctx context.Context) error {
	load := func(ctx context.Context, c redis.Scripter) error {
		if err := keyCASScript.Load(ctx, c).Err(); err != nil {
			return err
		}
		return datasetCASScript.Load(ctx, c).Err()
	}
	if cc, ok := b.w.rdb.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return load(ctx, c) })
	}
	return load(ctx, b.w.rdb)
}

func isNoScript(err error) bool {
	var rerr redis.Error
	return errors.As(err, &rerr) && strings.HasPrefix(rerr.Error(), "NOSCRIPT")
}

// DatasetVersionKey names the key holding the data version of tenant t's dataset, for the
// stale-overwrite guard where one version guards a whole dataset (see [Writer]).
func DatasetVersionKey(t cache.Tenant, dataset string) string {
	return "cachewarm:ver:{" + t.String() + "}:" + dataset
}

// IndexKey names the Redis set that records every key written for tenant t's dataset, so
// invalidation deletes exactly those keys, in time proportional to their number. The tenant is
// the set's hash tag, so on Redis Cluster all of a tenant's index sets share a slot.
func IndexKey(t cache.Tenant, dataset string) string {
	return "cachewarm:index:{" + t.String() + "}:" + dataset
}

// Invalidate deletes every key recorded for tenant t's datasets (see [IndexKey]) and the
// index sets themselves, and returns how many data keys it deleted. Version keys stay (they
// expire with their data), so a warm of older data still in flight cannot write behind it. It
// costs time in proportion to the tenant's keys, never the keyspace: no KEYS, no SCAN of the
// database, no FLUSHDB. Other tenants' keys are never touched: the index sets name keys
// exactly. The deleted keys are announced to the L1 tiers, one message per page of the index.
func (w *Writer) Invalidate(ctx context.Context, t cache.Tenant, datasets []string) (int, error) {
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
				}
				if w.single != nil {
					w.announce(ctx, pipe, members)
				}
				if _, err := pipe.Exec(ctx); err != nil {
					return deleted, fmt.Errorf("invalidate %s/%s: %w", t, d, err)
				}
				if w.single == nil {
					if err := w.announce(ctx, w.rdb, members).Err(); err != nil {
						return deleted, fmt.Errorf("invalidate %s/%s: announce: %w", t, d, err)
					}
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

// VersionKey returns the companion key that holds the data version of key for the
// stale-overwrite guard where each key has its own (a cluster with plain keys, see [Writer]).
// It always hashes to the same Redis Cluster slot as key: a plain key is wrapped whole in a
// hash tag ({key}:ver); a key that already carries a hash tag keeps it (cachewarm:ver:key).
func VersionKey(key string) string { return hashtag.Companion(key, "ver") }

// Encode appends to dst the stored form of raw (a compact JSON text as JSON.stringify writes
// it) in format f, as package cache stores it: raw itself for cache.FormatJSON, its keyv
// envelope expiring at expires for cache.FormatKeyv.
func Encode(f cache.Format, dst, raw []byte, expires time.Time) ([]byte, error) {
	if f != cache.FormatKeyv {
		return append(dst, raw...), nil
	}
	return keyv.Encode(dst, raw, expires)
}

// Decode returns the JSON text of the value inside stored, a value in format f, undoing
// Encode. An expired keyv envelope gives an error wrapping keyv.ErrExpired.
func Decode(f cache.Format, stored []byte) ([]byte, error) {
	if f != cache.FormatKeyv {
		return stored, nil
	}
	return keyv.Decode(stored)
}
