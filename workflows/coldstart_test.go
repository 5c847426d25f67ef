package workflows

import (
	"testing"

	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/stretchr/testify/require"
)

// A tenant busy with a workflow when Redis emptied gets re-warmed what that workflow will not
// write again: the phases it finished, the one it may be running, and those it lacks.
func TestRewarmPhases(t *testing.T) {
	t.Parallel()
	all := []catalog.Phase{catalog.PhaseCritical, catalog.PhaseHigh, catalog.PhaseMedium}
	full := []string{"critical", "high", "medium"}
	tests := []struct {
		name   string
		state  string
		phases []string
		done   []string
		want   []catalog.Phase
	}{
		{"queued full workflow writes everything itself", StateQueued, full, nil, nil},
		{"running its first phase", StateRunning, full, nil, []catalog.Phase{catalog.PhaseCritical}},
		{"critical done, high running", StateRunning, full, []string{"critical"}, []catalog.Phase{catalog.PhaseCritical, catalog.PhaseHigh}},
		{"last phase running", StateRunning, full, []string{"critical", "high"}, all},
		{"queued refresh of high only", StateQueued, []string{"high"}, nil, []catalog.Phase{catalog.PhaseCritical, catalog.PhaseMedium}},
		{"running refresh of medium only", StateRunning, []string{"medium"}, nil, all},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, rewarmPhases(all, tt.state, tt.phases, tt.done))
		})
	}
}
