package worker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/cache"
	"github.com/cachewarm/cachewarm/internal/catalog"
	"github.com/cachewarm/cachewarm/internal/fixture"
	"github.com/cachewarm/cachewarm/workflows"
	"github.com/stretchr/testify/require"
)

// TestL1ReaderSeesUpdate is the L1 tier's promise end to end: a Go application reading
// finance:coa:{t} through cache.Wrap with L1 on (its TTL an hour, so only an invalidation can
// make it read Redis again) sees a committed UPDATE of an account's name once the worker's change
// capture has re-warmed the key, because the worker announces its writes on the invalidation
// channel. The deadline is generous: the bench measures the latency (make bench).
func TestL1ReaderSeesUpdate(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, 1)
	w := env.StartWorker(t, env.Config(t, nil), nil)
	ctx := context.Background()
	_, err := w.Workflows().Start(ctx, w.Client(), workflows.Request{Tenants: []string{"t001"}, Phases: []catalog.Phase{catalog.PhaseCritical}, Trigger: "test"})
	require.NoError(t, err)
	env.WaitWorkflows(t, time.Minute)

	app := cache.New(env.Redis, cache.WithL1(cache.L1Options{TTL: time.Hour}))
	t.Cleanup(func() { _ = app.Close() })
	key := cache.Keys{}.ChartOfAccounts(cache.MustTenant("t001"))
	type account struct {
		ID   any    `json:"id"` // a bigint: a string, as node-postgres reads it
		Name string `json:"name"`
	}
	nameOf1 := func() string {
		t.Helper()
		accounts, err := cache.Wrap(ctx, app, key, cache.TTLStatic, func(context.Context) ([]account, error) {
			return nil, fmt.Errorf("%s is not warm", key)
		})
		require.NoError(t, err)
		for _, a := range accounts {
			if fmt.Sprint(a.ID) == "1" {
				return a.Name
			}
		}
		t.Fatalf("no account 1 in %s", key)
		return ""
	}
	before := nameOf1()
	hits := app.Stats().L1Hits
	require.Equal(t, before, nameOf1())
	require.Greater(t, app.Stats().L1Hits, hits, "the second read is served from L1")

	name := fmt.Sprintf("renamed-%d", time.Now().UnixNano())
	_, err = env.Pool.Exec(ctx, `UPDATE chart_of_accounts SET name = $1 WHERE tenant_id = 't001' AND id = 1`, name)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return nameOf1() == name }, 10*time.Second, time.Millisecond,
		"the L1 reader sees the committed update")
}
