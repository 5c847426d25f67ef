package coldstart

import (
	"fmt"
	"strings"
)

// slotCount is the number of Redis Cluster hash slots.
const slotCount = 16384

// keySlot is the Redis Cluster hash slot of key: CRC16 (XMODEM) of its hash tag, or of the
// whole key when it has none, modulo 16384.
func keySlot(key string) int {
	if open := strings.IndexByte(key, '{'); open >= 0 {
		if end := strings.IndexByte(key[open+1:], '}'); end > 0 {
			key = key[open+1 : open+1+end]
		}
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
	return int(crc) % slotCount
}

// sentinelFor returns a sentinel key whose slot lies in [start, end].
func sentinelFor(start, end int) string {
	for i := 0; ; i++ {
		k := fmt.Sprintf("%s:{%d}", SentinelKey, i)
		if s := keySlot(k); s >= start && s <= end {
			return k
		}
	}
}
