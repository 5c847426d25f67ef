package faults_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/internal/fixture"
	"github.com/stretchr/testify/require"
)

// TestChangesSurviveKilledWorkers: the ERP writes while a full warm runs, while its only
// worker is SIGKILLed, and while no worker runs at all; once a worker is back, every change
// is in Redis. Nothing in the writers' transactions depends on a worker.
func TestChangesSurviveKilledWorkers(t *testing.T) {
	t.Parallel()
	const tenants = 4
	env := fixture.New(t, tenants)
	ctx := context.Background()
	wenv := workerEnv(env, map[string]string{
		"CACHEWARM_JOB_TIMEOUT":  "4s",
		"CACHEWARM_RESCUE_AFTER": "5s",
	})
	w1 := startWorker(t, "worker-1", wenv)
	run(t, wenv, "warm", "--all") // changes arrive during a full warm

	write := func(i int) {
		tn := fmt.Sprintf("t%03d", 1+i%tenants)
		_, err := env.Pool.Exec(ctx, `UPDATE vendors SET name = $1 WHERE tenant_id = $2 AND id = $3`,
			fmt.Sprintf("vendor %d", i), tn, 1+i%7)
		require.NoError(t, err)
		_, err = env.Pool.Exec(ctx, `UPDATE chart_of_accounts SET name = $1 WHERE tenant_id = $2 AND id = $3`,
			fmt.Sprintf("account %d", i), tn, 1+i%5)
		require.NoError(t, err)
	}
	for i := range 100 {
		write(i)
	}
	w1.kill()
	for i := 100; i < 200; i++ { // no worker at all
		write(i)
	}
	startWorker(t, "worker-2", wenv)
	for i := 200; i < 300; i++ {
		write(i)
	}

	waitChangesDone(t, env.Pool, 90*time.Second)
	n := verifyDatasets(t, env.Pool, env.Redis, tenantIDs(1, tenants), []string{"vendors", "chart_of_accounts"})
	t.Logf("%d keys of %d tenants match the database", n, tenants)
}
