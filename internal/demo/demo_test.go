package demo_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/cachewarm/cachewarm/internal/config"
	"github.com/cachewarm/cachewarm/internal/demo"
	"github.com/cachewarm/cachewarm/internal/testenv"
	"github.com/cachewarm/cachewarm/workflows"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestDemoTellsTheWholeStory(t *testing.T) {
	t.Parallel()
	server := testenv.DatabaseURL(t)
	redisDB, redisURL := testenv.NewRedisDB(t)
	env := map[string]string{"DATABASE_URL": server, "REDIS_URL": redisURL}
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	require.NoError(t, err)

	name := testenv.DatabaseName(t)
	var out bytes.Buffer
	err = demo.Run(context.Background(), demo.Options{
		Config: cfg, Tenants: 2, Seed: 3, Database: name, RedisDB: redisDB, Out: &out,
		Logger: slog.New(slog.DiscardHandler),
		Wait: func(ctx context.Context, svc *workflows.Service, ids []int64) error {
			for {
				p, err := svc.Progress(ctx, ids)
				if err != nil {
					return err
				}
				if p.Finished == len(ids) {
					return nil
				}
				time.Sleep(20 * time.Millisecond)
			}
		},
	})
	require.NoError(t, err, out.String())
	story := out.String()
	for _, want := range []string{"seed the demo ERP", "change triggers on", "keys verified", "Summary: 2 tenants warmed", "critical", "high", "medium", "Cache miss vs cache hit", "chart_of_accounts", "change -> fresh in Redis"} {
		require.Contains(t, story, want)
	}
}
