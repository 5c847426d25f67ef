// Package budget keeps cachewarm's writes within a memory budget (CACHEWARM_MEMORY_BUDGET,
// docs/memory.md): a Gate that the phase jobs ask before they write a phase, the record of
// each warm's evictions and skipped phases (Warms), and the report that status, the HTTP API,
// /health and /metrics show (Read, HealthReason).
package budget

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// DefaultLimit is CACHEWARM_MEMORY_BUDGET's default: 80% of maxmemory.
const DefaultLimit = "80%"

// Limit is a memory budget: a number of bytes, or a percentage of Redis's maxmemory.
type Limit struct {
	// Bytes, if positive, is the budget in bytes.
	Bytes int64
	// Percent, when Bytes is 0, is the budget as a percentage of maxmemory.
	Percent float64
}

// String is the budget as it was given (in bytes or a percentage).
func (l Limit) String() string {
	if l.Bytes > 0 {
		return strconv.FormatInt(l.Bytes, 10)
	}
	return strconv.FormatFloat(l.Percent, 'f', -1, 64) + "%"
}

// Of returns the budget in bytes for a Redis whose maxmemory is maxmemory, or 0 (no limit)
// when maxmemory is 0: a Redis without a limit grows until the machine runs out, and there is
// nothing to keep within. A budget in bytes above maxmemory is capped at it.
func (l Limit) Of(maxmemory int64) int64 {
	if maxmemory <= 0 {
		return 0
	}
	if l.Bytes > 0 {
		return min(l.Bytes, maxmemory)
	}
	return int64(math.Floor(float64(maxmemory) * l.Percent / 100))
}

// units are the size suffixes ParseLimit accepts, lower case. Like redis.conf's, they are
// binary: 1mb = 1MiB = 1048576 bytes.
var units = []struct {
	suffix string
	mult   int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"tb", 1 << 40},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"b", 1},
}

// ParseLimit reads CACHEWARM_MEMORY_BUDGET: bytes ("536870912", "512mb", "512MiB", "1gb";
// units are binary and case-insensitive) or a percentage of maxmemory ("80%", more than 0 and
// at most 100). Empty is DefaultLimit.
func ParseLimit(s string) (Limit, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		s = DefaultLimit
	}
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || f <= 0 || f > 100 || math.IsNaN(f) {
			return Limit{}, fmt.Errorf("memory budget %q: want a percentage of maxmemory above 0 and at most 100, such as 80%%", s)
		}
		return Limit{Percent: f}, nil
	}
	mult := int64(1)
	num := s
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/mult {
		return Limit{}, fmt.Errorf("memory budget %q: want bytes (536870912, 512mb, 512MiB, 1gb) or a percentage of maxmemory (80%%)", s)
	}
	return Limit{Bytes: n * mult}, nil
}
