package coldstart

import (
	"fmt"

	"github.com/cachewarm/cachewarm/internal/hashtag"
)

// sentinelFor returns a sentinel key whose slot lies in [start, end].
func sentinelFor(start, end int) string {
	for i := 0; ; i++ {
		k := fmt.Sprintf("%s:{%d}", SentinelKey, i)
		if s := hashtag.Slot(k); s >= start && s <= end {
			return k
		}
	}
}
