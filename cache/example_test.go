package cache_test

import (
	"cmp"
	"crypto/rand"
	"os"
	"strings"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/redis/go-redis/v9"
)

// The examples run against a real Redis: TEST_REDIS_URL, or the local one. Each works in a
// tenant of its own, so they run beside other tests and programs.

// Account is an entry of a chart of accounts, as the examples cache it.
type Account struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// exampleRedis returns a client on the examples' Redis; the caller closes it.
func exampleRedis() *redis.Client {
	opts, err := redis.ParseURL(cmp.Or(os.Getenv("TEST_REDIS_URL"), "redis://127.0.0.1:6379/0"))
	if err != nil {
		panic(err)
	}
	opts.ContextTimeoutEnabled = true // the Cache's timeouts become context deadlines
	return redis.NewClient(opts)
}

// exampleTenant returns a tenant id no one else uses.
func exampleTenant() cache.Tenant {
	return cache.MustTenant("example-" + strings.ToLower(rand.Text()[:12]))
}
