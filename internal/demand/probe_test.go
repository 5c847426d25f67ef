package demand

import (
	"testing"

	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/stretchr/testify/require"
)

// TestProbeDatasets: of the demo's critical datasets, the two lists with one key per tenant
// (finance:coa:<t>, crm:stages:<t>) are probed; not financial_periods (a list whose key goes on
// after the tenant), current_period (an object, absent without an open period) or the datasets
// with column placeholders.
func TestProbeDatasets(t *testing.T) {
	t.Parallel()
	cat, err := catalog.Default()
	require.NoError(t, err)
	var names []string
	for _, d := range probeDatasets(cat) {
		names = append(names, d.Name)
	}
	require.Equal(t, []string{"chart_of_accounts", "pipeline_stages"}, names)
}
