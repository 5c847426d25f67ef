package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cachewarm/cachewarm/workflows"
	"github.com/schollz/progressbar/v3"
)

// progress shows how far a set of workflows has come: a progress bar on a terminal, a plain
// line every two seconds (and at the end) otherwise.
type progress struct {
	w        io.Writer
	bar      *progressbar.ProgressBar
	last     time.Time
	lastLine string
}

func newProgress(w io.Writer, terminal bool, total int) *progress {
	p := &progress{w: w}
	if terminal {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("warming"),
			progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
	return p
}

func (p *progress) update(pr workflows.Progress) {
	line := describe(pr)
	if p.bar != nil {
		p.bar.Describe(line)
		_ = p.bar.Set(pr.Finished)
		return
	}
	if line != p.lastLine && time.Since(p.last) >= 2*time.Second {
		fmt.Fprintln(p.w, line)
		p.last, p.lastLine = time.Now(), line
	}
}

func (p *progress) done() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

func describe(pr workflows.Progress) string {
	var b strings.Builder
	fmt.Fprintf(&b, "workflows %d/%d done", pr.Finished, pr.Total)
	for _, ph := range pr.Phases {
		fmt.Fprintf(&b, " | %s %d/%d", ph.Phase, ph.Done, ph.Of)
	}
	fmt.Fprintf(&b, " | %d keys", pr.Keys)
	return b.String()
}

// countProgress shows a count going up to a total.
type countProgress struct {
	w     io.Writer
	bar   *progressbar.ProgressBar
	label string
	total int
	last  time.Time
}

func newCountProgress(w io.Writer, terminal bool, total int, label string) *countProgress {
	p := &countProgress{w: w, label: label, total: total}
	if terminal {
		p.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(label),
			progressbar.OptionShowCount(), progressbar.OptionSetWidth(30), progressbar.OptionClearOnFinish())
	}
	return p
}

func (p *countProgress) set(n int) {
	if p.bar != nil {
		_ = p.bar.Set(n)
		if n >= p.total {
			_ = p.bar.Finish()
		}
		return
	}
	if n >= p.total || time.Since(p.last) >= 2*time.Second {
		fmt.Fprintf(p.w, "%s: %d/%d\n", p.label, n, p.total)
		p.last = time.Now()
	}
}
