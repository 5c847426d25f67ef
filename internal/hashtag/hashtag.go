// Package hashtag holds the Redis Cluster hash-tag rule that cache keys and their companion
// keys (load locks, version keys) follow, so that a companion always lives in its key's slot
// and one script may touch both, and the slot a key hashes to.
package hashtag

import "strings"

// SlotCount is the number of Redis Cluster hash slots.
const SlotCount = 16384

// Has reports whether key contains a non-empty {...} section, which Redis Cluster hashes
// instead of the whole key.
func Has(key string) bool {
	_, ok := tag(key)
	return ok
}

// tag returns the text between key's first '{' and the next '}', if it is not empty.
func tag(key string) (string, bool) {
	open := strings.IndexByte(key, '{')
	if open < 0 {
		return "", false
	}
	end := strings.IndexByte(key[open+1:], '}')
	if end <= 0 {
		return "", false
	}
	return key[open+1 : open+1+end], true
}

// Slot is the Redis Cluster hash slot of key, as CLUSTER KEYSLOT gives it: CRC16 (XMODEM)
// of its hash tag, or of the whole key when it has none, modulo SlotCount.
func Slot(key string) int {
	if t, ok := tag(key); ok {
		key = t
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc ^= uint16(key[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % SlotCount
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
