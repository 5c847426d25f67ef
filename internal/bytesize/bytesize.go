// Package bytesize formats byte counts for people: the CLI's summaries, the demo and the
// memory report.
package bytesize

import "fmt"

// String formats n bytes with one decimal in the largest binary unit it reaches (B, KiB, MiB,
// GiB), as in "34.4 MiB".
func String(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
