package rediswrite

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/redis/go-redis/v9"
)

// pruneDatasetScript deletes KEYS[3...], keys a warm of the dataset at version ARGV[1] did not
// write (their rows are gone), and removes them from the index set KEYS[2], unless the
// dataset's version in KEYS[1] is newer (a newer warm owns the keys now). It records ARGV[1]
// there (TTL ARGV[2] ms), so an older warm still in flight cannot bring the keys back. It
// returns the number of keys deleted, or -1 if it left them to a newer warm.
var pruneDatasetScript = redis.NewScript(`
local ver = tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]))
if cur ~= nil and cur > ver then
  return -1
end
if cur == nil or cur < ver then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
local n = 0
for i = 3, #KEYS do
  n = n + redis.call('DEL', KEYS[i])
  redis.call('SREM', KEYS[2], KEYS[i])
end
return n
`)

// pruneKeyScript is pruneDatasetScript for one data key KEYS[1] guarded by its own version key
// KEYS[2] (a cluster with plain keys): it deletes the key unless its version is newer, and
// leaves ARGV[1] in the version key as a tombstone. It returns 1 if it deleted the key.
var pruneKeyScript = redis.NewScript(`
local cur = tonumber(redis.call('GET', KEYS[2]))
if cur ~= nil and cur > tonumber(ARGV[1]) then
  return 0
end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return redis.call('DEL', KEYS[1])
`)

// Prune deletes the keys recorded for tenant t's dataset (see [IndexKey]) that a complete warm
// of the dataset at version did not write, as reported by written (every key the warm's
// batch added): their source rows were deleted, or no longer qualify (a period closed, a
// vendor beyond the first 500). Keys written by a newer warm are left alone, and version is
// recorded (with ttl) so an older warm still in flight cannot bring them back. It returns how
// many keys it deleted. Call it only after a warm that read the whole dataset and wrote all
// of it, so that the index holds every key of written.
//
// The index then holds nothing stale exactly when it holds no more members than written has,
// which one SCARD tells; only otherwise does Prune read the index back. In a steady state
// (rows updated, none deleted) a warm pays one round trip for its prune, and none through
// [Batch.Prune], which has the SCARD from its last write.
//
// On a cluster with plain keys, pruned keys stay members of the index set (the set lives in
// another slot, and removing them apart from the delete could race with a newer warm adding
// them back): invalidation deletes them again, harmlessly, and the set expires with the
// dataset.
func (w *Writer) Prune(ctx context.Context, t cache.Tenant, dataset string, version int64, ttl time.Duration, written map[string]bool) (int, error) {
	return w.prune(ctx, t, dataset, version, ttl, written, -1)
}

// Prune is [Writer.Prune] for the keys this batch wrote (call it after Flush). It skips the
// SCARD when the batch's last write already read the index's size.
func (b *Batch) Prune(ctx context.Context, written map[string]bool) (int, error) {
	return b.w.prune(ctx, b.tenant, b.dataset, b.version, b.ttl, written, b.indexSize)
}

// prune is Prune given the index's size, or -1 to read it.
func (w *Writer) prune(ctx context.Context, t cache.Tenant, dataset string, version int64, ttl time.Duration, written map[string]bool, members int64) (deleted int, err error) {
	idx := IndexKey(t, dataset)
	if members < 0 {
		if members, err = w.rdb.SCard(ctx, idx).Result(); err != nil {
			return 0, fmt.Errorf("prune %s/%s: %w", t, dataset, err)
		}
	}
	if members <= int64(len(written)) {
		return 0, nil
	}
	var stale []string
	var cursor uint64
	for {
		members, next, err := w.rdb.SScan(ctx, idx, cursor, "", 1000).Result()
		if err != nil {
			return 0, fmt.Errorf("prune %s/%s: %w", t, dataset, err)
		}
		for _, k := range members {
			if !written[k] {
				stale = append(stale, k)
			}
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	if len(stale) == 0 {
		return 0, nil
	}
	ver, ttlMS := strconv.FormatInt(version, 10), strconv.FormatInt(ttl.Milliseconds(), 10)
	// The L1 tiers hear of the stale keys once Redis has dropped them, whatever the outcome:
	// announcing a key that was left alone costs a reader one Redis read.
	defer func() {
		if aerr := w.announce(context.WithoutCancel(ctx), w.rdb, stale).Err(); aerr != nil && err == nil {
			err = fmt.Errorf("prune %s/%s: announce: %w", t, dataset, aerr)
		}
	}()
	if w.perKey {
		for _, k := range stale {
			n, err := pruneKeyScript.Run(ctx, w.rdb, []string{k, VersionKey(k)}, ver, ttlMS).Int()
			if err != nil {
				return deleted, fmt.Errorf("prune %s/%s: %w", t, dataset, err)
			}
			deleted += n
		}
		return deleted, nil
	}
	for i := 0; i < len(stale); i += w.perCall {
		keys := append([]string{DatasetVersionKey(t, dataset), idx}, stale[i:min(i+w.perCall, len(stale))]...)
		n, err := pruneDatasetScript.Run(ctx, w.rdb, keys, ver, ttlMS).Int()
		if err != nil {
			return deleted, fmt.Errorf("prune %s/%s: %w", t, dataset, err)
		}
		if n < 0 {
			break // a newer warm wrote the dataset: what is stale is for it to say
		}
		deleted += n
	}
	return deleted, nil
}
