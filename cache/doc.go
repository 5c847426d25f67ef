// Package cache is the Go side of the cachewarm cache contract: it reads and writes the same
// Redis keys and values as the NestJS applications of the ERP, so Go services, the NestJS apps
// and the cachewarm worker share one cache.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
//	c := cache.New(rdb)
//	accounts, err := cache.Wrap(ctx, c, cache.Keys{}.ChartOfAccounts(tenant), cache.TTLStatic,
//		func(ctx context.Context) ([]Account, error) { return loadAccounts(ctx, tenant) })
//
// # Keys
//
// Keys follow the format the README documents: {module}:{entity}:{tenantId}:{name}:{value}... The methods of [Keys]
// build each of them from a [Tenant], which can only be obtained by validating an id with
// [ParseTenant] (1-64 characters of [A-Za-z0-9_-]). Other string segments go through
// [EscapeSegment]: real ids, currency codes and statuses pass unchanged, anything else is
// percent-encoded, so no input can add a ':' separator, a glob character or a Cluster hash tag.
// [Keys.Join] builds keys of the same shape for datasets of your own.
//
// # Values
//
// [FormatJSON] (the default) stores the value's JSON text exactly as JSON.stringify writes it,
// which cache-manager 5 with cache-manager-redis-yet reads; [FormatKeyv] stores the envelope
// {"value":...,"expires":...} of cache-manager 6/7 with @keyv/redis, byte for byte as
// @keyv/serialize writes it. Choose with [WithFormat] and [ParseFormat]
// (CACHE_VALUE_FORMAT). Go values are encoded without HTML escaping, with U+2028/U+2029 raw,
// and a nil slice as [] (lists are never null); a value whose JSON is null is not
// cached, as cache-manager refuses it. Note that time.Time encodes with nanoseconds and an
// offset, unlike a JavaScript Date: for values NestJS reads, use strings in the form of
// docs/datasets.md, "Value types".
// The test project in test/nestjs checks all this against the real Node clients.
//
// # Stampede protection
//
// [Wrap] runs the loader once per key however many callers miss it at once: singleflight
// merges the callers of one process, and a short Redis lock on a separate key ({key}:lock, never
// the data key, which NestJS would try to parse) elects one process; the others poll for its
// value (2 ms doubling to 50 ms) until it appears, the lock is freed without a value (they then
// compete again), or the lock wait of [WithLock] passes (they then load themselves). Storing
// the value and releasing the lock is one Lua call. [WithEarlyRefresh] adds XFetch: hits close
// to expiry reload early with a probability that grows as expiry nears, so a hot key is
// refreshed before it lapses instead of stampeding when it does.
//
// # Degraded operation
//
// Every Redis round trip is bounded by [WithTimeout]. When Redis is down or slow, [Wrap] counts
// an error, skips the lock and the write, and returns the loader's value: it never fails
// because the cache is away. Build the client with ContextTimeoutEnabled so the bound is a
// context deadline; otherwise the Cache stops waiting on its own, at the cost of one goroutine
// hand-off per round trip. [Get], [Set] and [Cache.Delete] have no loader to fall back on and
// return the error.
//
// # Monitoring
//
// [Cache.Stats] returns hits, misses, sets, errors, the hit rate, the mean hit and miss
// durations and a [Health] class (unhealthy below 50% hits or above 10% errors, degraded below
// 70% or above 5%). The subpackage cacheprom exports them to a Prometheus registry of the
// application's choice (this package does not depend on Prometheus), and [Cache.LogStats] logs
// the statistics line (docs/operations.md) periodically:
//
//	Cache Stats - Hit Rate: 85.32%, Hits: 12453, Misses: 2134, Sets: 856, Errors: 3, Health: healthy
//
// # Two tiers
//
// [WithL1] adds an in-process tier of decoded values in front of Redis for the hottest
// reference data (a hit then costs a map lookup instead of a round trip and a JSON decode).
// It is kept coherent across processes by invalidation messages on a Redis pub/sub channel
// ([DefaultInvalidationChannel]), published by every write through a Cache with L1 on and by
// the cachewarm worker after every batch of keys it writes, prunes or invalidates, so a
// committed change reaches an application's L1 tier as soon as the worker has re-warmed it.
// Other Go writers can publish [InvalidationPayload] themselves. Writers that publish nothing
// (the NestJS apps, a Cache with L1 off) are seen when the entry's TTL ([L1Options].TTL)
// lapses. Pub/sub channels are not per database: processes on different Redis DBs of one
// server that share the channel only cost each other extra reads. On a Redis Cluster the
// messages are plain PUBLISH, which every node relays. The tier is off by default; values it
// returns are shared, so callers must not modify them.
//
// # Concurrency
//
// A [Cache] is safe for concurrent use by any number of goroutines. It does not own the Redis
// client. Close it when L1 is on.
package cache
