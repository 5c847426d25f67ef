package jobcontract_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cachewarm/cachewarm/internal/jobcontract"
)

func TestFunctionsAreRenderedFromTheContract(t *testing.T) {
	stmts, err := jobcontract.Functions()
	require.NoError(t, err)
	names := map[string]bool{}
	for _, s := range stmts {
		m := regexp.MustCompile(`(?m)^CREATE OR REPLACE FUNCTION cachewarm\.(\w+)\(`).FindAllStringSubmatch(s, -1)
		require.Len(t, m, 1, "one function per statement:\n%s", s)
		require.NotContains(t, s, "{{", "a template action left unrendered")
		names[m[0][1]] = true
	}
	for _, fn := range []string{"valid_tenant_id", "check_tenant_id", "enqueue_dataset_warm", "enqueue_warm", "enqueue_warm_all", "mark_changed", "collect_changes"} {
		require.True(t, names[fn], "renders %s", fn)
	}
	all := strings.Join(stmts, "\n")
	for _, want := range []string{"'" + jobcontract.KindWarmPhase + "'", "'" + jobcontract.KindWarmDatasets + "'",
		"'" + jobcontract.QueueWarm + "'", "'" + jobcontract.QueueChange + "'", "ARRAY['critical', 'high', 'medium']",
		"ARRAY[1, 2, 3]", "'" + jobcontract.TenantPattern + "'"} {
		require.Contains(t, all, want)
	}
	require.NotContains(t, all, "A-Za-z0-9_-]{1,64}$', false) AS valid", "the rule has one home, valid_tenant_id")
}
