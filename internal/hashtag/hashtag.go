// Package hashtag holds the Redis Cluster hash-tag rule that cache keys and their companion
// keys (load locks, version keys) follow, so that a companion always lives in its key's slot
// and one script may touch both.
package hashtag

import "strings"

// Has reports whether key contains a non-empty {...} section, which Redis Cluster hashes
// instead of the whole key.
func Has(key string) bool {
	open := strings.IndexByte(key, '{')
	if open < 0 {
		return false
	}
	end := strings.IndexByte(key[open+1:], '}')
	return end > 0
}

// Companion returns the name of key's companion of the given kind ("lock", "ver"), which hashes
// to key's Redis Cluster slot: a plain key is wrapped whole in a hash tag ({key}:kind); a key
// that already carries a hash tag keeps it (cachewarm:kind:key).
func Companion(key, kind string) string {
	if Has(key) {
		return "cachewarm:" + kind + ":" + key
	}
	return "{" + key + "}:" + kind
}
