package worker_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
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
//
// The channel is the server's, not the Redis DB's: other tests' workers announce their keys on
// it too. The tenant is a random copy of t001, so that no other test names this test's key.
func TestL1ReaderSeesUpdate(t *testing.T) {
	t.Parallel()
	env := fixture.New(t, 1)
	tenant := "l1" + strings.ToLower(rand.Text()[:10])
	env.CloneTenant(t, "t001", tenant)
	w := env.StartWorker(t, env.Config(t, nil), nil)
	ctx := context.Background()
	_, err := w.Workflows().Start(ctx, w.Client(), workflows.Request{Tenants: []string{tenant}, Phases: []catalog.Phase{catalog.PhaseCritical}, Trigger: "test"})
	require.NoError(t, err)
	env.WaitWorkflows(t, time.Minute)

	app := cache.New(env.Redis, cache.WithL1(cache.L1Options{TTL: time.Hour}))
	t.Cleanup(func() { _ = app.Close() })
	key := cache.Keys{}.ChartOfAccounts(cache.MustTenant(tenant))
	type account struct {
		ID   any    `json:"id"` // a bigint: a string, as node-postgres reads it
		Name string `json:"name"`
	}
	nameOf1 := func() (string, error) {
		accounts, err := cache.Wrap(ctx, app, key, cache.TTLStatic, func(context.Context) ([]account, error) {
			return nil, fmt.Errorf("%s is not warm", key)
		})
		if err != nil {
			return "", err
		}
		for _, a := range accounts {
			if fmt.Sprint(a.ID) == "1" {
				return a.Name, nil
			}
		}
		return "", fmt.Errorf("no account 1 in %s", key)
	}
	// The value is in L1 (a message of the warm, or of a change re-warm of the copy, may drop
	// it after a first read: read until a read is an L1 hit).
	require.Eventually(t, func() bool {
		hits := app.Stats().L1Hits
		_, err := nameOf1()
		return err == nil && app.Stats().L1Hits > hits
	}, 30*time.Second, 10*time.Millisecond, "a read is served from L1")

	name := fmt.Sprintf("renamed-%d", time.Now().UnixNano())
	_, err = env.Pool.Exec(ctx, `UPDATE chart_of_accounts SET name = $1 WHERE tenant_id = $2 AND id = 1`, name, tenant)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		got, err := nameOf1()
		return err == nil && got == name
	}, 10*time.Second, time.Millisecond, "the L1 reader sees the committed update")
}
