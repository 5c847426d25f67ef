package cache

import "strings"

// Keys builds cache keys in the SPEC format {module}:{entity}:{tenantId}:{name}:{value}...
//
// The zero Keys builds the plain SPEC keys that existing NestJS readers use. With HashTag set,
// the tenant id is wrapped in a Redis Cluster hash tag ({tenantId}), so all of a tenant's keys
// share one slot; use it only where every reader builds keys the same way.
type Keys struct {
	// HashTag wraps the tenant id in {} so a tenant's keys share a Redis Cluster slot.
	HashTag bool
}

// Join returns prefix:tenant[:suffix], where prefix is "{module}:{entity}" and suffix the
// remaining name:value segments (empty for none).
func (k Keys) Join(prefix string, t Tenant, suffix string) string {
	var b strings.Builder
	b.Grow(len(prefix) + len(t.id) + len(suffix) + 4)
	b.WriteString(prefix)
	b.WriteByte(':')
	if k.HashTag {
		b.WriteByte('{')
		b.WriteString(t.id)
		b.WriteByte('}')
	} else {
		b.WriteString(t.id)
	}
	if suffix != "" {
		b.WriteByte(':')
		b.WriteString(suffix)
	}
	return b.String()
}

// VersionKey returns the companion key that holds the data version of key for the
// stale-overwrite guard. It always hashes to the same Redis Cluster slot as key: a plain key is
// wrapped whole in a hash tag ({key}:ver); a key that already carries a hash tag keeps it.
func VersionKey(key string) string {
	if hasHashTag(key) {
		return "cachewarm:ver:" + key
	}
	return "{" + key + "}:ver"
}

// hasHashTag reports whether key contains a non-empty {...} section, which Redis Cluster hashes
// instead of the whole key.
func hasHashTag(key string) bool {
	open := strings.IndexByte(key, '{')
	if open < 0 {
		return false
	}
	end := strings.IndexByte(key[open+1:], '}')
	return end > 0
}
